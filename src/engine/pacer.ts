// AIMD pacing of blocks in flight: additive increase per window of successes, multiplicative decrease on throttling or rising latency.

/** Pacer settings. */
export interface PacerOptions {
  floor: number;
  ceiling: number;
  /** Starting window; default min(ceiling, max(floor, 4)). */
  initial?: number;
  /** Multiplier on throttling (0.5 = halve). */
  decrease?: number;
  /** A short-term latency average above this multiple of the long-term one counts as "rising" (decrease ×0.8). */
  latencyFactor?: number;
}

/** An adaptive semaphore: acquire() before a request, release() with its outcome. */
export class Pacer {
  readonly floor: number;
  readonly ceiling: number;
  private window: number;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private readonly decrease: number;
  private readonly latencyFactor: number;
  private fast = 0;
  private slow = 0;
  private samples = 0;
  // Completions to wait before another decrease: one decrease per window of requests, not per failure.
  private holdOff = 0;

  constructor(opts: PacerOptions) {
    // The ceiling the person asked for wins over the default floor.
    this.ceiling = Math.max(1, Math.floor(opts.ceiling));
    this.floor = Math.max(1, Math.min(this.ceiling, Math.floor(opts.floor)));
    this.window = Math.min(this.ceiling, Math.max(this.floor, opts.initial ?? 4));
    this.decrease = opts.decrease ?? 0.5;
    this.latencyFactor = opts.latencyFactor ?? 2;
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return Math.max(this.floor, Math.min(this.ceiling, Math.floor(this.window)));
  }

  /** Requests currently holding a slot. */
  get active(): number {
    return this.inFlight;
  }

  /** Waits for a free slot. */
  acquire(): Promise<void> {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => { this.inFlight++; resolve(); }));
  }

  /** Frees a slot; outcome drives the window (latency of successful requests, throttled flag). */
  release(outcome: { ok: boolean; latencyMs?: number; throttled?: boolean } = { ok: true }): void {
    this.inFlight--;
    if (this.holdOff > 0) this.holdOff--;
    if (outcome.throttled) this.shrink(this.decrease);
    else if (outcome.ok) {
      const lat = outcome.latencyMs;
      let rising = false;
      if (lat !== undefined && lat >= 0) {
        this.samples++;
        this.fast = this.samples === 1 ? lat : this.fast * 0.7 + lat * 0.3;
        this.slow = this.samples === 1 ? lat : this.slow * 0.98 + lat * 0.02;
        // A trend, not a level: latency that grows with the window on a busy link is normal; a sudden jump is congestion.
        rising = this.samples > 30 && this.fast > this.latencyFactor * Math.max(this.slow, 2);
      }
      if (rising) this.shrink(0.8);
      else this.window = Math.min(this.ceiling, this.window + 1 / Math.max(1, this.window));
    }
    this.wake();
  }

  private shrink(factor: number): void {
    if (this.holdOff > 0) return;
    this.window = Math.max(this.floor, this.window * factor);
    this.holdOff = Math.max(1, this.inFlight);
    // Let the averages settle at the smaller window before judging latency again.
    this.samples = 0;
  }

  private wake(): void {
    while (this.waiters.length && this.inFlight < this.limit) this.waiters.shift()!();
  }
}
