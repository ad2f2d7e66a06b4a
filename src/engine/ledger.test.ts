import { describe, expect, it } from 'vitest';
import type { JobRecord } from './upload-types.ts';
import { BlockLedger, memoryLedgerStore, PAGE_BLOCKS } from './ledger.ts';
import { newJobRecord } from './job-record.ts';

function job(blockCount: number): JobRecord {
  return newJobRecord({
    fingerprint: { name: 'd', size: blockCount * 524288, lastModified: 1, firstBlockSha256: 'a', lastBlockSha256: 'b' },
    connection: { kind: 'endpoint', region: 'us-east-1', endpoint: 'http://x', credentials: { accessKeyId: 'AK', secretAccessKey: 'SECRET' } },
    params: { volumeSizeGiB: 2, timeoutMinutes: 60 },
    format: 'raw',
    virtualSize: blockCount * 524288,
    blockCount,
    blocksToSend: blockCount,
  });
}

function digest(i: number): Uint8Array {
  return new Uint8Array(32).fill(i % 251);
}

describe('BlockLedger', () => {
  it('never stores credentials in the job record', () => {
    const j = job(10);
    expect(JSON.stringify(j)).not.toContain('SECRET');
    expect(j.connection).toEqual({ kind: 'endpoint', region: 'us-east-1', endpoint: 'http://x' });
    expect(j.clientToken.length).toBeGreaterThan(8);
  });

  it('batches marks into few commits and restores them on reopen', async () => {
    const store = memoryLedgerStore();
    const j = job(3000);
    await store.putJob(j);
    const l = await BlockLedger.open(store, j, 3000);
    for (let i = 0; i < 3000; i += 2) l.markWritten(i, digest(i));
    for (let i = 1; i < 100; i += 2) l.markSkipped(i);
    await l.flush();
    // 1550 marks in one turn of the event loop: one commit for the batch (plus at most one trailing).
    expect(store.commits).toBeLessThanOrEqual(2);
    const saved = await store.getJob(j.id);
    expect(saved!.counters).toMatchObject({ writtenBlocks: 1500, skippedBlocks: 50, bytesWritten: 1500 * 524288 });
    const again = await BlockLedger.open(store, saved!, 3000);
    expect(again.writtenCount).toBe(1500);
    expect(again.skippedCount).toBe(50);
    expect(again.isWritten(2998)).toBe(true);
    expect(again.isWritten(2999)).toBe(false);
    expect(again.isSkipped(99)).toBe(true);
    expect(again.isDone(101)).toBe(false);
    expect(again.digest(2048)).toEqual(digest(2048));
    const done = again.doneBitmap();
    expect(done.length).toBe(Math.ceil(3000 / 8));
    expect(done[0]).toBe(0xff); // blocks 0..7: even written, odd skipped
    expect(done[20]! & 1).toBe(1);
    expect(done[20]! & 2).toBe(0);
  });

  it('orders digests by index for the aggregate, whatever the ack order', async () => {
    const store = memoryLedgerStore();
    const j = job(PAGE_BLOCKS * 3);
    const l = await BlockLedger.open(store, j, PAGE_BLOCKS * 3);
    for (const i of [2500, 3, 1024, 7]) l.markWritten(i, digest(i));
    expect([...l.writtenIndices()]).toEqual([3, 7, 1024, 2500]);
    const cat = l.concatenatedDigests();
    expect(cat.length).toBe(128);
    expect(cat.subarray(64, 96)).toEqual(digest(1024));
  });

  it('a rewrite counts once and replaces the digest; a write clears a skip', async () => {
    const store = memoryLedgerStore();
    const j = job(10);
    const l = await BlockLedger.open(store, j, 10);
    l.markSkipped(4);
    l.markWritten(4, digest(1));
    l.markWritten(4, digest(2));
    expect(l.writtenCount).toBe(1);
    expect(l.skippedCount).toBe(0);
    expect(l.digest(4)).toEqual(digest(2));
    expect(() => l.markWritten(10, digest(0))).toThrow(/outside 0..9/);
  });

  it('committed counts trail marks until the commit lands', async () => {
    let release!: () => void;
    const base = memoryLedgerStore();
    const gate = new Promise<void>((r) => (release = r));
    const store = { ...base, commit: async (jb: JobRecord, ps: Parameters<typeof base.commit>[1]) => (await gate, base.commit(jb, ps)) };
    const j = job(10);
    const l = await BlockLedger.open(store, j, 10);
    l.markWritten(1, digest(1));
    expect(l.committedWritten).toBe(0);
    release();
    await l.flush();
    expect(l.committedWritten).toBe(1);
  });
});
