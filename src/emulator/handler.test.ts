import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { HttpRequest } from '@smithy/protocol-http';
import { PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { collectRequestBody, createEmulatorClients, createEmulatorHandler } from './handler.ts';
import { EbsModel } from './model.ts';
import { MemoryStore } from './stores/memory-store.ts';
import type { EmuRequest } from './http.ts';

const bytes = Uint8Array.from([1, 2, 3, 4, 5]);

describe('emulator request handler', () => {
  it('collects every body form the SDK may send', async () => {
    const forms: unknown[] = [
      bytes,
      bytes.buffer.slice(0),
      new DataView(bytes.buffer.slice(0)),
      new Blob([bytes]),
      new ReadableStream({ start: (c) => (c.enqueue(bytes.subarray(0, 2)), c.enqueue(bytes.subarray(2)), c.close()) }),
      Readable.from([Buffer.from([1, 2]), Buffer.from([3, 4, 5])]),
    ];
    for (const f of forms) expect(Array.from(await collectRequestBody(f))).toEqual([1, 2, 3, 4, 5]);
    expect(new TextDecoder().decode(await collectRequestBody('héllo'))).toBe('héllo');
    expect((await collectRequestBody(undefined)).length).toBe(0);
    await expect(collectRequestBody(42)).rejects.toThrow(/Unsupported request body/);
  });

  it('passes method, path, lower-cased headers and flattened query to the target', async () => {
    let seen: EmuRequest | undefined;
    const h = createEmulatorHandler(async (r) => {
      seen = r;
      return { status: 201, headers: { 'x-amz-Checksum': 'abc' }, body: new Uint8Array([7]) };
    });
    const { response } = await h.handle(
      new HttpRequest({ method: 'PUT', path: '/snapshots/snap-1/blocks/2', headers: { 'X-Amz-Data-Length': '1' }, query: { a: 'x', b: ['1', '2'] }, body: new Blob([bytes]) }),
    );
    expect(seen).toMatchObject({ method: 'PUT', path: '/snapshots/snap-1/blocks/2', headers: { 'x-amz-data-length': '1' }, query: { a: 'x', b: '2' } });
    expect(Array.from(seen!.body)).toEqual([1, 2, 3, 4, 5]);
    expect(response.statusCode).toBe(201);
    expect(response.headers['x-amz-Checksum']).toBe('abc');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(Array.from((await reader.read()).value!)).toEqual([7]);
  });

  it('honours an abort signal before and during a request', async () => {
    let release!: () => void;
    const h = createEmulatorHandler(() => new Promise((r) => (release = () => r({ status: 200, headers: {}, body: new Uint8Array() }))));
    const pre = new AbortController();
    pre.abort();
    await expect(h.handle(new HttpRequest({ method: 'GET', path: '/' }), { abortSignal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const during = new AbortController();
    const p = h.handle(new HttpRequest({ method: 'GET', path: '/' }), { abortSignal: during.signal });
    await new Promise((r) => setTimeout(r, 5));
    during.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    release();
  });

  it('sends block bodies unsigned, as the app does, and still verifies their checksum', async () => {
    const { ebs } = createEmulatorClients(new EbsModel({ store: new MemoryStore() }));
    const payloadHashes: Record<string, string | undefined> = {};
    ebs.middlewareStack.add(
      (next, context) => async (args) => {
        payloadHashes[context.commandName!] = (args.request as HttpRequest).headers['x-amz-content-sha256'];
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'testPayloadHash' },
    );
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const block = new Uint8Array(524288).fill(9);
    const sum = Buffer.from(await crypto.subtle.digest('SHA-256', block)).toString('base64');
    const put = (Checksum: string) => ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 0, BlockData: block, DataLength: block.length, Checksum, ChecksumAlgorithm: 'SHA256' }));
    await expect(put(sum)).resolves.toMatchObject({ Checksum: sum });
    expect(payloadHashes['PutSnapshotBlockCommand']).toBe('UNSIGNED-PAYLOAD');
    expect(payloadHashes['StartSnapshotCommand']).toMatch(/^[0-9a-f]{64}$/);
    await expect(put(Buffer.alloc(32).toString('base64'))).rejects.toMatchObject({ name: 'InvalidSignatureException', message: expect.stringContaining('does not match the computed checksum') });
  });
});
