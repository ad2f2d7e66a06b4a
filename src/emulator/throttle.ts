// Request rate limits per key (an account, an operation, a snapshot) over a sliding window, as the service's quotas.

/** Admits at most `limit` calls per key within any window of `windowMs`; refused calls do not count. */
export class Throttle {
  private calls = new Map<string, number[]>();

  constructor(private readonly windowMs = 1000) {}

  /** Records a call at `now` (ms) and says whether it is within `limit` per window (limit 0 = unlimited). */
  admit(key: string, limit: number, now: number): boolean {
    if (limit <= 0) return true;
    let times = this.calls.get(key);
    if (!times) {
      times = [];
      this.calls.set(key, times);
    }
    // A clock moved back (a reset emulator clock) leaves no call in the future.
    if (times.length && times[times.length - 1]! > now) times.length = 0;
    let expired = 0;
    while (expired < times.length && times[expired]! <= now - this.windowMs) expired++;
    if (expired) times.splice(0, expired);
    if (times.length >= limit) return false;
    times.push(now);
    // Idle keys are forgotten so the map stays bounded by the keys of the last window.
    if (this.calls.size > 1000) for (const [k, v] of this.calls) if (!v.length || v[v.length - 1]! <= now - this.windowMs) this.calls.delete(k);
    return true;
  }

  /** How many keys are held in memory. */
  get size(): number {
    return this.calls.size;
  }

  /** Forgets every window. */
  reset(): void {
    this.calls.clear();
  }
}
