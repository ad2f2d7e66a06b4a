import { describe, expect, it } from 'vitest';
import { BlockState } from '../../images/types.ts';
import { ClaimScheduler } from './claim-scheduler.ts';
import type { Slice } from '../block-pipeline.ts';

function drain(s: ClaimScheduler, done: Set<number>, skipZeros: boolean, skipped: number[] = []): Slice[] {
  const out: Slice[] = [];
  const ledger = { isDone: (i: number) => done.has(i), skip: (i: number) => void skipped.push(i) };
  for (let c = s.next(ledger, skipZeros); c; c = s.next(ledger, skipZeros)) out.push(c);
  return out;
}

describe('ClaimScheduler', () => {
  it('hands out no run whose blocks are all done or empty, and records the empty ones it passed as skipped', () => {
    const states = new Uint8Array(32).fill(BlockState.Data);
    // Blocks 0-7 done, 8-15 empty by the image's tables, 16-31 to send.
    states.fill(BlockState.Unallocated, 8, 16);
    const done = new Set(Array.from({ length: 8 }, (_, i) => i));
    const skipped: number[] = [];
    const s = new ClaimScheduler({ blockCount: 32, sliceBlocks: 8, runners: 4, blockStates: states });
    const runs = drain(s, done, true, skipped);
    expect(runs).toEqual([
      { first: 16, count: 8 },
      { first: 24, count: 8 },
    ]);
    expect(skipped).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('hands empty blocks out like the rest when they are written, and starts over on restart', () => {
    const states = new Uint8Array(16).fill(BlockState.Zero);
    const s = new ClaimScheduler({ blockCount: 16, sliceBlocks: 8, runners: 1, blockStates: states });
    expect(drain(s, new Set(), false)).toEqual([
      { first: 0, count: 8 },
      { first: 8, count: 8 },
    ]);
    expect(drain(s, new Set(), false)).toEqual([]);
    s.restart();
    expect(drain(s, new Set(), false)).toHaveLength(2);
  });
});
