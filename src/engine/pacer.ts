// Pacing of blocks in flight that finds the link: a slow start that triples the window per round trip while the
// delivery rate follows, then a window of gain × bottleneck rate × minimum round trip (BBR's estimate of the
// bandwidth-delay product), under a cap that throttling halves (AWS asks clients to back off multiplicatively) and that
// grows back a little each round. Slots held after their answer (the block being recorded) ride on top of the window.
// A tab's workers sending to one service share one pacer (pacer-lease.ts).

/** Pacer settings. */
export interface PacerOptions {
  floor: number;
  /** A safety bound (memory, transport, the person's choice), not the operating point. */
  ceiling: number;
  /** Starting window; default min(ceiling, max(floor, 16)). */
  initial?: number;
  /** Multiplier on throttling (0.5 = halve). */
  decrease?: number;
  /** Window over the measured bandwidth-delay product once the link is found (default 2: room for jitter and acks). */
  gain?: number;
  /** Blocks added to the window on top of gain × BDP, so a short round trip on a fast machine still fills its cores. */
  headroom?: number;
  /** How long a minimum round trip stays valid before the window dips to measure it again (ms). */
  minRttWindowMs?: number;
  /** The clock in ms (injectable: tests drive the pacer in virtual time). */
  now?: () => number;
}

/** What a request's end tells the pacer. */
export interface PacerOutcome {
  ok: boolean;
  /** How long the successful request took, ms (its round trip). */
  latencyMs?: number;
  throttled?: boolean;
  /**
   * How long the slot was held after the answer, ms (the block being recorded): such slots are off the link, and the
   * window carries them on top of what the link needs.
   */
  heldMs?: number;
  /** The slot is given back unused (its holder went away): it frees the slot and tells the window nothing. */
  abandoned?: boolean;
}

/** What a sender needs of a pacer: a slot per request, and the window for its reports. */
export interface PacerLike {
  acquire(): Promise<void>;
  release(outcome?: PacerOutcome): void;
  /** Requests holding a slot (of this holder). */
  readonly active: number;
  /** Requests allowed in flight now (over the link). */
  readonly limit: number;
}

type Mode = 'startup' | 'steady' | 'probe-rtt';

/** Rounds the rate filter remembers (BBR's 10 round trips). */
const RATE_ROUNDS = 10;
/** Startup ends when the rate has not grown by this factor for PLATEAU_ROUNDS rounds (the pipe is full). */
const PLATEAU_GROWTH = 1.25;
const PLATEAU_ROUNDS = 3;
/**
 * A round whose fastest request took this many times the minimum round trip met a queue: the doubling stops, unless
 * the round still delivered more than the last (a 1 s path on a busy 2-core machine shows a queue of its CPU long
 * before the window is anywhere near the bandwidth-delay product; stopping there left it at a fifth of it).
 */
const QUEUE_RTT_FACTOR = 1.5;
/** A round whose fastest request took at most this many times the minimum round trip saw the path without a standing queue. */
const NO_QUEUE_RTT_FACTOR = 1.125;
/** Blocks added per success while starting: the window triples per round trip, as BBR's startup gain of 2.89. */
const STARTUP_STEP = 2;
/** The first window: the old fixed ceiling, harmless on any link, and 2 s saved at a 1 s round trip. */
const FIRST_WINDOW = 16;
/** The window while measuring the minimum round trip again: a quarter, about half the link's BDP, so no queue is left. */
const PROBE_SHARE = 0.25;
/**
 * Round trips between dips at least: a dip costs about two round trips at a quarter of the window, cheap every 10 s
 * at 50 ms, a tenth of the throughput at 1 s.
 */
const PROBE_INTERVAL_RTTS = 20;
/** A dip lasts at least this long once drained (BBR's 200 ms). */
const PROBE_MIN_MS = 200;
/**
 * While starting, the window stays under this many times the bandwidth-delay product measured so far: it still
 * triples per round trip while the rate follows, but no longer grows by two blocks per answer of a queue that holds
 * many rounds' worth (a thin link answering a 16-block first window took seconds per round and the window reached 200).
 */
const STARTUP_BDP_GAIN = 3;
/** Answers over which the time a slot is held after its answer is smoothed. */
const HELD_SMOOTHING = 8;

/** An adaptive semaphore: acquire() before a request, release() with its outcome. */
export class Pacer implements PacerLike {
  readonly floor: number;
  readonly ceiling: number;
  private window: number;
  private readonly initial: number;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private readonly decrease: number;
  private readonly gain: number;
  private readonly headroom: number;
  private readonly minRttWindowMs: number;
  private readonly now: () => number;
  private mode: Mode = 'startup';
  /** Upper bound from throttling: halved on a throttle, grown back each clean round. */
  private cap: number;
  // Completions to wait before another decrease: one decrease per window of requests, not per failure.
  private holdOff = 0;
  private roundStart: number;
  private roundDelivered = 0;
  private roundThrottled = false;
  private roundMinRtt = Infinity;
  /** The round saw part of a dip. */
  private roundDipped = false;
  private rates: number[] = [];
  /** The fastest of `rates` (read on every acquire through `limit`, so kept rather than searched). */
  private rateMax = 0;
  private bestRate = 0;
  private flatRounds = 0;
  private minRtt = Infinity;
  private minRttAt = 0;
  private probeMin = Infinity;
  private probeCount = 0;
  private windowBeforeProbe = 0;
  /** The window fell to the dip's size at (ms; -1 while draining). */
  private drainedAt = -1;
  /** How long a slot is held after its answer, ms (smoothed). */
  private heldMs = 0;
  /** Answer times of the last round trips, for the delivery rate while starting. */
  private answers: number[] = [];
  private sampleRate = 0;

  constructor(opts: PacerOptions) {
    // The ceiling the person asked for wins over the default floor.
    this.ceiling = Math.max(1, Math.floor(opts.ceiling));
    this.floor = Math.max(1, Math.min(this.ceiling, Math.floor(opts.floor)));
    this.window = Math.min(this.ceiling, Math.max(this.floor, opts.initial ?? FIRST_WINDOW));
    this.initial = this.window;
    this.decrease = opts.decrease ?? 0.5;
    this.gain = opts.gain ?? 2;
    this.headroom = opts.headroom ?? 4;
    this.minRttWindowMs = opts.minRttWindowMs ?? 10_000;
    this.now = opts.now ?? (() => performance.now());
    this.cap = this.ceiling;
    this.roundStart = this.now();
  }

  /** Requests allowed in flight now: the window on the link, and the slots held while their blocks are recorded. */
  get limit(): number {
    const w = this.mode === 'probe-rtt' ? this.probeWindow() : this.window;
    return Math.max(this.floor, Math.min(this.ceiling, Math.floor(Math.min(this.cap, w) + this.parked())));
  }

  /** Slots held after their answer, on average (Little: the rate of answers × how long each is held). */
  private parked(): number {
    return this.rateMax * this.heldMs;
  }

  /** Requests currently holding a slot. */
  get active(): number {
    return this.inFlight;
  }

  /** Whether the pacer is still doubling (it has seen no queueing, throttling or error yet). */
  get starting(): boolean {
    return this.mode === 'startup';
  }

  /** The bandwidth-delay product measured so far, in blocks (0 before the first round). */
  get bdp(): number {
    const rate = this.rateMax;
    return Number.isFinite(this.minRtt) ? rate * this.minRtt : 0;
  }

  /** Waits for a free slot. */
  acquire(): Promise<void> {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => { this.inFlight++; resolve(); }));
  }

  /** Frees a slot; the outcome drives the window (round trip of successes, throttled flag). */
  release(outcome: PacerOutcome = { ok: true }): void {
    this.inFlight--;
    if (this.mode === 'probe-rtt' && this.drainedAt < 0 && this.inFlight < this.limit) this.drainedAt = this.now();
    if (this.holdOff > 0) this.holdOff--;
    if (outcome.abandoned) {
      this.wake();
      return;
    }
    if (outcome.throttled) this.throttle();
    else if (!outcome.ok) {
      // An error ends the doubling (the link or the service is struggling) without cutting what was found.
      if (this.mode === 'startup') this.toSteady();
    } else {
      if (outcome.heldMs !== undefined && outcome.latencyMs !== undefined) this.heldMs += (Math.max(0, outcome.heldMs) - this.heldMs) / HELD_SMOOTHING;
      this.success(outcome.latencyMs, outcome.heldMs);
    }
    this.wake();
  }

  private success(latencyMs: number | undefined, heldMs = 0): void {
    if (latencyMs === undefined || latencyMs < 0) {
      // Nothing was sent (a block found unchanged): the slot only counts toward growth while starting.
      if (this.mode === 'startup') this.grow(1);
      return;
    }
    // When the answer came: the slot may have been held a while since, as its block was recorded.
    const t = this.now() - Math.max(0, heldMs);
    this.roundDelivered++;
    const rtt = Math.max(latencyMs, 0.01);
    this.roundMinRtt = Math.min(this.roundMinRtt, rtt);
    if (rtt <= this.minRtt) {
      this.minRtt = rtt;
      this.minRttAt = t;
    }
    if (this.mode === 'startup') {
      this.measureDelivery(t, rtt);
      this.grow(STARTUP_STEP);
    } else if (this.mode === 'probe-rtt') this.probeAnswer(t, rtt);
    else this.maybeDip(t);
    // A round ends when a request sent after it began comes back (one round trip of the window).
    if (t - latencyMs >= this.roundStart) this.endRound(t);
  }

  /** The delivery rate over the answer's own round trip (BBR's rate sample): answers in it per ms. */
  private measureDelivery(t: number, rtt: number): void {
    const a = this.answers;
    a.push(t);
    if (a.length > 4096) a.splice(0, a.length - 2048);
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]! > t - rtt) hi = mid;
      else lo = mid + 1;
    }
    this.sampleRate = Math.max(this.sampleRate, (a.length - lo) / rtt);
  }

  private grow(by: number): void {
    let w = Math.min(this.ceiling, this.cap, this.window + by);
    if (this.mode === 'startup' && this.sampleRate > 0 && Number.isFinite(this.minRtt)) {
      w = Math.min(w, Math.max(this.window, this.initial, STARTUP_BDP_GAIN * this.sampleRate * this.minRtt));
    }
    this.window = w;
  }

  private endRound(t: number): void {
    const elapsed = t - this.roundStart;
    // A dip's rounds say nothing of the link's rate: the drain answers a queue's worth at once, the dip then too few.
    if (elapsed > 0 && this.roundDelivered > 0 && !this.roundDipped) {
      const rate = this.roundDelivered / elapsed;
      this.rates.push(rate);
      if (this.rates.length > RATE_ROUNDS) this.rates.shift();
      this.rateMax = Math.max(...this.rates);
      if (this.mode === 'startup') {
        const growing = rate >= this.bestRate * PLATEAU_GROWTH;
        if (growing) {
          this.bestRate = rate;
          this.flatRounds = 0;
        } else if (++this.flatRounds >= PLATEAU_ROUNDS) this.toSteady();
        // A queue has formed (HyStart) and the rate no longer grows: even the round's fastest request took much longer
        // than the fastest seen, and the window's growth bought nothing.
        if (!growing && this.roundMinRtt > QUEUE_RTT_FACTOR * this.minRtt) this.toSteady();
      }
    }
    // The round saw the path as fast as ever: the minimum round trip still holds, no dip is needed to measure it again.
    if (this.roundMinRtt <= NO_QUEUE_RTT_FACTOR * this.minRtt) this.minRttAt = t;
    if (!this.roundThrottled && this.cap < this.ceiling) this.cap = Math.min(this.ceiling, this.cap + Math.max(1, this.cap / 16));
    this.roundStart = t;
    this.roundDelivered = 0;
    this.roundThrottled = false;
    this.roundMinRtt = Infinity;
    this.roundDipped = this.mode === 'probe-rtt';
    if (this.mode === 'steady') this.window = this.target();
  }

  /** Leaves startup or a dip for the steady window (the startup's answer times are no longer needed). */
  private toSteady(): void {
    this.mode = 'steady';
    this.answers = [];
  }

  /** What the link asks for: gain × bandwidth-delay product + headroom. */
  private wanted(): number {
    return this.gain * this.bdp + this.headroom;
  }

  /** The steady window: what the link asks for, within floor, ceiling and the throttling cap. */
  private target(): number {
    return Math.min(this.ceiling, this.cap, Math.max(this.floor, this.wanted()));
  }

  /**
   * Dips when the minimum round trip is old; not when the ceiling binds so far below the target that no queue of ours
   * can be in the way.
   */
  private maybeDip(t: number): void {
    if (!Number.isFinite(this.minRtt)) return;
    const interval = Math.max(this.minRttWindowMs, PROBE_INTERVAL_RTTS * this.minRtt);
    if (t - this.minRttAt <= interval) return;
    if (this.wanted() >= 2 * Math.min(this.ceiling, this.cap)) return;
    this.roundDipped = true;
    this.mode = 'probe-rtt';
    this.windowBeforeProbe = this.window;
    this.drainedAt = this.inFlight < this.limit ? t : -1;
    this.probeMin = Infinity;
    this.probeCount = 0;
  }

  /** An answer during a dip: only requests sent once the window had drained see the link without our queue. */
  private probeAnswer(t: number, rtt: number): void {
    if (this.drainedAt < 0 || t - rtt < this.drainedAt) return;
    this.probeMin = Math.min(this.probeMin, rtt);
    if (++this.probeCount < Math.max(2, this.probeWindow()) || t - this.drainedAt < PROBE_MIN_MS) return;
    this.minRtt = this.probeMin;
    this.minRttAt = t;
    this.mode = 'steady';
    this.window = Math.min(this.windowBeforeProbe, this.target());
  }

  private probeWindow(): number {
    return Math.max(this.floor, Math.floor(this.windowBeforeProbe * PROBE_SHARE));
  }

  private throttle(): void {
    this.roundThrottled = true;
    if (this.mode !== 'steady') {
      if (this.mode === 'probe-rtt') this.window = this.windowBeforeProbe;
      this.toSteady();
    }
    if (this.holdOff > 0) return;
    const from = Math.min(this.window, this.cap, this.limit);
    this.cap = Math.max(this.floor, from * this.decrease);
    this.window = Math.min(this.window, this.cap);
    // The rates measured before the throttle overstate what the service now allows.
    this.rates = this.rates.map((r) => r * this.decrease);
    this.rateMax *= this.decrease;
    this.holdOff = Math.max(1, this.inFlight);
  }

  private wake(): void {
    while (this.waiters.length && this.inFlight < this.limit) this.waiters.shift()!();
  }
}
