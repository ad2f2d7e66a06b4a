import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { HttpRequest } from '@smithy/protocol-http';
import { collectRequestBody, createEmulatorHandler } from './handler.ts';
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
});
