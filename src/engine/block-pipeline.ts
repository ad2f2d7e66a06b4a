// The per-worker block loop: claim a slice, read it once, cut blocks, zero-detect, hash, send with retry and pacing.
// Its parts are in pipeline/: the slice reader, the block transmitter and the batch outbox.
import { BLOCK_SIZE, type DiskImage } from '../images/types.ts';
import { blockIsZero, isAllZero } from '../images/zero-scan.ts';
import type { Sha256 } from './block-digest.ts';
import { Pacer, type PacerLike } from './pacer.ts';
import { LeasedPacer, type PacerPort } from './pacer-lease.ts';
import { describeFailure, type FailureInfo } from './failure.ts';
import { LinkWatch } from './link-watch.ts';
import { BatchOutbox, type PipelineBatch } from './pipeline/batch-outbox.ts';
import { BlockTransmitter, type BlockSink } from './pipeline/block-transmitter.ts';
import { RunVerdict } from './pipeline/run-verdict.ts';
import { bitSet, SliceReader, type SliceHold, type Slice } from './pipeline/slice-reader.ts';

export type { BlockSink, PipelineBatch, Slice };
export { DEFAULT_SLICE_BLOCKS } from './pipeline/slice-reader.ts';

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
  /** Over a parent: a zero block where the parent has a hole is sent too (the snapshot is encrypted; see zero-blocks.ts). */
  fillParentHoles?: boolean;
  /** Versions over a parent: present = bit per parent block with content, digests = 32 bytes per index. */
  parent?: { present: Uint8Array; digests: Uint8Array };
  floor: number;
  ceiling: number;
  /** Blocks in flight to start with (a worker taking over from a retired one starts where it was); default the pacer's (16 within floor and ceiling). */
  initial?: number;
  /** Blocks read at a time into one of the worker's two slice buffers (default 8: 4 MiB); a claim may span many. */
  sliceBlocks?: number;
  /** How long a silent service is waited for before giving up, ms (the snapshot's Timeout; default 60 min). */
  silenceLimitMs?: number;
  /** The service has answered in this session already, so a silence from the first request on is an outage. */
  linkAnswered?: boolean;
}

/** How a run ended: finished its claims, was stopped, or failed with a sentence. */
export type PipelineOutcome = { kind: 'finished' } | { kind: 'stopped' } | { kind: 'failed'; failure: FailureInfo };

function equalDigest(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  for (let k = 0; k < 32; k++) if (a[k] !== b[offset + k]) return false;
  return true;
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

  /**
   * Runs until claim() returns null, stop() is called, or a block fails for good. `pacerPort`: a lease on the pacer of
   * the link, shared with the other pipelines of the upload; without one the pipeline paces itself within the spec's bounds.
   */
  async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacerPort?: PacerPort): Promise<PipelineOutcome> {
    this.stopping = false;
    this.sink = spec.snapshotId && this.makeSink ? this.makeSink(spec.snapshotId) : null;
    const pacer: PacerLike = pacerPort
      ? new LeasedPacer(pacerPort, spec.floor)
      : new Pacer({ floor: spec.floor, ceiling: spec.ceiling, ...(spec.initial ? { initial: spec.initial } : {}) });
    const link = (this.link = new LinkWatch(undefined, undefined, spec.linkAnswered ?? false));
    const verdict = new RunVerdict(link, () => this.stopping);
    const outbox = new BatchOutbox(onBatch, () => ({ inFlight: pacer.active, concurrency: pacer.limit, waiting: link.waiting }), this.sink !== null);
    const transmitter = new BlockTransmitter(this.sink, pacer, link, outbox, verdict, {
      silenceLimitMs: spec.silenceLimitMs ?? 60 * 60_000,
      recheck: (index, digest) => this.recheck(index, digest),
    });
    const reader = new SliceReader(this.image, spec, claim, outbox, verdict);
    const sends = new Set<Promise<void>>();

    // Hashes a block, then sends it unless it was skipped; a hashing failure is not the service's: reported as it is.
    const send = (index: number, bytes: Uint8Array, hold: SliceHold | null): Promise<void> => {
      const prepared = this.prepare(spec, outbox, pacer, index, bytes, hold !== null);
      hold?.track(prepared);
      return prepared
        .then(
          (job) => (job ? transmitter.send(index, job.digest, job.body) : undefined),
          (err: unknown) => {
            pacer.release({ ok: false });
            verdict.fail(describeFailure(err, { index }));
          },
        )
        .finally(() => this.image.releaseBlock?.(index));
    };

    // The next slice is read while this one is cut into blocks.
    let next = reader.next();
    for (;;) {
      const cur = await next;
      if (!cur) break;
      next = reader.next();
      for (const i of cur.todo) {
        if (verdict.failure) break;
        const off = (i - cur.first) * BLOCK_SIZE;
        const bytes = cur.bytes.subarray(off, off + BLOCK_SIZE);
        if (spec.skipZeros && blockIsZero(bytes, cur.scanned[i - cur.first])) {
          outbox.skipped(i);
          continue;
        }
        await pacer.acquire();
        outbox.started(i);
        const p = send(i, bytes, cur.hold);
        sends.add(p);
        void p.finally(() => sends.delete(p));
      }
      cur.hold?.dispatch();
      if (verdict.failure) break;
    }
    await next.catch(() => null);
    await Promise.all([...sends]);
    link.close();
    await outbox.drain();
    if (verdict.failure) return { kind: 'failed', failure: verdict.failure };
    return this.stopping ? { kind: 'stopped' } : { kind: 'finished' };
  }

  /**
   * Hashes a block and decides whether it goes out; resolves to what to send, or null when it was skipped. The block's
   * view of its slice is dropped when this returns, so a block in flight does not pin its slice. `pooled`: the bytes
   * lie in a reused slice buffer, so a block sent as bytes gets its own copy.
   */
  private async prepare(spec: PipelineSpec, outbox: BatchOutbox, pacer: PacerLike, index: number, bytes: Uint8Array, pooled: boolean): Promise<{ digest: Uint8Array; body: Uint8Array | Blob } | null> {
    const digest = await this.sha256(bytes);
    // Over a parent: equal content is inherited, and a zero block over a parent hole stays a hole unless encrypted.
    if (spec.parent && (bitSet(spec.parent.present, index) ? equalDigest(digest, spec.parent.digests, index * 32) : !spec.fillParentHoles && isAllZero(bytes))) {
      outbox.skipped(index);
      pacer.release({ ok: true });
      return null;
    }
    // A Blob over the file is sent by the browser straight from disk: no copy of the block stays in memory.
    const blob = this.sink && this.options.fileBodies !== false ? await this.image.blockBlob?.(index, bytes) : null;
    return { digest, body: blob ?? (this.sink && pooled ? bytes.slice() : bytes) };
  }

  /**
   * After a failed put of a file-backed body: the bytes sent came from the file now, the checksum from the bytes read
   * before. A block that no longer reads the same means the file changed, whatever the service made of it.
   */
  private async recheck(index: number, digest: Uint8Array): Promise<FailureInfo | null> {
    // A kept copy of the bytes hashed cannot have changed (and reading a streamed disk again would decode it again).
    if (this.image.blockBlobsKept) return null;
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
  }
}
