// The per-worker block loop: claim a slice, read it once, cut blocks, zero-detect, hash, send with retry and pacing.
import { BLOCK_SIZE, BlockState, type DiskImage } from '../images/types.ts';
import { blockIsZero, isAllZero } from '../images/zero-scan.ts';
import { toBase64, type Sha256 } from './block-digest.ts';
import { Pacer } from './pacer.ts';
import { backoffMs, classifyFailure, isUnanswered, shouldRetry, sleep, type FailureClass } from './retry.ts';
import { describeFailure, type FailureInfo } from './failure.ts';
import { LinkWatch } from './link-watch.ts';

/** Sends one block (its bytes, or a Blob of exactly those bytes over the file); throws SDK errors as they come. */
export interface BlockSink {
  put(index: number, body: Uint8Array | Blob, checksumBase64: string): Promise<void>;
}

/** A run of blocks handed to one worker (read a slice at a time). */
export interface Slice {
  first: number;
  count: number;
}

/** What a pipeline run must do (structured-clone friendly: it crosses to workers). */
export interface PipelineSpec {
  /** Where blocks go; absent in a dry run. */
  snapshotId?: string;
  blockCount: number;
  /** Bit per block: already written or skipped in an earlier session. */
  done: Uint8Array;
  /** Image BlockState per block; Unallocated/Zero blocks are skipped unread when skipZeros. */
  blockStates?: Uint8Array;
  /** Empty blocks are skipped: the person chose so and the service left the snapshot unencrypted (see zero-blocks.ts). */
  skipZeros: boolean;
  /** Versions over a parent (issue 6): present = bit per parent block with content, digests = 32 bytes per index. */
  parent?: { present: Uint8Array; digests: Uint8Array };
  floor: number;
  ceiling: number;
  /** Blocks in flight to start with (a worker taking over from a retired one starts where it was); default 4. */
  initial?: number;
  /** Blocks read at a time into one of the worker's two slice buffers (default 8: 4 MiB); a claim may span many. */
  sliceBlocks?: number;
  /** How long a silent service is waited for before giving up, ms (the snapshot's Timeout; default 60 min). */
  silenceLimitMs?: number;
  /** The service has answered in this session already, so a silence from the first request on is an outage. */
  linkAnswered?: boolean;
}

/** Blocks per slice read when the spec names none. */
export const DEFAULT_SLICE_BLOCKS = 8;

/** Events of a pipeline, batched (one message per batch across the worker boundary). */
export interface PipelineBatch {
  written: Uint32Array;
  /** 32 raw bytes per entry of `written`. */
  digests: Uint8Array;
  skipped: Uint32Array;
  started: Uint32Array;
  retrying: Uint32Array;
  retried: number;
  inFlight: number;
  concurrency: number;
  /** The service stopped answering: retries wait for it (sleep, network lost) instead of failing. */
  waiting?: boolean;
}

/** How a run ended: finished its claims, was stopped, or failed with a sentence. */
export type PipelineOutcome = { kind: 'finished' } | { kind: 'stopped' } | { kind: 'failed'; failure: FailureInfo };

function bitSet(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}

function equalDigest(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  for (let k = 0; k < 32; k++) if (a[k] !== b[offset + k]) return false;
  return true;
}

class BatchBuffer {
  written: number[] = [];
  digests: Uint8Array[] = [];
  skipped: number[] = [];
  started: number[] = [];
  retrying: number[] = [];
  retried = 0;
  /** The link's silence began or ended since the last batch. */
  linkChanged = false;
  /** Pacer slots of the written blocks, released once the coordinator has recorded them (the delivery resolved). */
  durable: (() => void)[] = [];
  get empty(): boolean {
    return !this.written.length && !this.skipped.length && !this.started.length && !this.retrying.length && !this.retried && !this.linkChanged;
  }
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

/** A slice read into a pooled buffer, released once every block cut from it has been hashed (or skipped). */
interface SliceHold {
  pending: number;
  dispatched: boolean;
  release: () => void;
}

function settle(hold: SliceHold | null): void {
  if (hold && hold.dispatched && hold.pending === 0) {
    hold.dispatched = false;
    hold.release();
  }
}

/** The sentence when the service stayed silent past the snapshot's Timeout. */
function silentTooLong(silenceMs: number, limitMs: number): FailureInfo {
  return {
    message: `The service has not answered for ${Math.round(silenceMs / 60_000)} minutes, longer than the snapshot's ${Math.round(limitMs / 60_000)}-minute Timeout, so the snapshot has probably expired. Once the network is back, resume: the upload then says whether the snapshot is still there or must be started again.`,
    code: 'offline',
  };
}

/** Makes the sink for a snapshot (an EBS client bound to the snapshot id). */
export type SinkFactory = (snapshotId: string) => BlockSink;

/** One worker's pipeline over an opened image. Without a snapshot id (or sink factory) it is a dry run: read, zero-detect, hash. */
export class BlockPipeline {
  private stopping = false;
  private sink: BlockSink | null = null;
  private link: LinkWatch | null = null;

  constructor(
    private readonly image: DiskImage,
    private readonly makeSink: SinkFactory | null,
    private readonly sha256: Sha256,
    /** fileBodies: send a Blob over the file where the image has one (fetch transports); false sends the bytes read. */
    private readonly options: { fileBodies?: boolean } = {},
  ) {}

  /** Stops claiming slices; blocks in flight finish. */
  stop(): void {
    this.stopping = true;
    // Retries waiting for a silent service give up their turn: their blocks go again on resume.
    this.link?.close();
  }

  /** Runs until claim() returns null, stop() is called, or a block fails for good. */
  async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown): Promise<PipelineOutcome> {
    this.stopping = false;
    this.sink = spec.snapshotId && this.makeSink ? this.makeSink(spec.snapshotId) : null;
    const pacer = new Pacer({ floor: spec.floor, ceiling: spec.ceiling, ...(spec.initial ? { initial: spec.initial } : {}) });
    const link = (this.link = new LinkWatch(undefined, undefined, spec.linkAnswered ?? false));
    const silenceLimitMs = spec.silenceLimitMs ?? 60 * 60_000;
    let shownWaiting = false;
    let buf = new BatchBuffer();
    let flushQueued = false;
    let lastDelivery: unknown = undefined;
    let failure: FailureInfo | null = null;
    const sends = new Set<Promise<void>>();

    // One batch crosses to the coordinator at a time: events gather while it is being delivered, so a busy main thread
    // gets fewer, larger batches instead of one message per block.
    let delivering = false;
    const flush = () => {
      flushQueued = false;
      if (buf.empty) return;
      const b = buf;
      buf = new BatchBuffer();
      const digests = new Uint8Array(b.digests.length * 32);
      b.digests.forEach((d, k) => digests.set(d, k * 32));
      const delivery = onBatch({
        written: Uint32Array.from(b.written),
        digests,
        skipped: Uint32Array.from(b.skipped),
        started: Uint32Array.from(b.started),
        retrying: Uint32Array.from(b.retrying),
        retried: b.retried,
        inFlight: pacer.active,
        concurrency: pacer.limit,
        waiting: link.waiting,
      });
      lastDelivery = delivery;
      const recorded = () => {
        for (const release of b.durable) release();
      };
      if (delivery instanceof Promise) {
        delivering = true;
        const next = () => {
          delivering = false;
          recorded();
          if (!buf.empty) queue();
        };
        void delivery.then(next, next);
      } else recorded();
    };
    // Events of one turn of the event loop travel together.
    const queue = () => {
      if (!flushQueued && !delivering) {
        flushQueued = true;
        void Promise.resolve().then(flush);
      }
    };

    // Hashes a block and decides whether it goes out; resolves to what to send, or null when it was skipped.
    // The block's view of its slice is dropped when this returns, so a block in flight does not pin its slice.
    // `pooled`: bytes lie in a reused slice buffer, so a block sent as bytes gets its own copy.
    const prepare = async (index: number, bytes: Uint8Array, pooled: boolean): Promise<{ digest: Uint8Array; body: Uint8Array | Blob } | null> => {
      const digest = await this.sha256(bytes);
      // Over a parent: equal content is inherited, and a zero block over a parent hole stays a hole.
      if (spec.parent && (bitSet(spec.parent.present, index) ? equalDigest(digest, spec.parent.digests, index * 32) : isAllZero(bytes))) {
        buf.skipped.push(index);
        queue();
        pacer.release({ ok: true });
        return null;
      }
      // A Blob over the file is sent by the browser straight from disk: no copy of the block stays in memory.
      const blob = this.sink && this.options.fileBodies !== false ? await this.image.blockBlob?.(index) : null;
      return { digest, body: blob ?? (this.sink && pooled ? bytes.slice() : bytes) };
    };

    // After a failed put of a file-backed body: the bytes sent came from the file now, the checksum from the bytes read
    // before. A block that no longer reads the same means the file changed, whatever the service made of it.
    const fileChanged = async (index: number, digest: Uint8Array): Promise<FailureInfo | null> => {
      try {
        const now = await this.image.readBlocks(index, 1);
        if (equalDigest(await this.sha256(now), digest, 0)) return null;
      } catch (err) {
        return describeFailure(err, { index, reading: true });
      }
      return {
        message: `The image file changed on disk during the upload: block ${index} no longer holds the bytes that were read and hashed. Keep the file unchanged while it uploads, pick it again and start a new upload.`,
        code: 'source-changed',
        action: 'repick',
      };
    };

    const noteLink = () => {
      if (link.waiting === shownWaiting) return;
      shownWaiting = link.waiting;
      buf.linkChanged = true;
      queue();
    };

    // Sends with retry; the pacer slot taken by the caller is released here.
    const transmit = async (index: number, digest: Uint8Array, body: Uint8Array | Blob): Promise<void> => {
      const checksum = toBase64(digest);
      const fromFile = !(body instanceof Uint8Array);
      for (let attempt = 1, first = true; ; attempt++, first = false) {
        if (first && link.waiting) {
          // The service went silent while this block waited for its slot: it waits for the link like the retries,
          // so during a silence only the probe is on the wire.
          pacer.release({ ok: false });
          await link.pass();
          if (failure || this.stopping) return;
          await pacer.acquire();
        }
        const t0 = performance.now();
        const sentAt = Date.now();
        try {
          if (this.sink) await this.sink.put(index, body, checksum);
          const latencyMs = performance.now() - t0;
          link.answered();
          noteLink();
          buf.written.push(index);
          buf.digests.push(digest);
          // The slot stays taken until the block is recorded durably, so a tab closed at any moment re-sends at most
          // the in-flight window (blocks sent plus blocks acknowledged but not yet in the ledger). A dry run sends
          // nothing, so there is nothing to re-send: its slot is free at once.
          if (this.sink) buf.durable.push(() => pacer.release({ ok: true, latencyMs }));
          else pacer.release({ ok: true, latencyMs });
          queue();
          return;
        } catch (err) {
          const cls: FailureClass = classifyFailure(err);
          pacer.release({ ok: false, throttled: cls === 'throttle' });
          // No answer at all while nothing else was answered either: the link is down, not this block's luck, so the
          // attempt is not counted and the retry waits for the link (one probe at a time) until the Timeout runs out.
          const outage = isUnanswered(err) ? link.unanswered(sentAt) : (link.answered(), false);
          noteLink();
          const changed = fromFile && !failure ? await fileChanged(index, digest) : null;
          if (outage && link.silenceMs() > silenceLimitMs && !failure) {
            failure = silentTooLong(link.silenceMs(), silenceLimitMs);
            link.close();
          }
          if (changed || (!outage && !shouldRetry(cls, attempt)) || failure) {
            failure ??= changed ?? describeFailure(err, { index });
            // Blocks waiting for the link wait no more: the run is ending.
            link.close();
            return;
          }
          if (outage) attempt--;
          buf.retried++;
          buf.retrying.push(index);
          queue();
          if (!outage) await sleep(backoffMs(attempt, cls));
          await link.pass();
          // Paused or failed meanwhile: the block stays unrecorded and is sent again by the next pass.
          if (failure || this.stopping) return;
          await pacer.acquire();
        }
      }
    };

    const send = (index: number, bytes: Uint8Array, hold: SliceHold | null): Promise<void> => {
      const prepared = prepare(index, bytes, hold !== null);
      if (hold) {
        hold.pending++;
        const done = () => {
          hold.pending--;
          settle(hold);
        };
        void prepared.then(done, done);
      }
      return prepared.then(
        (job) => (job ? transmit(index, job.digest, job.body) : undefined),
        (err: unknown) => {
          // Hashing failures are not the service's: report as they are.
          pacer.release({ ok: false });
          failure ??= describeFailure(err, { index });
          link.close();
        },
      );
    };

    const readInto = this.image.readBlocksInto?.bind(this.image);
    const buffers = new SliceBuffers(2);
    const sliceBlocks = Math.max(1, spec.sliceBlocks ?? DEFAULT_SLICE_BLOCKS);
    // A claim is a run of blocks, read a slice at a time: consecutive slices continue the file's stream.
    let run = { next: 0, end: 0 };
    const readSlice = async (): Promise<{ first: number; bytes: Uint8Array | null; todo: number[]; hold: SliceHold | null; scanned: Uint8Array } | null> => {
      for (;;) {
        if (this.stopping || failure) return null;
        if (run.next >= run.end) {
          const s = await claim();
          if (!s) return null;
          run = { next: s.first, end: Math.min(spec.blockCount, s.first + s.count) };
          continue;
        }
        const first = run.next;
        const end = Math.min(run.end, first + sliceBlocks);
        run.next = end;
        const todo: number[] = [];
        for (let i = first; i < end; i++) {
          if (bitSet(spec.done, i)) continue;
          const st = spec.blockStates?.[i];
          if (spec.skipZeros && (st === BlockState.Unallocated || st === BlockState.Zero)) {
            buf.skipped.push(i);
            continue;
          }
          todo.push(i);
        }
        if (buf.skipped.length) queue();
        if (!todo.length) continue;
        const lo = todo[0]!;
        const hi = todo[todo.length - 1]!;
        const count = hi - lo + 1;
        // Where the image can read into a buffer, the slice goes into one of the pool's, given back once it is cut.
        const target = readInto ? await buffers.take(count * BLOCK_SIZE) : null;
        try {
          // Where the reader scans for zeros while reading, its findings spare a second pass over cold memory.
          const scanned = new Uint8Array(count);
          const bytes = target ? await readInto!(lo, count, target, spec.skipZeros ? scanned : undefined) : await this.image.readBlocks(lo, count);
          const buffer = bytes.buffer as ArrayBuffer;
          return { first: lo, bytes, todo, hold: target ? { pending: 0, dispatched: false, release: () => buffers.give(buffer) } : null, scanned };
        } catch (err) {
          if (target) buffers.lost();
          failure ??= describeFailure(err, { index: lo, reading: true });
          link.close();
          return null;
        }
      }
    };

    let next = readSlice();
    for (;;) {
      const cur = await next;
      if (!cur || !cur.bytes) break;
      next = readSlice();
      for (const i of cur.todo) {
        if (failure) break;
        const off = (i - cur.first) * BLOCK_SIZE;
        const bytes = cur.bytes.subarray(off, off + BLOCK_SIZE);
        if (spec.skipZeros && blockIsZero(bytes, cur.scanned[i - cur.first])) {
          buf.skipped.push(i);
          queue();
          continue;
        }
        await pacer.acquire();
        buf.started.push(i);
        queue();
        const p = send(i, bytes, cur.hold);
        sends.add(p);
        void p.finally(() => sends.delete(p));
      }
      // Every block of the slice has been handed on: its buffer goes back once their hashing is done.
      if (cur.hold) {
        cur.hold.dispatched = true;
        settle(cur.hold);
      }
      if (failure) break;
    }
    await next.catch(() => null);
    await Promise.all([...sends]);
    link.close();
    await Promise.resolve(lastDelivery).catch(() => undefined);
    flush();
    await lastDelivery;
    if (failure) return { kind: 'failed', failure };
    return this.stopping ? { kind: 'stopped' } : { kind: 'finished' };
  }
}
