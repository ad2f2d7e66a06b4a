import { describe, expect, it } from 'vitest';
import { BlockMark } from '../upload-types.ts';
import type { PipelineBatch } from '../block-pipeline.ts';
import { BlockMap } from './block-map.ts';

function batch(parts: Partial<Record<'written' | 'skipped' | 'started' | 'retrying', number[]>>): PipelineBatch {
  const u = (a?: number[]) => Uint32Array.from(a ?? []);
  return { written: u(parts.written), digests: new Uint8Array((parts.written?.length ?? 0) * 32), skipped: u(parts.skipped), started: u(parts.started), retrying: u(parts.retrying), retried: 0, inFlight: 0, concurrency: 1 };
}

describe('BlockMap', () => {
  it('marks what the ledger holds, then each batch, telling only the changes; a written block stays written', () => {
    const map = new BlockMap(6);
    map.load({ isWritten: (i) => i === 0, isSkipped: (i) => i === 1 });
    const told: number[][] = [];
    map.onBlocks((u) => told.push([...u]));
    map.record(batch({ started: [2, 3, 0] }));
    map.record(batch({ written: [2], retrying: [3] }));
    // A late retry report for a block already written, and a start for a block in flight: no change, nobody told.
    map.record(batch({ retrying: [2], started: [3] }));
    map.record(batch({ skipped: [4] }));
    map.skip(5);
    expect([...map.copy()]).toEqual([BlockMark.Written, BlockMark.Skipped, BlockMark.Written, BlockMark.Retrying, BlockMark.Skipped, BlockMark.Skipped]);
    expect(told).toEqual([
      [2, BlockMark.InFlight, 3, BlockMark.InFlight],
      [2, BlockMark.Written, 3, BlockMark.Retrying],
      [4, BlockMark.Skipped],
    ]);
  });
});
