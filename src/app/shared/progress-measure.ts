// The one measure of upload progress, for the run panel and the job card alike: acknowledged bytes of the blocks to send.
import { BLOCK_SIZE } from '../../engine/api.ts';

/** Block counts as a live progress sample and a job record both carry them. */
export interface ProgressCounts {
  totalBlocks: number;
  /** Blocks acknowledged by the service (201) and recorded. */
  writtenBlocks: number;
  /** Blocks found empty and not sent; they are not progress, they shrink what is left to send. */
  skippedBlocks: number;
}

/** Progress as shown: a fraction of the bytes to send, with the skipped blocks counted apart. */
export interface ProgressMeasure {
  /** 0–1: acknowledged bytes over bytes to send. */
  fraction: number;
  /** The fraction as a percentage with one decimal, floored so 99.96% never reads 100.0%. */
  percentText: string;
  ackedBytes: number;
  /** Bytes of the blocks to send: all blocks not (yet) found empty; never less than what was acknowledged. */
  toSendBytes: number;
  toSendBlocks: number;
  skippedBlocks: number;
}

/**
 * Progress = acknowledged bytes of the blocks to send (the engine's `blocksToSend` = max(written, total − skipped)).
 * `completed`: the snapshot is done, whatever the counts say (e.g. counts of a record written before the last ack).
 */
export function progressMeasure(c: ProgressCounts, completed = false): ProgressMeasure {
  const total = Math.max(0, c.totalBlocks);
  const written = Math.max(0, Math.min(total, c.writtenBlocks));
  const skipped = Math.max(0, Math.min(total - written, c.skippedBlocks));
  const toSendBlocks = Math.max(written, total - skipped);
  // Nothing to send at all (every block empty): done once every block is accounted for.
  const fraction = completed ? 1 : toSendBlocks > 0 ? written / toSendBlocks : total > 0 && written + skipped >= total ? 1 : 0;
  return {
    fraction,
    percentText: `${(Math.floor(fraction * 1000) / 10).toFixed(1)}%`,
    ackedBytes: written * BLOCK_SIZE,
    toSendBytes: toSendBlocks * BLOCK_SIZE,
    toSendBlocks,
    skippedBlocks: skipped,
  };
}
