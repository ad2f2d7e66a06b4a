// Handing out work to a session's pipelines: runs of many slices, long at first and shrinking towards the end so the
// pipelines finish together (guided self-scheduling), each block once per pass.
import { BlockState } from '../../images/types.ts';
import type { Slice } from '../block-pipeline.ts';

/** The longest run of blocks one claim hands a worker: 128 MiB. */
const RUN_BLOCKS = 256;

/** What a claim asks of the session: which blocks are done, and where blocks set aside are recorded. */
export interface ClaimLedger {
  isDone(i: number): boolean;
  /** An empty block skipped before it was claimed. */
  skip(i: number): void;
}

/** The claims of one session's passes over the image. */
export class ClaimScheduler {
  private cursor = 0;

  constructor(
    private readonly plan: {
      blockCount: number;
      /** Blocks per read (a worker's slice buffer): the shortest run. */
      sliceBlocks: number;
      /** Pipelines sharing the work. */
      runners: number;
      /** One image BlockState per block. */
      blockStates: Uint8Array;
    },
  ) {}

  /** Starts a pass from the first block. */
  restart(): void {
    this.cursor = 0;
  }

  /**
   * The next run with a block to send, or null when the pass is over. `skipZeros`: blocks the image's tables call empty
   * are skipped here, so slices with nothing to do never cross to a worker.
   */
  next(ledger: ClaimLedger, skipZeros: boolean): Slice | null {
    const { blockCount, sliceBlocks, blockStates, runners } = this.plan;
    while (this.cursor < blockCount) {
      const first = this.cursor;
      // A share of what is left, between one slice and RUN_BLOCKS.
      const left = blockCount - first;
      const count = Math.min(left, Math.max(sliceBlocks, Math.min(RUN_BLOCKS, Math.ceil(left / (2 * runners)))));
      this.cursor += count;
      for (let i = first; i < first + count; i++) {
        if (ledger.isDone(i)) continue;
        if (skipZeros && blockStates[i] !== BlockState.Data) {
          ledger.skip(i);
          continue;
        }
        return { first, count };
      }
    }
    return null;
  }
}
