// The coordinator of one upload: start (ClientToken first), hand slices to pipelines, record acks, complete, wait.
import { CompleteSnapshotCommand, StartSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { BLOCK_SIZE, BlockState } from '../../images/types.ts';
import {
  BlockMark,
  UploadError,
  type BlockUpdates,
  type JobRecord,
  type UploadPhase,
  type UploadProgress,
  type UploadReport,
  type UploadRun,
} from '../upload-types.ts';
import { linearAggregate } from '../aggregate.ts';
import type { Sha256 } from '../block-digest.ts';
import type { PipelineBatch, PipelineOutcome, PipelineSpec, Slice } from '../block-pipeline.ts';
import { describeFailure, type FailureInfo } from '../failure.ts';
import { deleteAbandonedSnapshot } from './snapshot-cleanup.ts';
import { checkResumableSnapshot } from './resume-check.ts';
import { BlockLedger, type LedgerStore } from '../ledger.ts';
import { withRetry } from '../retry.ts';
import { ceilingNote, type CeilingReason } from '../window-ceiling.ts';
import { waitForCompletion } from './wait-completion.ts';
import { decideZeroBlocks, zeroBlocksChoice, type ZeroBlocksDecision } from '../zero-blocks.ts';

/** A pipeline in a worker or in-process: runs slices claimed from the session. */
export interface PipelineRunner {
  /** onBatch may return a promise: the pipeline holds the written blocks' slots until it resolves (durable). */
  run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown): Promise<PipelineOutcome>;
  stop(): void | Promise<void>;
}

/** Receives the per-block digests of a completed snapshot (issue 6 keeps them as its manifest). */
export type ManifestSink = (args: { snapshotId: string; volumeSizeGiB: number; indices: Uint32Array; digests: Uint8Array; imageSize: number }) => Promise<void>;

/** What a session needs; the browser controller and the CLI each assemble one. */
export interface SessionDeps {
  store: LedgerStore;
  ebs: EBSClient | null;
  ec2?: EC2Client;
  runners: PipelineRunner[];
  sha256: Sha256;
  /** One image BlockState per block. */
  blockStates: Uint8Array;
  blockCount: number;
  parent?: PipelineSpec['parent'];
  floor: number;
  ceiling: number;
  /** What set the ceiling, for the run panel's sentence when the window reaches it. */
  ceilingReason?: CeilingReason;
  /** Blocks per read (a worker's slice buffer); claims hand out runs of many slices. */
  sliceBlocks: number;
  manifest?: ManifestSink;
  /** Called when the session ends either way (release locks, terminate workers). */
  onEnd?: () => void;
  /** How long to wait for `completed` after CompleteSnapshot, ms. */
  completionWaitMs?: number;
}

/** Progress samples at most this often (ms), plus every phase change. */
const PROGRESS_EVERY_MS = 200;
/** The longest run of blocks one claim hands a worker: 128 MiB. */
const RUN_BLOCKS = 256;

/** One upload session of a job: implements UploadRun. */
export class UploadSession implements UploadRun {
  readonly jobId: string;
  readonly done: Promise<UploadReport>;
  private resolveDone!: (r: UploadReport) => void;
  private rejectDone!: (e: unknown) => void;
  private ledger!: BlockLedger;
  private map: Uint8Array;
  private phase: UploadPhase = 'starting';
  private progressSubs = new Set<(p: UploadProgress) => void>();
  private blockSubs = new Set<(u: BlockUpdates) => void>();
  private last: UploadProgress;
  private lastEmit = 0;
  /** The emit owed for progress that arrived inside the throttle interval (so the last state is always shown). */
  private trailingEmit: ReturnType<typeof setTimeout> | null = null;
  private retried = 0;
  private inFlight = new Map<PipelineRunner, number>();
  private concurrency = new Map<PipelineRunner, number>();
  /** Runners whose service stopped answering (their retries wait for it). */
  private waitingRunners = new Set<PipelineRunner>();
  /** The service answered in this session (StartSnapshot, or a block written): later silences are outages. */
  private answered = false;
  private sessionStart = Date.now();
  private sessionBytes = 0;
  private speed = 0;
  private speedAt = Date.now();
  private speedBytes = 0;
  private pauseRequested = false;
  private cancelRequested = false;
  private releaseRequested = false;
  private resumeWaiter: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private cursor = 0;
  /** What this run does with empty blocks: the job's choice, as the StartSnapshot answer allowed. */
  private zero: ZeroBlocksDecision;

  constructor(
    private job: JobRecord,
    private readonly deps: SessionDeps,
  ) {
    this.jobId = job.id;
    this.done = new Promise((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // Callers may only look at `done` later; an unobserved rejection must not crash Node.
    this.done.catch(() => undefined);
    this.map = new Uint8Array(deps.blockCount);
    this.zero = this.zeroDecision();
    this.last = this.sample();
  }

  /** Loads the ledger and runs the session to its end in the background. */
  async start(): Promise<this> {
    this.ledger = await BlockLedger.open(this.deps.store, this.job, this.deps.blockCount);
    for (let i = 0; i < this.deps.blockCount; i++) {
      if (this.ledger.isWritten(i)) this.map[i] = BlockMark.Written;
      else if (this.ledger.isSkipped(i)) this.map[i] = BlockMark.Skipped;
    }
    this.running = this.main().then(
      (r) => this.resolveDone(r),
      (e) => this.rejectDone(e),
    );
    void this.running.finally(() => this.deps.onEnd?.());
    return this;
  }

  onProgress(cb: (p: UploadProgress) => void): () => void {
    this.progressSubs.add(cb);
    cb(this.last);
    return () => this.progressSubs.delete(cb);
  }

  onBlocks(cb: (u: BlockUpdates) => void): () => void {
    this.blockSubs.add(cb);
    return () => this.blockSubs.delete(cb);
  }

  blockMap(): Uint8Array {
    return this.map.slice();
  }

  progress(): UploadProgress {
    return this.last;
  }

  async pause(): Promise<void> {
    if (this.phase !== 'uploading') return;
    this.pauseRequested = true;
    await Promise.all(this.deps.runners.map((r) => r.stop()));
    // Resolve once the blocks in flight are settled and recorded.
    await new Promise<void>((resolve) => {
      const off = this.onProgress((p) => {
        if (p.phase !== 'uploading') {
          queueMicrotask(() => off());
          resolve();
        }
      });
    });
  }

  resume(): void {
    this.pauseRequested = false;
    const w = this.resumeWaiter;
    this.resumeWaiter = null;
    w?.();
  }

  async cancel(): Promise<void> {
    this.cancelRequested = true;
    await Promise.all(this.deps.runners.map((r) => r.stop()));
    this.resume();
    await this.running?.catch(() => undefined);
  }

  /** Stops after the blocks in flight and ends this session, leaving the job paused (another tab takes over). */
  async release(): Promise<void> {
    this.releaseRequested = true;
    await Promise.all(this.deps.runners.map((r) => r.stop()));
    const w = this.resumeWaiter;
    this.resumeWaiter = null;
    w?.();
    await this.running?.catch(() => undefined);
  }

  /** The decision recorded after StartSnapshot; before it (or in a dry run, or for older records) the request's. */
  private zeroDecision(): ZeroBlocksDecision {
    const j = this.job;
    if (j.skipZeros !== undefined) return { skip: j.skipZeros, ...(j.zeroBlocksNote ? { note: j.zeroBlocksNote } : {}) };
    return decideZeroBlocks({ choice: zeroBlocksChoice(j), ...j.params, sseType: j.sseType });
  }

  private get ebs(): EBSClient {
    if (!this.deps.ebs) throw new Error('no EBS client (dry run)');
    return this.deps.ebs;
  }

  private async main(): Promise<UploadReport> {
    const dry = this.deps.ebs === null;
    try {
      if (!dry && !this.job.snapshotId) await this.startSnapshot();
      this.zero = this.zeroDecision();
      this.setJob({ state: 'running', error: undefined });
      for (;;) {
        this.setPhase('uploading');
        let failure = await this.uploadPass();
        await this.ledger.flush();
        if (failure) failure = await this.explainFailure(failure);
        if (failure) {
          this.setJob({ state: 'error', error: failure.message });
          await this.ledger.flush();
          this.setPhase('error');
          throw new UploadError(failure.message, failure.code, failure.action);
        }
        if (this.cancelRequested) {
          this.setJob({ state: 'cancelled' });
          await this.ledger.flush();
          const cancelled = await this.deleteCancelledSnapshot();
          this.setPhase('cancelled');
          throw cancelled;
        }
        if (this.releaseRequested) {
          this.setJob({ state: 'paused' });
          await this.ledger.flush();
          this.setPhase('paused');
          throw new UploadError('This upload was taken over by another tab; it continues there.', 'taken-over', 'takeover');
        }
        if (this.pauseRequested) {
          this.setJob({ state: 'paused' });
          this.setPhase('paused');
          await new Promise<void>((r) => (this.resumeWaiter = r));
          if (this.cancelRequested || this.releaseRequested) continue;
          this.setJob({ state: 'running' });
          continue;
        }
        if (this.ledger.writtenCount + this.ledger.skippedCount >= this.deps.blockCount) break;
      }
      return await this.complete(dry);
    } catch (err) {
      if (err instanceof UploadError) throw err;
      const f = describeFailure(err, { snapshotId: this.job.snapshotId });
      this.setJob({ state: 'error', error: f.message });
      await this.ledger.flush().catch(() => undefined);
      this.setPhase('error');
      throw new UploadError(f.message, f.code, f.action);
    }
  }

  /**
   * After a failed pass (a long silence, a snapshot that vanished), asks EC2 what became of the snapshot: one that timed
   * out meanwhile gets the expired sentence and the way forward (start again), as a resume would find.
   */
  private async explainFailure(failure: FailureInfo): Promise<FailureInfo> {
    if (!this.deps.ec2 || !this.job.snapshotId || !['offline', 'snapshot-gone', 'service'].includes(failure.code)) return failure;
    try {
      await checkResumableSnapshot(this.deps.ec2, this.job);
      return failure;
    } catch (err) {
      const e = err as { message?: string; code?: string; action?: FailureInfo['action'] };
      if (e.code !== 'snapshot-expired' && e.code !== 'snapshot-gone' && e.code !== 'snapshot-failed') return failure;
      return { message: e.message ?? failure.message, code: e.code, ...(e.action ? { action: e.action } : {}) };
    }
  }

  /**
   * A cancelled upload's snapshot can never complete: delete it now rather than leave it counting against the
   * 100-pending limit until it times out. Returns the error `done` rejects with, saying what became of it.
   */
  private async deleteCancelledSnapshot(): Promise<UploadError> {
    const id = this.job.snapshotId;
    if (!id) return new UploadError('The upload was cancelled before its snapshot was started; nothing is left behind.', 'cancelled');
    if (!this.deps.ec2) return new UploadError(`The upload was cancelled; its pending snapshot ${id} will time out on its own.`, 'cancelled');
    try {
      const outcome = await deleteAbandonedSnapshot(this.deps.ec2, this.job);
      // Cancel is refused while completing, so a completed snapshot here is a surprise: it is the result, kept.
      if (outcome === 'kept-completed') return new UploadError(`The upload was cancelled, but its snapshot ${id} had completed already; it is kept.`, 'cancelled');
      this.setJob({ snapshotDeleted: true, error: undefined });
      await this.ledger.flush().catch(() => undefined);
      return new UploadError(
        outcome === 'already-gone' ? `The upload was cancelled; its snapshot ${id} no longer exists.` : `The upload was cancelled and its pending snapshot ${id} was deleted.`,
        'cancelled',
      );
    } catch (err) {
      const sentence = err instanceof UploadError ? err.message : describeFailure(err).message;
      this.setJob({ error: sentence });
      await this.ledger.flush().catch(() => undefined);
      // 'discard': the way forward is to delete it again (and forget the job) under Jobs.
      return new UploadError(`The upload was cancelled. ${sentence}`, 'cancelled', 'discard');
    }
  }

  private async startSnapshot(): Promise<void> {
    const p = this.job.params;
    // The ClientToken is already in the ledger (saved when the job was created), so a retried start is idempotent.
    const out = await withRetry(
      () =>
        this.ebs.send(
          new StartSnapshotCommand({
            VolumeSize: p.volumeSizeGiB,
            ClientToken: this.job.clientToken,
            Timeout: p.timeoutMinutes,
            ...(p.description ? { Description: p.description } : {}),
            ...(p.tags && Object.keys(p.tags).length ? { Tags: Object.entries(p.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
            ...(p.encrypted ? { Encrypted: true } : {}),
            ...(p.kmsKeyArn ? { KmsKeyArn: p.kmsKeyArn } : {}),
            ...(p.parentSnapshotId ? { ParentSnapshotId: p.parentSnapshotId } : {}),
          }),
        ),
      { onRetry: () => this.retried++ },
    );
    if (!out.SnapshotId) throw new UploadError('StartSnapshot returned no snapshot id; try again.', 'service');
    this.answered = true;
    const now = Date.now();
    // The service's answer, not the request, says whether the snapshot is encrypted; the decision is kept with the id.
    const sseType = out.SseType ?? 'none';
    const zero = decideZeroBlocks({ choice: zeroBlocksChoice(this.job), ...p, sseType });
    const counters = zero.skip ? this.job.counters : { ...this.job.counters, blocksToSend: p.parentSnapshotId ? this.job.counters.blocksToSend : this.deps.blockCount };
    this.setJob({
      snapshotId: out.SnapshotId,
      startedAt: now,
      expiresAt: now + p.timeoutMinutes * 60_000,
      sseType,
      skipZeros: zero.skip,
      ...(zero.note ? { zeroBlocksNote: zero.note } : {}),
      counters,
    });
    await this.ledger.flush();
    this.emit(true);
  }

  private claim = async (): Promise<Slice | null> => {
    const { blockCount, sliceBlocks, blockStates } = this.deps;
    const skipZeros = this.zero.skip;
    while (this.cursor < blockCount) {
      if (this.pauseRequested || this.cancelRequested || this.releaseRequested) return null;
      const first = this.cursor;
      // Runs of many slices, so a worker reads one stream a long way, shrinking towards the end so the workers
      // finish together (guided self-scheduling: a share of what is left, between one slice and RUN_BLOCKS).
      const left = blockCount - first;
      const count = Math.min(left, Math.max(sliceBlocks, Math.min(RUN_BLOCKS, Math.ceil(left / (2 * this.deps.runners.length)))));
      this.cursor += count;
      // Slices with nothing to do never cross to a worker.
      for (let i = first; i < first + count; i++) {
        if (this.ledger.isDone(i)) continue;
        if (skipZeros && blockStates[i] !== BlockState.Data) {
          this.ledger.markSkipped(i);
          this.map[i] = BlockMark.Skipped;
          continue;
        }
        return { first, count };
      }
    }
    return null;
  };

  private async uploadPass(): Promise<FailureInfo | null> {
    this.cursor = 0;
    const done = this.ledger.doneBitmap();
    const n = this.deps.runners.length;
    const spec: PipelineSpec = {
      ...(this.job.snapshotId ? { snapshotId: this.job.snapshotId } : {}),
      blockCount: this.deps.blockCount,
      done,
      blockStates: this.deps.blockStates,
      skipZeros: this.zero.skip,
      ...(this.deps.parent ? { parent: this.deps.parent } : {}),
      floor: Math.max(1, Math.floor(this.deps.floor / n)),
      ceiling: Math.max(1, Math.ceil(this.deps.ceiling / n)),
      sliceBlocks: this.deps.sliceBlocks,
      silenceLimitMs: this.job.params.timeoutMinutes * 60_000,
      linkAnswered: this.answered,
    };
    const outcomes = await Promise.all(
      this.deps.runners.map((r) =>
        r.run(spec, this.claim, (b) => this.onBatch(r, b)).catch((err): PipelineOutcome => ({ kind: 'failed', failure: describeFailure(err) })),
      ),
    );
    this.inFlight.clear();
    this.waitingRunners.clear();
    const failed = outcomes.find((o) => o.kind === 'failed');
    if (failed && failed.kind === 'failed') {
      // One pipeline failed for good: stop the others so nothing more is sent.
      await Promise.all(this.deps.runners.map((r) => r.stop()));
      return failed.failure;
    }
    return null;
  }

  /** Records a batch; resolves once its written blocks are committed to the ledger (a store failure is reported by the session, not here). */
  private onBatch(r: PipelineRunner, b: PipelineBatch): Promise<void> | void {
    const updates: number[] = [];
    for (let k = 0; k < b.written.length; k++) {
      const i = b.written[k]!;
      this.ledger.markWritten(i, b.digests.subarray(k * 32, k * 32 + 32));
      this.map[i] = BlockMark.Written;
      updates.push(i, BlockMark.Written);
    }
    for (const i of b.skipped) {
      this.ledger.markSkipped(i);
      this.map[i] = BlockMark.Skipped;
      updates.push(i, BlockMark.Skipped);
    }
    for (const i of b.started) {
      if (this.map[i] === BlockMark.Pending) {
        this.map[i] = BlockMark.InFlight;
        updates.push(i, BlockMark.InFlight);
      }
    }
    for (const i of b.retrying) {
      if (this.map[i] !== BlockMark.Written) {
        this.map[i] = BlockMark.Retrying;
        updates.push(i, BlockMark.Retrying);
      }
    }
    this.retried += b.retried;
    if (b.written.length) this.answered = true;
    this.inFlight.set(r, b.inFlight);
    this.concurrency.set(r, b.concurrency);
    if (b.waiting) this.waitingRunners.add(r);
    else this.waitingRunners.delete(r);
    const bytes = b.written.length * BLOCK_SIZE;
    this.sessionBytes += bytes;
    this.speedBytes += bytes;
    if (b.written.length && this.job.snapshotId) this.job.expiresAt = Date.now() + this.job.params.timeoutMinutes * 60_000;
    if (updates.length) {
      const u = Uint32Array.from(updates);
      for (const cb of this.blockSubs) cb(u);
    }
    this.emit(false);
    if (b.written.length) return this.ledger.flush().catch(() => undefined);
  }

  private async complete(dry: boolean): Promise<UploadReport> {
    const l = this.ledger;
    const aggregate = await linearAggregate(l.concatenatedDigests(), this.deps.sha256);
    const written = l.writtenCount;
    let state: 'completed' | 'error' = 'completed';
    let stateMessage: string | undefined;
    const snapshotId = this.job.snapshotId ?? '';
    if (!dry) {
      this.setPhase('completing');
      this.setJob({ state: 'completing' });
      await l.flush();
      await withRetry(
        () =>
          this.ebs.send(
            new CompleteSnapshotCommand({
              SnapshotId: snapshotId,
              ChangedBlocksCount: written,
              Checksum: aggregate,
              ChecksumAlgorithm: 'SHA256',
              ChecksumAggregationMethod: 'LINEAR',
            }),
          ),
        { onRetry: () => this.retried++ },
      );
      this.setPhase('waiting');
      const verdict = await waitForCompletion({ ebs: this.ebs, ec2: this.deps.ec2, snapshotId, maxWaitMs: this.deps.completionWaitMs });
      state = verdict.state;
      stateMessage = verdict.message;
    }
    const durationMs = Date.now() - this.sessionStart;
    const report: UploadReport = {
      jobId: this.jobId,
      snapshotId,
      state,
      ...(stateMessage ? { stateMessage } : {}),
      volumeSizeGiB: this.job.params.volumeSizeGiB,
      blocksWritten: written,
      blocksSkipped: l.skippedCount,
      bytesWritten: written * BLOCK_SIZE,
      aggregateChecksum: aggregate,
      changedBlocksCount: written,
      durationMs,
      avgMiBps: durationMs > 0 ? this.sessionBytes / 1048576 / (durationMs / 1000) : 0,
      ...(this.zero.note ? { zeroBlocksNote: this.zero.note } : {}),
    };
    if (state === 'completed' && !dry && this.deps.manifest) {
      const indices = Uint32Array.from(l.writtenIndices());
      await this.deps.manifest({ snapshotId, volumeSizeGiB: this.job.params.volumeSizeGiB, indices, digests: l.concatenatedDigests(), imageSize: this.job.virtualSize }).catch(() => undefined);
    }
    this.setJob({ state: state === 'completed' ? 'completed' : 'error', report, ...(stateMessage ? { error: stateMessage } : {}) });
    await l.flush();
    this.setPhase(state === 'completed' ? 'completed' : 'error');
    return report;
  }

  private setJob(patch: Partial<JobRecord>): void {
    this.ledger.updateJob(patch);
    this.job = this.ledger.job;
  }

  private setPhase(p: UploadPhase): void {
    this.phase = p;
    this.emit(true);
  }

  private sample(): UploadProgress {
    const l = this.ledger as BlockLedger | undefined;
    const written = l?.writtenCount ?? this.job.counters.writtenBlocks;
    const skipped = l?.skippedCount ?? this.job.counters.skippedBlocks;
    let inFlight = 0;
    for (const v of this.inFlight.values()) inFlight += v;
    let concurrency = 0;
    for (const v of this.concurrency.values()) concurrency += v;
    const total = this.deps.blockCount;
    const remaining = total - written - skipped;
    const speedMiBps = this.speed;
    const etaSeconds = this.phase === 'uploading' && speedMiBps > 0 ? (remaining * BLOCK_SIZE) / 1048576 / speedMiBps : null;
    return {
      jobId: this.jobId,
      phase: this.phase,
      ...(this.job.snapshotId ? { snapshotId: this.job.snapshotId } : {}),
      totalBlocks: total,
      ackedBlocks: written + skipped,
      skippedBlocks: skipped,
      writtenBlocks: written,
      blocksToSend: Math.max(written, total - skipped),
      retried: this.retried,
      inFlight,
      bytesAcked: written * BLOCK_SIZE,
      speedMiBps,
      etaSeconds: etaSeconds === null ? null : Math.round(etaSeconds),
      concurrency: concurrency || this.deps.ceiling,
      ...this.windowNote(concurrency),
      ...(this.phase === 'uploading' && this.waitingRunners.size ? { waitingForNetwork: true } : {}),
      ...(this.job.expiresAt ? { expiresAt: this.job.expiresAt } : {}),
      ...(this.zero?.note ? { zeroBlocksNote: this.zero.note } : {}),
    };
  }

  private windowNote(concurrency: number): { windowNote?: string } {
    const reason = this.deps.ceilingReason;
    const note = reason && this.phase === 'uploading' ? ceilingNote({ ceiling: this.deps.ceiling, reason }, concurrency) : undefined;
    return note ? { windowNote: note } : {};
  }

  private emit(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastEmit < PROGRESS_EVERY_MS) {
      this.trailingEmit ??= setTimeout(() => {
        this.trailingEmit = null;
        this.emit(false);
      }, PROGRESS_EVERY_MS - (now - this.lastEmit));
      return;
    }
    if (this.trailingEmit) clearTimeout(this.trailingEmit);
    this.trailingEmit = null;
    // Smoothed speed: EWMA over the intervals between samples.
    const dt = (now - this.speedAt) / 1000;
    if (dt >= 0.2) {
      const inst = this.speedBytes / 1048576 / dt;
      this.speed = this.speed === 0 ? inst : this.speed * 0.7 + inst * 0.3;
      this.speedAt = now;
      this.speedBytes = 0;
    }
    this.lastEmit = now;
    this.last = this.sample();
    for (const cb of this.progressSubs) cb(this.last);
  }
}
