// The coordinator of one upload: start (ClientToken first), hand slices to pipelines, record acks, complete, wait.
// Its parts: the claim scheduler (who reads what), the block map, and the progress meter.
import { CompleteSnapshotCommand, StartSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { BLOCK_SIZE } from '../../images/types.ts';
import { UploadError, type BlockUpdates, type JobRecord, type UploadPhase, type UploadProgress, type UploadReport, type UploadRun } from '../upload-types.ts';
import { linearAggregate } from '../aggregate.ts';
import type { Sha256 } from '../block-digest.ts';
import type { PipelineBatch, PipelineOutcome, PipelineSpec, Slice } from '../block-pipeline.ts';
import { describeFailure, type FailureInfo } from '../failure.ts';
import { deleteAbandonedSnapshot } from './snapshot-cleanup.ts';
import { checkResumableSnapshot } from './resume-check.ts';
import { BlockLedger, type LedgerStore } from '../ledger.ts';
import { Pacer } from '../pacer.ts';
import { leasePacer, type PacerPort } from '../pacer-lease.ts';
import { withRetry } from '../retry.ts';
import type { CeilingReason } from '../window-ceiling.ts';
import { waitForCompletion } from './wait-completion.ts';
import { decideZeroBlocks, serviceEncrypts, zeroBlocksChoice, type ZeroBlocksDecision } from '../zero-blocks.ts';
import { BlockMap } from './block-map.ts';
import { ClaimScheduler } from './claim-scheduler.ts';
import { ProgressMeter, type JobCounts } from './progress-meter.ts';

/** A pipeline in a worker or in-process: runs slices claimed from the session. */
export interface PipelineRunner {
  /**
   * onBatch may return a promise: the pipeline holds the written blocks' slots until it resolves (durable). `pacer`:
   * the pipeline's lease on the pass's one pacer, shared by all its pipelines (see pacer-lease.ts).
   */
  run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacer?: PacerPort): Promise<PipelineOutcome>;
  stop(): void | Promise<void>;
}

/** Receives the per-block digests of a completed snapshot (kept as its manifest, so a later version sends only what changed). */
export type ManifestSink = (args: { snapshotId: string; volumeSizeGiB: number; indices: Uint32Array; digests: Uint8Array; imageSize: number }) => Promise<void>;

/** What a session needs: jobSession (upload/job.ts) assembles it for a job's pipelines, completionSession for a completion alone. */
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
  /**
   * The pipelines send over one network link (a tab's workers to a service): they share one pacer. Not when each has a
   * sink of its own (the in-browser emulator opened in each worker), where each paces itself.
   */
  sharedLink?: boolean;
}

/** One upload session of a job: implements UploadRun. */
export class UploadSession implements UploadRun {
  readonly jobId: string;
  readonly done: Promise<UploadReport>;
  private resolveDone!: (r: UploadReport) => void;
  private rejectDone!: (e: unknown) => void;
  private ledger!: BlockLedger;
  private readonly blocks: BlockMap;
  private readonly claims: ClaimScheduler;
  private readonly meter: ProgressMeter;
  /** Several pipelines send over one link: each pass lends them one pacer (and the meter shows its window once). */
  private readonly sharesPacer: boolean;
  /** The service answered in this session (StartSnapshot, or a block written): later silences are outages. */
  private answered = false;
  private pauseRequested = false;
  private cancelRequested = false;
  private releaseRequested = false;
  private resumeWaiter: (() => void) | null = null;
  private running: Promise<void> | null = null;
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
    this.blocks = new BlockMap(deps.blockCount);
    this.claims = new ClaimScheduler({ blockCount: deps.blockCount, sliceBlocks: deps.sliceBlocks, runners: deps.runners.length, blockStates: deps.blockStates });
    this.zero = this.zeroDecision();
    this.sharesPacer = deps.runners.length > 1 && deps.sharedLink === true;
    this.meter = new ProgressMeter(job.id, { blockCount: deps.blockCount, ceiling: deps.ceiling, sharedPacer: this.sharesPacer, ...(deps.ceilingReason ? { ceilingReason: deps.ceilingReason } : {}) }, () => this.counts());
  }

  /** Loads the ledger and runs the session to its end in the background. */
  async start(): Promise<this> {
    this.ledger = await BlockLedger.open(this.deps.store, this.job, this.deps.blockCount);
    this.blocks.load(this.ledger);
    this.running = this.main().then(
      (r) => this.resolveDone(r),
      (e) => this.rejectDone(e),
    );
    void this.running.finally(() => this.deps.onEnd?.());
    return this;
  }

  onProgress(cb: (p: UploadProgress) => void): () => void {
    return this.meter.onProgress(cb);
  }

  onBlocks(cb: (u: BlockUpdates) => void): () => void {
    return this.blocks.onBlocks(cb);
  }

  blockMap(): Uint8Array {
    return this.blocks.copy();
  }

  progress(): UploadProgress {
    return this.meter.progress();
  }

  async pause(): Promise<void> {
    if (this.meter.phase !== 'uploading') return;
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
    const decided = decideZeroBlocks({ choice: zeroBlocksChoice(j), ...j.params, sseType: j.sseType });
    if (j.skipZeros === undefined) return decided;
    const fill = j.fillParentHoles ?? decided.fillParentHoles;
    return { skip: j.skipZeros, ...(fill ? { fillParentHoles: true } : {}), ...(j.zeroBlocksNote ? { note: j.zeroBlocksNote } : {}) };
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
      { onRetry: () => this.meter.retry() },
    );
    if (!out.SnapshotId) throw new UploadError('StartSnapshot returned no snapshot id; try again.', 'service');
    this.answered = true;
    const now = Date.now();
    // The service's answer, not the request, says whether the snapshot is encrypted; the decision is kept with the id.
    const sseType = out.SseType ?? 'none';
    const parentEncrypted = p.parentSnapshotId && !serviceEncrypts(sseType) ? await this.parentIsEncrypted(p.parentSnapshotId) : false;
    const zero = decideZeroBlocks({ choice: zeroBlocksChoice(this.job), ...p, sseType, parentEncrypted });
    const counters = zero.skip ? this.job.counters : { ...this.job.counters, blocksToSend: p.parentSnapshotId ? this.job.counters.blocksToSend : this.deps.blockCount };
    this.setJob({
      snapshotId: out.SnapshotId,
      startedAt: now,
      expiresAt: now + p.timeoutMinutes * 60_000,
      sseType,
      skipZeros: zero.skip,
      ...(zero.note ? { zeroBlocksNote: zero.note } : {}),
      ...(zero.fillParentHoles ? { fillParentHoles: true } : {}),
      counters,
    });
    await this.ledger.flush();
    this.meter.emit(true);
  }

  /**
   * Whether EC2 describes the parent as encrypted: asked only when StartSnapshot's answer did not say the new version
   * is encrypted (the service's word normally carries the parent's encryption). Unknown (no EC2, refused) = no.
   */
  private async parentIsEncrypted(parentId: string): Promise<boolean> {
    if (!this.deps.ec2) return false;
    try {
      const out = await this.deps.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [parentId] }));
      return out.Snapshots?.[0]?.Encrypted === true;
    } catch {
      return false;
    }
  }

  private claim = async (): Promise<Slice | null> => {
    if (this.pauseRequested || this.cancelRequested || this.releaseRequested) return null;
    return this.claims.next(
      {
        isDone: (i) => this.ledger.isDone(i),
        skip: (i) => {
          this.ledger.markSkipped(i);
          this.blocks.skip(i);
        },
      },
      this.zero.skip,
    );
  };

  private async uploadPass(): Promise<FailureInfo | null> {
    this.claims.restart();
    const done = this.ledger.doneBitmap();
    const n = this.deps.runners.length;
    const spec: PipelineSpec = {
      ...(this.job.snapshotId ? { snapshotId: this.job.snapshotId } : {}),
      blockCount: this.deps.blockCount,
      done,
      blockStates: this.deps.blockStates,
      skipZeros: this.zero.skip,
      ...(this.zero.fillParentHoles ? { fillParentHoles: true } : {}),
      ...(this.deps.parent ? { parent: this.deps.parent } : {}),
      floor: Math.max(1, Math.floor(this.deps.floor / n)),
      ceiling: Math.max(1, Math.ceil(this.deps.ceiling / n)),
      sliceBlocks: this.deps.sliceBlocks,
      silenceLimitMs: this.job.params.timeoutMinutes * 60_000,
      linkAnswered: this.answered,
    };
    // One pacer for the link when several pipelines share it (a tab's workers): pacers of their own each took the
    // others' queue for the link's round trip, and together kept about ten times its bandwidth-delay product in flight.
    const pacer = this.sharesPacer ? new Pacer({ floor: this.deps.floor, ceiling: this.deps.ceiling }) : null;
    const outcomes = await Promise.all(
      this.deps.runners.map((r) => {
        const lease = pacer && leasePacer(pacer);
        return r
          .run(spec, this.claim, (b) => this.onBatch(r, b), lease?.port)
          .catch((err): PipelineOutcome => ({ kind: 'failed', failure: describeFailure(err) }))
          .finally(() => lease?.close());
      }),
    );
    this.meter.passEnded();
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
    for (let k = 0; k < b.written.length; k++) this.ledger.markWritten(b.written[k]!, b.digests.subarray(k * 32, k * 32 + 32));
    for (const i of b.skipped) this.ledger.markSkipped(i);
    this.blocks.record(b);
    this.meter.batch(r, b);
    if (b.written.length) this.answered = true;
    if (b.written.length && this.job.snapshotId) this.job.expiresAt = Date.now() + this.job.params.timeoutMinutes * 60_000;
    this.meter.emit(false);
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
        { onRetry: () => this.meter.retry() },
      );
      this.setPhase('waiting');
      const verdict = await waitForCompletion({ ebs: this.ebs, ec2: this.deps.ec2, snapshotId, maxWaitMs: this.deps.completionWaitMs });
      state = verdict.state;
      stateMessage = verdict.message;
    }
    const { durationMs, avgMiBps } = this.meter.throughput();
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
      avgMiBps,
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
    this.meter.setPhase(p);
  }

  /** What a progress sample shows of the job: the ledger's counts once it is open, the record's before. */
  private counts(): JobCounts {
    const l = this.ledger as BlockLedger | undefined;
    return {
      written: l?.writtenCount ?? this.job.counters.writtenBlocks,
      skipped: l?.skippedCount ?? this.job.counters.skippedBlocks,
      ...(this.job.snapshotId ? { snapshotId: this.job.snapshotId } : {}),
      ...(this.job.expiresAt ? { expiresAt: this.job.expiresAt } : {}),
      ...(this.zero?.note ? { zeroBlocksNote: this.zero.note } : {}),
    };
  }
}
