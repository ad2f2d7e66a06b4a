import { describe, expect, it } from 'vitest';
import { completionPending, newJobRecord, resolveParams } from './job-record.ts';

const base = {
  fingerprint: { name: 'd.img', size: 1 << 20, lastModified: 1, firstBlockSha256: 'a', lastBlockSha256: 'b' },
  connection: { kind: 'emulator' as const },
  format: 'raw' as const,
  virtualSize: 1 << 20,
  blockCount: 2,
  blocksToSend: 2,
};

describe('newJobRecord', () => {
  it('saves the parent comparison with a version over a parent, so a resume compares the same way', () => {
    const params = resolveParams({ parentSnapshotId: 'snap-0123456789abcdef0' }, 1 << 20);
    expect(newJobRecord({ ...base, params, parentCompare: 'read' }).parentCompare).toBe('read');
    expect(newJobRecord({ ...base, params, parentCompare: 'all' }).parentCompare).toBe('all');
  });

  it('saves none without a parent (nothing to compare against)', () => {
    const params = resolveParams({}, 1 << 20);
    expect('parentCompare' in newJobRecord({ ...base, params, parentCompare: 'read' })).toBe(false);
  });
});

describe('completionPending', () => {
  const counters = (writtenBlocks: number, skippedBlocks: number) => ({ totalBlocks: 10, writtenBlocks, skippedBlocks, bytesWritten: 0, blocksToSend: 10 - skippedBlocks });
  const job = (state: 'running' | 'completing' | 'paused' | 'error' | 'completed' | 'cancelled' | 'new', w: number, s: number, snapshotId = 'snap-0123456789abcdef0') =>
    ({ state, counters: counters(w, s), ...(snapshotId ? { snapshotId } : {}) });

  it('is true once every block is acknowledged or skipped and the snapshot was not seen completed', () => {
    expect(completionPending(job('completing', 7, 3))).toBe(true);
    expect(completionPending(job('running', 10, 0))).toBe(true);
    expect(completionPending(job('error', 10, 0))).toBe(true);
  });

  it('is false with blocks left, without a snapshot, or once completed or cancelled', () => {
    expect(completionPending(job('paused', 6, 3))).toBe(false);
    expect(completionPending(job('new', 10, 0, ''))).toBe(false);
    expect(completionPending(job('completed', 10, 0))).toBe(false);
    expect(completionPending(job('cancelled', 10, 0))).toBe(false);
  });
});
