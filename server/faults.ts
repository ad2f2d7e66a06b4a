// Injected faults: random errors, throttling, dropped connections, stalls, and the per-snapshot PutSnapshotBlock rate limit.

import type { RuntimeConfig } from './config.ts';

/** What to do with one request before it reaches the service. */
export type FaultDecision = { kind: 'none' } | { kind: 'error' } | { kind: 'throttle'; pick: number } | { kind: 'drop' };

/** Draws the fault for one request from the configured rates (`random` injectable for tests). */
export function drawFault(c: Pick<RuntimeConfig, 'errorRate' | 'throttleRate' | 'dropRate'>, random: () => number = Math.random): FaultDecision {
  const r = random();
  if (r < c.errorRate) return { kind: 'error' };
  if (r < c.errorRate + c.throttleRate) return { kind: 'throttle', pick: random() };
  if (r < c.errorRate + c.throttleRate + c.dropRate) return { kind: 'drop' };
  return { kind: 'none' };
}

/** Whether one request stalls (is accepted and never answered), drawn from the stall rate. */
export function drawStall(c: Pick<RuntimeConfig, 'stallRate'>, random: () => number = Math.random): boolean {
  return c.stallRate > 0 && random() < c.stallRate;
}

/** Counts PutSnapshotBlock calls per snapshot in a sliding one-second window. */
export class PutRateLimiter {
  private calls = new Map<string, number[]>();

  /** Records a call at `now` (ms) and says whether it is within `limit` per second (limit 0 = unlimited). */
  admit(snapshotId: string, limit: number, now: number): boolean {
    if (limit <= 0) return true;
    let times = this.calls.get(snapshotId);
    if (!times) {
      times = [];
      this.calls.set(snapshotId, times);
    }
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - 1000) drop++;
    if (drop) times.splice(0, drop);
    if (times.length >= limit) return false;
    times.push(now);
    // Idle snapshots are forgotten so the map stays bounded by the snapshots of the last second.
    if (this.calls.size > 1000) for (const [k, v] of this.calls) if (!v.length || v[v.length - 1]! <= now - 1000) this.calls.delete(k);
    return true;
  }

  /** Forgets every window. */
  reset(): void {
    this.calls.clear();
  }
}
