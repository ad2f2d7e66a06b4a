// The order of the FsStore's writes and fsyncs, watched through node:fs/promises: an acknowledged put's blob, the
// directory entry of its blob (and of a subdirectory made for it) are durable before the journal line naming it.
import { describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { markedBlock, tempDirEachTest } from '../testing/temp-store.ts';

type Event = { op: 'mkdir' | 'rename' | 'sync' | 'datasync' | 'write'; path: string; text?: string };
const events = vi.hoisted(() => [] as Event[]);

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof fs.open = async (path, flags, mode) => {
    const fh = await fs.open(path, flags, mode);
    const p = String(path);
    const { sync, datasync, write } = fh;
    fh.sync = async () => {
      events.push({ op: 'sync', path: p });
      return sync.call(fh);
    };
    fh.datasync = async () => {
      events.push({ op: 'datasync', path: p });
      return datasync.call(fh);
    };
    fh.write = (async (data: unknown, ...rest: unknown[]) => {
      events.push({ op: 'write', path: p, text: typeof data === 'string' ? data : '' });
      return (write as (...a: unknown[]) => unknown).call(fh, data, ...rest);
    }) as typeof fh.write;
    return fh;
  };
  const mkdir = (async (path: string, opts?: { recursive?: boolean }) => {
    const made = await fs.mkdir(path, opts);
    if (made !== undefined) events.push({ op: 'mkdir', path: made });
    return made;
  }) as typeof fs.mkdir;
  const rename: typeof fs.rename = async (from, to) => {
    await fs.rename(from, to);
    events.push({ op: 'rename', path: String(to) });
  };
  return { ...fs, default: { ...fs, open, mkdir, rename }, open, mkdir, rename };
});

const { FsStore } = await import('./fs-store.ts');
const { EbsModel } = await import('../model.ts');
const { BLOCK_SIZE } = await import('../store.ts');

let dir: string;
tempDirEachTest('fs-store-sync-', (d) => {
  dir = d;
  events.length = 0;
});

const block = markedBlock;
const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('FsStore durability order', () => {
  it('fsyncs the blob, its directory and blobs/ (for a new subdirectory) before the journal line naming it', async () => {
    const store = await FsStore.open(dir);
    const m = new EbsModel({ store, clock: () => Date.UTC(2026, 0, 1), completionDelayMs: 0 });
    const s = await m.startSnapshot({ volumeSize: 1 });
    const put = async (index: number, b: Uint8Array) => {
      const checksum = createHash('sha256').update(b).digest('base64');
      await m.putSnapshotBlock({ snapshotId: s.SnapshotId, index, data: b, dataLength: BLOCK_SIZE, checksum, checksumAlgorithm: 'SHA256' });
    };
    const blobs = join(dir, 'blobs');
    const b1 = block(1);
    const sub1 = join(blobs, hex(b1).slice(0, 2));
    const since = events.length;
    await put(0, b1);
    const log = events.slice(since);
    const lineAt = log.findIndex((e) => e.op === 'write' && e.path === join(dir, 'journal.jsonl') && e.text!.includes('"index":0'));
    expect(lineAt).toBeGreaterThan(0);
    const before = log.slice(0, lineAt);
    const blobAt = before.findIndex((e) => e.op === 'rename' && e.path === join(sub1, hex(b1)));
    expect(before.findIndex((e) => e.op === 'mkdir' && e.path === sub1)).toBeGreaterThanOrEqual(0);
    expect(before.findIndex((e) => e.op === 'datasync' && e.path.startsWith(join(sub1, hex(b1))))).toBeLessThan(blobAt);
    // The rename's entry in the subdirectory, and the subdirectory's entry in blobs/, both fsynced after the rename.
    expect(before.slice(blobAt).filter((e) => e.op === 'sync').map((e) => e.path).sort()).toEqual([blobs, sub1].sort());
    // The line itself is fsynced before the put is acknowledged.
    expect(log.slice(lineAt).some((e) => e.op === 'datasync' && e.path === join(dir, 'journal.jsonl'))).toBe(true);

    // Another blob in the same subdirectory: only that subdirectory is fsynced (its entry in blobs/ is durable).
    const b2 = block(2);
    for (let n = 1; hex(b2).slice(0, 2) !== hex(b1).slice(0, 2); n++) new DataView(b2.buffer).setUint32(100, n);
    const again = events.length;
    await put(1, b2);
    const log2 = events.slice(again);
    const line2 = log2.findIndex((e) => e.op === 'write' && e.text!.includes('"index":1'));
    expect(log2.slice(0, line2).filter((e) => e.op === 'sync').map((e) => e.path)).toEqual([sub1]);
    store.close();
  });

  it('fsyncs blobs/ at open, and the store directory after renaming the compacted journal into it', async () => {
    const store = await FsStore.open(dir);
    const syncs = events.filter((e) => e.op === 'sync').map((e) => e.path);
    expect(syncs).toContain(join(dir, 'blobs'));
    const renamed = events.findIndex((e) => e.op === 'rename' && e.path === join(dir, 'journal.jsonl'));
    expect(events.slice(renamed).some((e) => e.op === 'sync' && e.path === dir)).toBe(true);
    store.close();
  });

  it('writes the token key 0600 through a temporary file, fsynced, renamed, then the directory fsynced', async () => {
    const store = await FsStore.open(dir);
    const since = events.length;
    await store.getSecret();
    const log = events.slice(since).map((e) => `${e.op} ${e.path.slice(dir.length)}`);
    expect(log).toEqual(['datasync /secret.tmp', 'rename /secret', `sync `]);
    store.close();
  });
});
