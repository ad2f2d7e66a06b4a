// An upload whose packed disk is first unpacked to the browser's storage: the run the page shows from the click on
// (phase 'unpacking' with its share done), which becomes the upload session's run once the disk is unpacked.
import { UploadError, type BlockUpdates, type UploadProgress, type UploadReport, type UploadRun } from '../upload-types.ts';

/** The work before the upload: unpack, record the job, start the session. `progress` takes 0–1. */
export type Preparation = (progress: (fraction: number) => void, cancelled: () => boolean) => Promise<UploadRun>;

/** An UploadRun that reports 'unpacking' until `prepare` gives the real run, then forwards everything to it. */
export class UnpackingRun implements UploadRun {
  readonly done: Promise<UploadReport>;
  private inner: UploadRun | null = null;
  private last: UploadProgress;
  private progressSubs = new Set<(p: UploadProgress) => void>();
  private blockSubs = new Set<(u: BlockUpdates) => void>();
  /** How to unsubscribe each subscriber from the session, once it was handed over. */
  private innerOffs = new Map<unknown, () => void>();
  private cancelRequested = false;
  private abort: (() => void) | null = null;

  constructor(
    readonly jobId: string,
    /** Blocks of the disk, as far as the plan knows them before unpacking. */
    totalBlocks: number,
    prepare: Preparation,
    /** Stops the unpacking at once (terminates its worker). */
    abort: () => void,
    /** What `done` says when the unpacking was cancelled. */
    private readonly cancelledSentence: string,
  ) {
    this.abort = abort;
    this.last = {
      jobId,
      phase: 'unpacking',
      unpackPercent: 0,
      totalBlocks,
      ackedBlocks: 0,
      skippedBlocks: 0,
      writtenBlocks: 0,
      blocksToSend: totalBlocks,
      retried: 0,
      inFlight: 0,
      bytesAcked: 0,
      speedMiBps: 0,
      etaSeconds: null,
      concurrency: 0,
    };
    let lastPercent = 0;
    this.done = prepare(
      (fraction) => {
        const pct = Math.min(100, Math.floor(fraction * 100));
        if (pct === lastPercent || this.inner) return;
        lastPercent = pct;
        this.emit({ ...this.last, unpackPercent: pct });
      },
      () => this.cancelRequested,
    ).then(
      (run) => {
        this.abort = null;
        this.inner = run;
        // Subscribers move to the session; its first sample replaces the unpacking one at once.
        for (const cb of this.progressSubs) this.innerOffs.set(cb, run.onProgress(cb));
        for (const cb of this.blockSubs) this.innerOffs.set(cb, run.onBlocks(cb));
        return run.done;
      },
      (err: unknown) => {
        this.abort = null;
        if (this.cancelRequested) throw new UploadError(this.cancelledSentence, 'cancelled');
        this.emit({ ...this.last, phase: 'error' });
        throw err;
      },
    );
    this.done.catch(() => undefined);
  }

  private emit(p: UploadProgress): void {
    this.last = p;
    for (const cb of this.progressSubs) cb(p);
  }

  onProgress(cb: (p: UploadProgress) => void): () => void {
    if (this.inner) return this.inner.onProgress(cb);
    this.progressSubs.add(cb);
    cb(this.last);
    return () => {
      this.progressSubs.delete(cb);
      this.innerOffs.get(cb)?.();
    };
  }

  onBlocks(cb: (u: BlockUpdates) => void): () => void {
    if (this.inner) return this.inner.onBlocks(cb);
    this.blockSubs.add(cb);
    return () => {
      this.blockSubs.delete(cb);
      this.innerOffs.get(cb)?.();
    };
  }

  blockMap(): Uint8Array {
    return this.inner ? this.inner.blockMap() : new Uint8Array(this.last.totalBlocks);
  }

  progress(): UploadProgress {
    return this.inner ? this.inner.progress() : this.last;
  }

  /** Unpacking cannot pause (it would start over); the upload after it can. */
  async pause(): Promise<void> {
    await this.inner?.pause();
  }

  resume(): void {
    this.inner?.resume();
  }

  async cancel(): Promise<void> {
    if (this.inner) return this.inner.cancel();
    this.cancelRequested = true;
    this.abort?.();
    await this.done.catch(() => undefined);
  }
}
