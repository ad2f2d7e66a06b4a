/** Smoothed transfer speed and ETA from (time, cumulative bytes) samples; time is passed in, never read. */
export class RateMeter {
  #lastTime = NaN;
  #lastBytes = 0;
  #rate = 0;
  #weightSum = 0;

  /** halfLifeMs: how long it takes an old rate to count half as much. */
  constructor(private readonly halfLifeMs = 3000) {}

  /** Records the cumulative acknowledged byte count at `now` (ms). */
  sample(now: number, bytes: number): void {
    if (Number.isNaN(this.#lastTime)) {
      this.#lastTime = now;
      this.#lastBytes = bytes;
      return;
    }
    const dt = now - this.#lastTime;
    if (dt <= 0) return;
    const instant = ((bytes - this.#lastBytes) / dt) * 1000;
    // Time-weighted exponential smoothing: uneven sample spacing still converges to the true rate.
    const keep = Math.pow(0.5, dt / this.halfLifeMs);
    this.#rate = this.#rate * keep + instant * (1 - keep);
    this.#weightSum = this.#weightSum * keep + (1 - keep);
    this.#lastTime = now;
    this.#lastBytes = bytes;
  }

  /** Forgets history (after a pause, so idle time does not drag the speed down). */
  reset(): void {
    this.#lastTime = NaN;
    this.#rate = 0;
    this.#weightSum = 0;
  }

  /** Bytes per second, bias-corrected for the early samples; 0 before two samples. */
  get bytesPerSecond(): number {
    return this.#weightSum > 0 ? this.#rate / this.#weightSum : 0;
  }

  /** Milliseconds left for `remainingBytes` at the smoothed speed; NaN when unknown. */
  etaMs(remainingBytes: number): number {
    const rate = this.bytesPerSecond;
    if (remainingBytes <= 0) return 0;
    return rate > 0 ? (remainingBytes / rate) * 1000 : NaN;
  }
}
