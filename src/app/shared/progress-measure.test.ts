import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../engine/api.ts';
import { progressMeasure } from './progress-measure.ts';

describe('progressMeasure', () => {
  it('counts acknowledged bytes of the blocks to send; skipped blocks are not progress', () => {
    // 100 blocks, 40 found empty, 30 written: 30 of 60 to send, not (30 + 40) / 100.
    const m = progressMeasure({ totalBlocks: 100, writtenBlocks: 30, skippedBlocks: 40 });
    expect(m.fraction).toBe(0.5);
    expect(m.percentText).toBe('50.0%');
    expect(m.ackedBytes).toBe(30 * BLOCK_SIZE);
    expect(m.toSendBlocks).toBe(60);
    expect(m.toSendBytes).toBe(60 * BLOCK_SIZE);
    expect(m.skippedBlocks).toBe(40);
  });

  it('gives the same answer for a live sample and a job record with the same counts', () => {
    const sample = { jobId: 'j', totalBlocks: 512, writtenBlocks: 100, skippedBlocks: 12, blocksToSend: 500, ackedBlocks: 112 };
    const record = { totalBlocks: 512, writtenBlocks: 100, skippedBlocks: 12, bytesWritten: 100 * BLOCK_SIZE, blocksToSend: 480 };
    expect(progressMeasure(sample)).toEqual(progressMeasure(record));
    // And it agrees with the engine's own blocksToSend of the sample.
    expect(progressMeasure(sample).toSendBlocks).toBe(sample.blocksToSend);
  });

  it('never reads 100% before the last block is acknowledged', () => {
    expect(progressMeasure({ totalBlocks: 10_000, writtenBlocks: 9_999, skippedBlocks: 0 }).percentText).toBe('99.9%');
    expect(progressMeasure({ totalBlocks: 10_000, writtenBlocks: 9_999, skippedBlocks: 0 }).fraction).toBeLessThan(1);
    expect(progressMeasure({ totalBlocks: 10_000, writtenBlocks: 10_000, skippedBlocks: 0 }).percentText).toBe('100.0%');
  });

  it('finds more empty blocks without going backwards', () => {
    const before = progressMeasure({ totalBlocks: 100, writtenBlocks: 20, skippedBlocks: 0 });
    const after = progressMeasure({ totalBlocks: 100, writtenBlocks: 20, skippedBlocks: 50 });
    expect(after.fraction).toBeGreaterThan(before.fraction);
  });

  it('handles an image with nothing to send, a job not started, and a completed snapshot', () => {
    expect(progressMeasure({ totalBlocks: 8, writtenBlocks: 0, skippedBlocks: 8 }).fraction).toBe(1);
    expect(progressMeasure({ totalBlocks: 8, writtenBlocks: 0, skippedBlocks: 0 }).fraction).toBe(0);
    expect(progressMeasure({ totalBlocks: 0, writtenBlocks: 0, skippedBlocks: 0 }).fraction).toBe(0);
    expect(progressMeasure({ totalBlocks: 8, writtenBlocks: 3, skippedBlocks: 0 }, true).fraction).toBe(1);
  });

  it('clamps counts that overlap (a record written between a skip and an ack)', () => {
    const m = progressMeasure({ totalBlocks: 10, writtenBlocks: 8, skippedBlocks: 5 });
    expect(m.skippedBlocks).toBe(2);
    expect(m.fraction).toBe(1);
  });
});
