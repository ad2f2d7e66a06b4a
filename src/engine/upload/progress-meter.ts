// A session's progress: samples of counts, speed, window and phase, sent to subscribers at most every 200 ms (and at
// every phase change), the last state always shown.
import { BLOCK_SIZE } from '../../images/types.ts';
import type { PipelineBatch } from '../block-pipeline.ts';
import type { UploadPhase, UploadProgress } from '../upload-types.ts';
import { ceilingNote, type CeilingReason } from '../window-ceiling.ts';

/** Progress samples at most this often (ms), plus every phase change. */
const PROGRESS_EVERY_MS = 200;

/** What the session knows of its job when a sample is taken. */
export interface JobCounts {
  written: number;
  skipped: number;
  snapshotId?: string;
  expiresAt?: number;
  zeroBlocksNote?: string;
}

/** Measures one session: blocks acknowledged, speed, the pipelines' windows, the phase. */
export class ProgressMeter {
  private phaseNow: UploadPhase = 'starting';
  private readonly subs = new Set<(p: UploadProgress) => void>();
  private last: UploadProgress;
  private lastEmit = 0;
  /** The emit owed for progress that arrived inside the throttle interval (so the last state is always shown). */
  private trailingEmit: ReturnType<typeof setTimeout> | null = null;
  private retried = 0;
  /** Per pipeline (keyed by its runner): blocks in flight, its window, and whether its service stopped answering. */
  private inFlight = new Map<unknown, number>();
  private concurrency = new Map<unknown, number>();
  private waitingRunners = new Set<unknown>();
  private readonly sessionStart = Date.now();
  private sessionBytes = 0;
  private speed = 0;
  private speedAt = Date.now();
  private speedBytes = 0;

  constructor(
    private readonly jobId: string,
    /** `sharedPacer`: the pipelines send under one pacer (each then reports the link's window, not a share of it). */
    private readonly window: { blockCount: number; ceiling: number; ceilingReason?: CeilingReason; sharedPacer?: boolean },
    private readonly counts: () => JobCounts,
  ) {
    this.last = this.sample();
  }

  get phase(): UploadPhase {
    return this.phaseNow;
  }

  /** Enters a phase and tells the subscribers at once. */
  setPhase(p: UploadPhase): void {
    this.phaseNow = p;
    this.emit(true);
  }

  /** The latest sample. */
  progress(): UploadProgress {
    return this.last;
  }

  /** Calls cb with the latest sample now and with every later one; returns the unsubscribe. */
  onProgress(cb: (p: UploadProgress) => void): () => void {
    this.subs.add(cb);
    cb(this.last);
    return () => this.subs.delete(cb);
  }

  /** Retries of the session's own requests (StartSnapshot, CompleteSnapshot). */
  retry(): void {
    this.retried++;
  }

  /** Takes in a pipeline's batch (runner: which pipeline sent it). */
  batch(runner: unknown, b: PipelineBatch): void {
    this.retried += b.retried;
    this.inFlight.set(runner, b.inFlight);
    this.concurrency.set(runner, b.concurrency);
    if (b.waiting) this.waitingRunners.add(runner);
    else this.waitingRunners.delete(runner);
    const bytes = b.written.length * BLOCK_SIZE;
    this.sessionBytes += bytes;
    this.speedBytes += bytes;
  }

  /** A pass over the image ended: no block is in flight and no pipeline waits for the network. */
  passEnded(): void {
    this.inFlight.clear();
    this.waitingRunners.clear();
  }

  /** The session's time so far and its average speed over it, for the report. */
  throughput(): { durationMs: number; avgMiBps: number } {
    const durationMs = Date.now() - this.sessionStart;
    return { durationMs, avgMiBps: durationMs > 0 ? this.sessionBytes / 1048576 / (durationMs / 1000) : 0 };
  }

  /** Samples and tells the subscribers; unless forced, at most every PROGRESS_EVERY_MS (the rest is owed, then sent). */
  emit(force: boolean): void {
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
    for (const cb of this.subs) cb(this.last);
  }

  private sample(): UploadProgress {
    const c = this.counts();
    const { written, skipped } = c;
    let inFlight = 0;
    for (const v of this.inFlight.values()) inFlight += v;
    // Pipelines pacing themselves each report their own window; pipelines sharing one pacer each report the link's.
    let concurrency = 0;
    for (const v of this.concurrency.values()) concurrency = this.window.sharedPacer ? Math.max(concurrency, v) : concurrency + v;
    const total = this.window.blockCount;
    const remaining = total - written - skipped;
    const speedMiBps = this.speed;
    const uploading = this.phaseNow === 'uploading';
    const etaSeconds = uploading && speedMiBps > 0 ? (remaining * BLOCK_SIZE) / 1048576 / speedMiBps : null;
    return {
      jobId: this.jobId,
      phase: this.phaseNow,
      ...(c.snapshotId ? { snapshotId: c.snapshotId } : {}),
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
      concurrency: concurrency || this.window.ceiling,
      ...this.windowNote(concurrency),
      ...(uploading && this.waitingRunners.size ? { waitingForNetwork: true } : {}),
      ...(c.expiresAt ? { expiresAt: c.expiresAt } : {}),
      ...(c.zeroBlocksNote ? { zeroBlocksNote: c.zeroBlocksNote } : {}),
    };
  }

  private windowNote(concurrency: number): { windowNote?: string } {
    const { ceiling, ceilingReason: reason } = this.window;
    const note = reason && this.phaseNow === 'uploading' ? ceilingNote({ ceiling, reason }, concurrency) : undefined;
    return note ? { windowNote: note } : {};
  }
}
