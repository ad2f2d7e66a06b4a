// Whether the service answers at all: while it is silent (sleep, Wi-Fi lost, server stopped), one request probes with
// backoff and the others wait, so an outage spends no retry attempts and the upload resumes by itself.

/** Probe pauses: 1 s doubling to 5 s, so a service that is back is noticed within seconds. */
const PROBE_BASE_MS = 1000;
const PROBE_CAP_MS = 5000;

/** An event source for the platform's `online` event (window or worker global; absent in Node). */
interface OnlineEvents {
  addEventListener?(type: 'online', cb: () => void): void;
  removeEventListener?(type: 'online', cb: () => void): void;
}

/** Tracks answers and silences of one pipeline's requests. */
export class LinkWatch {
  private lastAnswerAt: number;
  /** Until the service has answered once, failures are the request's (a wrong endpoint, CORS), never an outage. */
  private everAnswered = false;
  private silent = false;
  private silentSince = 0;
  private prober = false;
  /** A probe was let through and has not been answered or found unanswered yet: nobody else may send. */
  private probeOut = false;
  private closed = false;
  private probes = 0;
  private waiters: (() => void)[] = [];
  private wake: (() => void) | null = null;
  private readonly onOnline = () => this.wake?.();
  private readonly events: OnlineEvents | undefined;
  /** Called when the link goes silent or answers again (progress shows the wait). */
  onChange: (() => void) | null = null;

  constructor(
    private readonly now: () => number = () => Date.now(),
    events: OnlineEvents | undefined = globalThis as OnlineEvents,
    /** The service already answered this session (a run taking over from another worker, or after a pause). */
    answeredBefore = false,
  ) {
    this.lastAnswerAt = now();
    this.everAnswered = answeredBefore;
    this.events = events;
    this.events?.addEventListener?.('online', this.onOnline);
  }

  /** True while the service has stopped answering. */
  get waiting(): boolean {
    return this.silent;
  }

  /** Since when the service has not answered (ms timestamp of the last answer). */
  get lastAnswer(): number {
    return this.lastAnswerAt;
  }

  /** Any answer from the service (a success, or an error it sent) proves the link is up. */
  answered(): void {
    this.lastAnswerAt = this.now();
    this.everAnswered = true;
    if (!this.silent) return;
    this.silent = false;
    this.onChange?.();
    this.prober = false;
    this.probeOut = false;
    this.probes = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * A request got no answer (network error or deadline). `startedAt`: when it was sent. When nothing was answered
   * since then, the whole link is silent (not this request's bad luck) and the failure is the outage's, not the block's:
   * returns true, and the caller should not count the attempt.
   */
  unanswered(startedAt: number): boolean {
    // The platform saying it is offline is proof enough; otherwise the link must have worked before.
    const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
    if (!offline && (!this.everAnswered || this.lastAnswerAt > startedAt)) return false;
    if (!this.silent) {
      this.silent = true;
      this.silentSince = this.now();
      this.onChange?.();
    } else if (startedAt >= this.silentSince) {
      // Sent during the silence, so it was the probe: the next one may go (after its pause).
      this.probeOut = false;
    }
    return true;
  }

  /** How long the link has been silent, ms (0 when it answers). */
  silenceMs(): number {
    return this.silent ? this.now() - this.lastAnswerAt : 0;
  }

  /** When the link went silent (ms timestamp), or undefined. */
  get since(): number | undefined {
    return this.silent ? this.silentSince : undefined;
  }

  /**
   * Waits for the right to send again during a silence: one caller (the probe) goes after a backoff pause (cut short
   * by the `online` event), the others wait until an answer comes back. Returns at once when the link answers.
   */
  async pass(): Promise<void> {
    // A loop: a caller released while the silence goes on (the probe it waited for came back unanswered) waits again.
    while (this.silent && !this.closed) {
      if (this.prober || this.probeOut) {
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      this.prober = true;
      const pause = Math.min(PROBE_CAP_MS, PROBE_BASE_MS * 2 ** Math.min(10, this.probes++));
      await new Promise<void>((r) => {
        const t = setTimeout(done, pause);
        function done(): void {
          clearTimeout(t);
          r();
        }
        this.wake = done;
        // A waiter released by an answer meanwhile needs no probe.
        this.waiters.push(done);
      });
      this.wake = null;
      this.prober = false;
      // Still silent: this caller is the probe, and the others wait until it is answered or found unanswered.
      if (this.silent && !this.closed) this.probeOut = true;
      return;
    }
  }

  /** Stops listening to the platform. */
  close(): void {
    this.closed = true;
    this.events?.removeEventListener?.('online', this.onOnline);
    this.wake?.();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
