import { describe, expect, it } from 'vitest';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { FsStore } from './fs-store.ts';
import { EbsModel } from '../model.ts';
import { imagesOf } from '../images.ts';
import { BLOCK_SIZE } from '../store.ts';
import { markedBlock, tempDirEachTest } from '../testing/temp-store.ts';

const LONG = Boolean(process.env.BLOCKPORT_LONG);
let dir: string;
tempDirEachTest('fs-store-', (d) => (dir = d));
const block = markedBlock;
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

  it('keeps machine images across a reopen and a compaction; a deregistered one stays gone', async () => {
    let store = await FsStore.open(dir, { compactAfterLines: 3 });
    let m = await model(store);
    const snap = await completed(m, { 0: block(1) });
    const reg = (name: string) => imagesOf(m).register({ name, architecture: 'x86_64', bootMode: 'legacy-bios', rootDeviceName: '/dev/xvda', mappings: [{ deviceName: '/dev/xvda', snapshotId: snap }], tags: [{ key: 'team', value: 'a' }] });
    const kept = await reg('kept');
    const gone = await reg('gone');
    expect(await imagesOf(m).deregister(gone.id)).toBe(true);
    await store.flush();
    store.close();

    store = await FsStore.open(dir);
    m = await model(store);
    expect(await imagesOf(m).list()).toEqual([kept]);
    await expect(reg('kept')).rejects.toMatchObject({ code: 'InvalidAMIName.Duplicate' });
    store.close();

    // Opening compacted the journal: the image is read back from the rewritten one too.
    store = await FsStore.open(dir);
    expect(await imagesOf(await model(store)).list()).toEqual([kept]);
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

  it('writes small block lines (no snapshot record per block), even with large tags', async () => {
    const store = await FsStore.open(dir);
    const m = await model(store);
    const tags = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(255) }));
    const s = await m.startSnapshot({ volumeSize: 1, tags });
    for (let i = 0; i < 20; i++) {
      const b = block(i);
      await m.putSnapshotBlock({ snapshotId: s.SnapshotId, index: i, data: b, dataLength: BLOCK_SIZE, checksum: b64(b), checksumAlgorithm: 'SHA256' });
    }
    await store.flush();
    const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const blockLines = lines.filter((l) => l.includes('"t":"p"'));
    expect(blockLines.length).toBe(20);
    for (const l of blockLines) expect(l.length).toBeLessThan(512);
    store.close();
  });

  it('compacts the journal while open once it has grown past the live state, and reopens the same', async () => {
    const store = await FsStore.open(dir, { compactAfterLines: 10 });
    const m = await model(store);
    const s = await m.startSnapshot({ volumeSize: 1 });
    const b = block(7);
    // One index rewritten 60 times: 60 journal lines for one live block record.
    for (let i = 0; i < 60; i++) {
      await m.putSnapshotBlock({ snapshotId: s.SnapshotId, index: 3, data: b, dataLength: BLOCK_SIZE, checksum: b64(b), checksumAlgorithm: 'SHA256' });
    }
    await store.flush();
    expect(store.compactions).toBeGreaterThanOrEqual(1);
    expect((await readFile(join(dir, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean).length).toBeLessThan(30);
    store.close();
    const again = await FsStore.open(dir);
    expect(await again.getSnapshot(s.SnapshotId)).toMatchObject({ puts: 60, ownBlocks: 1 });
    expect((await again.getOwnBlock(s.SnapshotId, 3))?.puts).toBe(60);
    again.close();
  });

  it('reads a journal of the older format (a whole snapshot record on every block line)', async () => {
    const digest = b64(block(5));
    const rec = {
      id: 'snap-0123456789abcdef0', ownerId: '111122223333', volumeSize: 1, parentId: null, description: null, tags: [], encrypted: false,
      kmsKeyArn: null, sseType: 'none', timeoutMinutes: 60, startTime: 1, lastWriteTime: 2, clientToken: null, requestFingerprint: null,
      completion: { requestedAt: 3, dueAt: 3, verdict: 'completed', message: null }, failure: null, deleted: false, ownBlocks: 1, puts: 1,
    };
    const hex = Buffer.from(digest, 'base64').toString('hex');
    await mkdir(join(dir, 'blobs', hex.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, 'blobs', hex.slice(0, 2), hex), block(5));
    const lines = [{ t: 's', r: [{ ...rec, ownBlocks: 0, puts: 0 }] }, { t: 'b', b: { snapshotId: rec.id, index: 4, digest, puts: 1, writtenAt: 2 }, s: rec }];
    await writeFile(join(dir, 'journal.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const store = await FsStore.open(dir);
    expect(await store.getSnapshot(rec.id)).toMatchObject({ ownBlocks: 1, puts: 1 });
    expect(await store.readContent(digest)).toEqual(block(5));
    store.close();
  });

  it('reads a journal of many lines as a stream (lines across read-buffer boundaries), and ignores only a torn last line', async () => {
    const rec = (i: number) => ({
      id: `snap-${i.toString(16).padStart(17, '0')}`, ownerId: '111122223333', volumeSize: 1, parentId: null, description: 'd'.repeat(200), tags: [],
      encrypted: false, kmsKeyArn: null, sseType: 'none', timeoutMinutes: 60, startTime: i, lastWriteTime: null, clientToken: null,
      requestFingerprint: null, completion: null, failure: null, deleted: false, ownBlocks: 0, puts: 0,
    });
    const text = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ t: 's', r: [rec(i)] })).join('\n');
    await writeFile(join(dir, 'journal.jsonl'), `${text}\n{"t":"s","r":[{"id":"snap-`);
    const store = await FsStore.open(dir);
    expect((await store.listSnapshots()).length).toBe(3000);
    store.close();
  });

  // Half a GiB through a pipe costs seconds of CPU: under `npm run test:long`. In npm test, the journal of many lines
  // above is replayed through the same streamed reader.
  it.runIf(LONG)('replays a journal longer than the longest string V8 can hold: streamed, never read as one string', { timeout: 180_000 }, async () => {
    // 530 lines of about 1 MiB through a pipe: more than 0x1fffffe8 characters, which reading the journal whole
    // cannot turn into a string (ERR_STRING_TOO_LONG), and no disk space used.
    const path = join(dir, 'journal.jsonl');
    execFileSync('mkfifo', [path]);
    const rec = {
      id: 'snap-00000000000000abc', ownerId: '111122223333', volumeSize: 1, parentId: null, description: 'DESCRIPTION', tags: [],
      encrypted: false, kmsKeyArn: null, sseType: 'none', timeoutMinutes: 60, startTime: 1, lastWriteTime: null, clientToken: null,
      requestFingerprint: null, completion: null, failure: null, deleted: false, ownBlocks: 0, puts: 0,
    };
    // The writer makes each line (the 1 MiB description in place of DESCRIPTION) with its own put count.
    const [head, tail] = JSON.stringify({ t: 's', r: [rec] }).split('"puts":0');
    const script = `const fs=require('node:fs');const fd=fs.openSync(process.argv[1],'w');` +
      `const [h,t]=JSON.parse(process.argv[2]).map((x)=>x.replace('DESCRIPTION','d'.repeat(1<<20)));` +
      `for(let i=1;i<=530;i++)fs.writeSync(fd,h+'"puts":'+i+t+'\\n');fs.closeSync(fd);`;
    const writer = spawn(process.execPath, ['-e', script, path, JSON.stringify([head, tail])], { stdio: ['ignore', 'inherit', 'inherit'] });
    const wrote = new Promise<number | null>((r) => writer.once('exit', r));
    const store = await FsStore.open(dir);
    expect(await wrote).toBe(0);
    const last = await store.getSnapshot(rec.id);
    expect(last).toMatchObject({ puts: 530, ownBlocks: 0 });
    expect(last!.description).toHaveLength(1 << 20);
    // Compacted at open: the journal is a file of one line now.
    expect((await stat(path)).size).toBeLessThan(1.1 * (1 << 20));
    store.close();
  });

  it('refuses a second store on a directory in use, takes over a stale lock, and keeps the token key 0600', async () => {
    const store = await FsStore.open(dir);
    await expect(FsStore.open(dir)).rejects.toThrow(/in use by another emulator \(process \d+\); stop that one first, or start this one with another --data-dir/);
    await store.getSecret();
    expect((await stat(join(dir, 'secret'))).mode & 0o777).toBe(0o600);
    store.close();
    // A lock left by a process that is gone (here: a pid far beyond any live one) is stale.
    await writeFile(join(dir, 'lock'), '4194000\n');
    const again = await FsStore.open(dir);
    again.close();
  });
});
