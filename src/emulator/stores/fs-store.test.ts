import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { FsStore } from './fs-store.ts';
import { EbsModel } from '../model.ts';
import { BLOCK_SIZE } from '../store.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function block(fill: number): Uint8Array {
  const b = new Uint8Array(BLOCK_SIZE);
  b.fill(fill, 0, 64);
  return b;
}
const b64 = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64');

async function blobFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(join(dir, 'blobs'))) for (const f of await readdir(join(dir, 'blobs', sub))) out.push(f);
  return out.sort();
}

async function model(store: FsStore, now = { t: Date.UTC(2026, 0, 1) }): Promise<EbsModel> {
  return new EbsModel({ store, clock: () => now.t, completionDelayMs: 0 });
}

async function completed(m: EbsModel, blocks: Record<number, Uint8Array>, parent?: string): Promise<string> {
  const s = await m.startSnapshot({ volumeSize: 1, parentSnapshotId: parent });
  for (const [i, b] of Object.entries(blocks)) {
    await m.putSnapshotBlock({ snapshotId: s.SnapshotId, index: Number(i), data: b, dataLength: BLOCK_SIZE, checksum: b64(b), checksumAlgorithm: 'SHA256' });
  }
  await m.completeSnapshot({ snapshotId: s.SnapshotId, changedBlocksCount: Object.keys(blocks).length });
  return s.SnapshotId;
}

describe('FsStore', () => {
  it('keeps snapshots, blocks and the token key across a reopen', async () => {
    let store = await FsStore.open(dir);
    let m = await model(store);
    const id = await completed(m, { 0: block(1), 7: block(2) });
    const before = await m.listSnapshotBlocks(id);
    await store.flush();
    store.close();

    store = await FsStore.open(dir);
    m = await model(store);
    const after = await m.listSnapshotBlocks(id);
    expect(after.Blocks.map((b) => b.BlockIndex)).toEqual([0, 7]);
    // A block token minted before the restart still reads: the MAC key is on disk too.
    const got = await m.getSnapshotBlock(id, 7, before.Blocks[1]!.BlockToken);
    expect(Buffer.from(got.data).equals(Buffer.from(block(2)))).toBe(true);
    expect((await m.describeSnapshot(id))?.state).toBe('completed');
    store.close();
  });

  it('stores identical contents once and frees files no block references', async () => {
    const store = await FsStore.open(dir);
    const m = await model(store);
    const a = await completed(m, { 0: block(1), 1: block(1) });
    const b = await completed(m, { 0: block(1), 2: block(3) });
    expect((await blobFiles()).length).toBe(2);
    expect(await store.stats()).toMatchObject({ blobs: 2, blockRecords: 4, bytes: 2 * BLOCK_SIZE });
    await m.deleteSnapshot(b);
    await store.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(await blobFiles()).toEqual([createHash('sha256').update(block(1)).digest('hex')]);
    await m.deleteSnapshot(a);
    await new Promise((r) => setTimeout(r, 20));
    expect(await blobFiles()).toEqual([]);
    store.close();
  });

  it('replaces overwritten contents and keeps a child inheriting from a deleted parent', async () => {
    const store = await FsStore.open(dir);
    const m = await model(store);
    const s = await m.startSnapshot({ volumeSize: 1 });
    for (const b of [block(4), block(5)]) {
      await m.putSnapshotBlock({ snapshotId: s.SnapshotId, index: 3, data: b, dataLength: BLOCK_SIZE, checksum: b64(b), checksumAlgorithm: 'SHA256' });
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(await blobFiles()).toEqual([createHash('sha256').update(block(5)).digest('hex')]);
    await m.completeSnapshot({ snapshotId: s.SnapshotId, changedBlocksCount: 1 });
    const child = await completed(m, { 9: block(6) }, s.SnapshotId);
    await m.deleteSnapshot(s.SnapshotId);
    store.close();
    const again = await FsStore.open(dir);
    const m2 = await model(again);
    const list = await m2.listSnapshotBlocks(child);
    expect(list.Blocks.map((b) => b.BlockIndex)).toEqual([3, 9]);
    const got = await m2.getSnapshotBlock(child, 3, list.Blocks[0]!.BlockToken);
    expect(Buffer.from(got.data).equals(Buffer.from(block(5)))).toBe(true);
    again.close();
  });

  it('tolerates a torn last journal line and refuses corruption before the end', async () => {
    let store = await FsStore.open(dir);
    const id = await completed(await model(store), { 0: block(1) });
    await store.flush();
    store.close();
    await new Promise((r) => setTimeout(r, 20));
    await appendFile(join(dir, 'journal.jsonl'), '{"t":"b","b":{"snapsh');
    store = await FsStore.open(dir);
    expect((await store.getSnapshot(id))?.ownBlocks).toBe(1);
    store.close();
    await new Promise((r) => setTimeout(r, 20));
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    await writeFile(join(dir, 'journal.jsonl'), `garbage\n${text}`);
    await expect(FsStore.open(dir)).rejects.toThrow(/corrupt journal line 1/);
  });

  it('commits concurrent puts durably and counts distinct indices', async () => {
    let store = await FsStore.open(dir);
    const m = await model(store);
    const s = await m.startSnapshot({ volumeSize: 1 });
    const puts = Array.from({ length: 40 }, (_, i) => {
      const b = block(i % 5);
      return m.putSnapshotBlock({ snapshotId: s.SnapshotId, index: i % 25, data: b, dataLength: BLOCK_SIZE, checksum: b64(b), checksumAlgorithm: 'SHA256' });
    });
    await Promise.all(puts);
    store.close();
    await new Promise((r) => setTimeout(r, 20));
    store = await FsStore.open(dir);
    const rec = await store.getSnapshot(s.SnapshotId);
    expect(rec).toMatchObject({ ownBlocks: 25, puts: 40 });
    expect((await blobFiles()).length).toBe(5);
    await store.clear();
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.listSnapshots()).toEqual([]);
    expect(await blobFiles()).toEqual([]);
    store.close();
  });
});
