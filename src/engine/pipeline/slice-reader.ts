// Reading a pipeline's claims: a claim is a run of blocks, read a slice at a time into reused buffers, with the blocks
// that need no sending (done before, or empty by the image's tables) set aside unread.
import { BLOCK_SIZE, BlockState, type DiskImage } from '../../images/types.ts';
import { describeFailure } from '../failure.ts';
import type { BatchOutbox } from './batch-outbox.ts';
import type { RunVerdict } from './run-verdict.ts';

/** A run of blocks handed to one worker (read a slice at a time). */
export interface Slice {
  first: number;
  count: number;
}

/** Blocks per slice read when the spec names none. */
export const DEFAULT_SLICE_BLOCKS = 8;

/** Whether bit i is set. */
export function bitSet(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}

/**
 * Slice buffers reused from read to read: the slice being cut and the one read ahead. A new buffer per slice would
 * leave tens of MiB of dead ArrayBuffers per worker between garbage collections; reused ones keep a worker's reading
 * memory at two slices.
 */
class SliceBuffers {
  private free: ArrayBuffer[] = [];
  private made = 0;
  private waiting: ((b: ArrayBuffer | null) => void)[] = [];
  constructor(private readonly max: number) {}

  /** A buffer of at least `bytes`, waiting while every buffer is in use. */
  async take(bytes: number): Promise<Uint8Array> {
    let b = this.free.pop() ?? null;
    if (!b && this.made < this.max) {
      this.made++;
      b = new ArrayBuffer(bytes);
    }
    b ??= await new Promise<ArrayBuffer | null>((resolve) => this.waiting.push(resolve));
    if (!b || b.byteLength < bytes) b = new ArrayBuffer(bytes);
    return new Uint8Array(b);
  }

  /** Hands a buffer back (the one the last read returned, which may have replaced the one taken). */
  give(b: ArrayBuffer): void {
    const w = this.waiting.shift();
    if (w) w(b);
    else this.free.push(b);
  }

  /** A buffer lost to a failed read: another may be made in its place. */
  lost(): void {
    const w = this.waiting.shift();
    if (w) w(null);
    else this.made--;
  }
}

/** A slice read into a pooled buffer, given back once every block cut from it has been hashed (or skipped). */
export class SliceHold {
  private pending = 0;
  private dispatched = false;
  constructor(private readonly release: () => void) {}

  /** A block cut from the slice is being hashed: the slice is kept until `hashed` settles. */
  track(hashed: Promise<unknown>): void {
    this.pending++;
    const done = () => {
      this.pending--;
      this.settle();
    };
    void hashed.then(done, done);
  }

  /** Every block of the slice has been handed on: its buffer goes back once their hashing is done. */
  dispatch(): void {
    this.dispatched = true;
    this.settle();
  }

  private settle(): void {
    if (this.dispatched && this.pending === 0) {
      this.dispatched = false;
      this.release();
    }
  }
}

/** A slice as read: its bytes from block `first` on, the blocks of it to send, and the reader's zero findings. */
export interface ReadSlice {
  first: number;
  bytes: Uint8Array;
  todo: number[];
  /** Set when the bytes lie in a pooled buffer. */
  hold: SliceHold | null;
  /** Per block of the slice, what the reader learnt while reading (Scanned; NotScanned where it did not look). */
  scanned: Uint8Array;
}

/** What the reader needs of a run's spec (see PipelineSpec). */
export interface SlicePlan {
  blockCount: number;
  done: Uint8Array;
  blockStates?: Uint8Array;
  skipZeros: boolean;
  sliceBlocks?: number;
}

/** Claims runs of blocks and reads them a slice at a time, the next slice while the last one is cut. */
export class SliceReader {
  private readonly buffers = new SliceBuffers(2);
  private readonly readInto: DiskImage['readBlocksInto'];
  private readonly sliceBlocks: number;
  // Consecutive slices of a claim continue the file's stream.
  private run = { next: 0, end: 0 };

  constructor(
    private readonly image: DiskImage,
    private readonly plan: SlicePlan,
    private readonly claim: () => Promise<Slice | null>,
    private readonly outbox: BatchOutbox,
    private readonly verdict: RunVerdict,
  ) {
    this.readInto = image.readBlocksInto?.bind(image);
    this.sliceBlocks = Math.max(1, plan.sliceBlocks ?? DEFAULT_SLICE_BLOCKS);
  }

  /** The next slice with blocks to send, or null when the claims ran out, the run is ending, or a read failed. */
  async next(): Promise<ReadSlice | null> {
    const { plan } = this;
    for (;;) {
      if (this.verdict.ending) return null;
      if (this.run.next >= this.run.end) {
        const s = await this.claim();
        if (!s) return null;
        this.run = { next: s.first, end: Math.min(plan.blockCount, s.first + s.count) };
        continue;
      }
      const first = this.run.next;
      const end = Math.min(this.run.end, first + this.sliceBlocks);
      this.run.next = end;
      const todo: number[] = [];
      for (let i = first; i < end; i++) {
        if (bitSet(plan.done, i)) continue;
        const st = plan.blockStates?.[i];
        if (plan.skipZeros && (st === BlockState.Unallocated || st === BlockState.Zero)) {
          this.outbox.skipped(i);
          continue;
        }
        todo.push(i);
      }
      if (!todo.length) continue;
      const lo = todo[0]!;
      const hi = todo[todo.length - 1]!;
      const count = hi - lo + 1;
      // Where the image can read into a buffer, the slice goes into one of the pool's, given back once it is cut.
      const target = this.readInto ? await this.buffers.take(count * BLOCK_SIZE) : null;
      try {
        // Where the reader scans for zeros while reading, its findings spare a second pass over cold memory.
        const scanned = new Uint8Array(count);
        const bytes = target ? await this.readInto!(lo, count, target, plan.skipZeros ? scanned : undefined) : await this.image.readBlocks(lo, count);
        const buffer = bytes.buffer as ArrayBuffer;
        return { first: lo, bytes, todo, hold: target ? new SliceHold(() => this.buffers.give(buffer)) : null, scanned };
      } catch (err) {
        if (target) this.buffers.lost();
        this.verdict.fail(describeFailure(err, { index: lo, reading: true }));
        return null;
      }
    }
  }
}
