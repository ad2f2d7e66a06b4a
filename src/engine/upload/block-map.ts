// The session's picture of every block (pending, in flight, retrying, written, skipped), told to subscribers as it changes.
import { BlockMark, type BlockUpdates } from '../upload-types.ts';
import type { PipelineBatch } from '../block-pipeline.ts';

/** One BlockMark per block of the image, and the subscribers told of each change. */
export class BlockMap {
  private readonly marks: Uint8Array;
  private readonly subs = new Set<(u: BlockUpdates) => void>();

  constructor(blockCount: number) {
    this.marks = new Uint8Array(blockCount);
  }

  /** Marks what the ledger recorded in earlier sessions. */
  load(ledger: { isWritten(i: number): boolean; isSkipped(i: number): boolean }): void {
    for (let i = 0; i < this.marks.length; i++) {
      if (ledger.isWritten(i)) this.marks[i] = BlockMark.Written;
      else if (ledger.isSkipped(i)) this.marks[i] = BlockMark.Skipped;
    }
  }

  /** A block set aside before any pipeline saw it (the map is fetched whole, so nobody is told). */
  skip(i: number): void {
    this.marks[i] = BlockMark.Skipped;
  }

  /** Applies a pipeline's batch and tells the subscribers what changed. */
  record(b: PipelineBatch): void {
    const updates: number[] = [];
    for (const i of b.written) {
      this.marks[i] = BlockMark.Written;
      updates.push(i, BlockMark.Written);
    }
    for (const i of b.skipped) {
      this.marks[i] = BlockMark.Skipped;
      updates.push(i, BlockMark.Skipped);
    }
    for (const i of b.started) {
      if (this.marks[i] === BlockMark.Pending) {
        this.marks[i] = BlockMark.InFlight;
        updates.push(i, BlockMark.InFlight);
      }
    }
    for (const i of b.retrying) {
      if (this.marks[i] !== BlockMark.Written) {
        this.marks[i] = BlockMark.Retrying;
        updates.push(i, BlockMark.Retrying);
      }
    }
    if (!updates.length) return;
    const u = Uint32Array.from(updates);
    for (const cb of this.subs) cb(u);
  }

  /** Calls cb with every later change; returns the unsubscribe. */
  onBlocks(cb: (u: BlockUpdates) => void): () => void {
    this.subs.add(cb);
    return () => this.subs.delete(cb);
  }

  /** A copy of the whole map. */
  copy(): Uint8Array {
    return this.marks.slice();
  }
}
