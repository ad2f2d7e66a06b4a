// The pipeline's events on their way to the coordinator: gathered into batches, one batch in delivery at a time, and
// the pacer slots of written blocks released once the coordinator has recorded them.

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

/** What a batch reports of the window and the link when it leaves. */
export type BatchGauges = Pick<PipelineBatch, 'inFlight' | 'concurrency' | 'waiting'>;

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
 * Gathers a run's events and delivers them to `onBatch`. One batch crosses to the coordinator at a time: events gather
 * while it is being delivered, so a busy main thread gets fewer, larger batches instead of one message per block; the
 * events of one turn of the event loop travel together.
 */
export class BatchOutbox {
  private buf = new BatchBuffer();
  private flushQueued = false;
  private delivering = false;
  private lastDelivery: unknown = undefined;

  constructor(
    /** May return a promise: the written blocks' slots are held until it resolves (the blocks are recorded). */
    private readonly onBatch: (b: PipelineBatch) => unknown,
    private readonly gauges: () => BatchGauges,
    /** Whether deliveries are recorded durably; a dry run records nothing, so a written block's slot is free at once. */
    private readonly durable: boolean,
  ) {}

  /** A block the service acknowledged; `release` frees its pacer slot once the block is recorded. */
  written(index: number, digest: Uint8Array, release: () => void): void {
    this.buf.written.push(index);
    this.buf.digests.push(digest);
    // The slot stays taken until the block is recorded durably, so a tab closed at any moment re-sends at most the
    // in-flight window (blocks sent plus blocks acknowledged but not yet in the ledger).
    if (this.durable) this.buf.durable.push(release);
    else release();
    this.queue();
  }

  /** A block that needs no sending (done before, empty, or inherited from the parent). */
  skipped(index: number): void {
    this.buf.skipped.push(index);
    this.queue();
  }

  /** A block that took a pacer slot and is being hashed and sent. */
  started(index: number): void {
    this.buf.started.push(index);
    this.queue();
  }

  /** A block whose attempt failed and that goes again. */
  retrying(index: number): void {
    this.buf.retried++;
    this.buf.retrying.push(index);
    this.queue();
  }

  /** The link went silent or answered again. */
  linkChanged(): void {
    this.buf.linkChanged = true;
    this.queue();
  }

  /** Delivers what is left once the run's blocks are settled, and waits until the coordinator has it. */
  async drain(): Promise<void> {
    await Promise.resolve(this.lastDelivery).catch(() => undefined);
    this.flush();
    await this.lastDelivery;
  }

  private queue(): void {
    if (!this.flushQueued && !this.delivering) {
      this.flushQueued = true;
      void Promise.resolve().then(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.buf.empty) return;
    const b = this.buf;
    this.buf = new BatchBuffer();
    const digests = new Uint8Array(b.digests.length * 32);
    b.digests.forEach((d, k) => digests.set(d, k * 32));
    const delivery = this.onBatch({
      written: Uint32Array.from(b.written),
      digests,
      skipped: Uint32Array.from(b.skipped),
      started: Uint32Array.from(b.started),
      retrying: Uint32Array.from(b.retrying),
      retried: b.retried,
      ...this.gauges(),
    });
    this.lastDelivery = delivery;
    const recorded = () => {
      for (const release of b.durable) release();
    };
    if (delivery instanceof Promise) {
      this.delivering = true;
      const next = () => {
        this.delivering = false;
        recorded();
        if (!this.buf.empty) this.queue();
      };
      void delivery.then(next, next);
    } else recorded();
  }
}
