// A link in virtual time for driving a Pacer: propagation delay (with a schedule and jitter), a shared bottleneck that
// serves one block body at a time, and a service that throttles beyond a rate. Deterministic: no timers, no clock.
import { Pacer, type PacerOptions } from '../pacer.ts';

/** The link a simulation runs over. */
export interface LinkSpec {
  /** Round-trip delay added to every request at virtual time t (ms). */
  latencyMs: (t: number) => number;
  /** Blocks the bottleneck carries per second (Infinity: no bottleneck). */
  blocksPerSecond: number;
  /** Extra delay drawn uniformly in [0, jitterMs) per request. */
  jitterMs?: number;
  /** Requests the service accepts per second; beyond: throttled (answered after the delay, nothing carried). */
  throttleAbovePerSecond?: number;
}

/** One sample of the run, taken at every completion. */
export interface SimSample {
  t: number;
  limit: number;
  inFlight: number;
}

/** What a run did. */
export interface SimResult {
  pacer: Pacer;
  samples: SimSample[];
  delivered: number;
  throttled: number;
  /** Delivered blocks between `from` and `to` (ms) per second. */
  rate(from: number, to: number): number;
  /** Highest and last limit between `from` and `to`. */
  limits(from: number, to: number): { max: number; min: number; last: number };
}

/** Runs requests through `link` for `durationMs` of virtual time, as many in flight as the pacer allows. */
export function simulate(link: LinkSpec, pacerOptions: Omit<PacerOptions, 'now'>, durationMs: number, seed = 1): SimResult {
  let now = 0;
  const pacer = new Pacer({ ...pacerOptions, now: () => now });
  // A small deterministic generator: the same seed draws the same jitter.
  let s = seed >>> 0 || 1;
  const random = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const events: { at: number; sentAt: number; ok: boolean; throttled: boolean }[] = [];
  const completions: number[] = [];
  const admitted: number[] = [];
  let linkFreeAt = 0;
  let throttled = 0;
  const samples: SimSample[] = [];
  const serviceMs = Number.isFinite(link.blocksPerSecond) ? 1000 / link.blocksPerSecond : 0;

  const send = () => {
    void pacer.acquire();
    const delay = link.latencyMs(now) + (link.jitterMs ? random() * link.jitterMs : 0);
    const limit = link.throttleAbovePerSecond;
    if (limit !== undefined) {
      while (admitted.length && admitted[0]! <= now - 1000) admitted.shift();
      if (admitted.length >= limit) {
        events.push({ at: now + delay, sentAt: now, ok: false, throttled: true });
        return;
      }
      admitted.push(now);
    }
    // Half the delay to reach the bottleneck, the body through it one at a time, the other half back.
    const arrive = now + delay / 2;
    const start = Math.max(arrive, linkFreeAt);
    linkFreeAt = start + serviceMs;
    events.push({ at: linkFreeAt + delay / 2, sentAt: now, ok: true, throttled: false });
  };

  const fill = () => {
    while (pacer.active < pacer.limit) send();
  };
  fill();
  while (events.length) {
    // The earliest completion next (few hundred events at most: a scan is cheap enough).
    let k = 0;
    for (let j = 1; j < events.length; j++) if (events[j]!.at < events[k]!.at) k = j;
    const e = events.splice(k, 1)[0]!;
    if (e.at > durationMs) break;
    now = e.at;
    if (e.ok) {
      completions.push(now);
      pacer.release({ ok: true, latencyMs: now - e.sentAt });
    } else {
      throttled++;
      pacer.release({ ok: false, throttled: e.throttled });
    }
    samples.push({ t: now, limit: pacer.limit, inFlight: pacer.active });
    fill();
  }

  const within = <T extends { t: number }>(xs: T[], from: number, to: number) => xs.filter((x) => x.t >= from && x.t <= to);
  return {
    pacer,
    samples,
    delivered: completions.length,
    throttled,
    rate: (from, to) => (completions.filter((t) => t >= from && t <= to).length * 1000) / (to - from),
    limits: (from, to) => {
      const xs = within(samples, from, to);
      return { max: Math.max(...xs.map((x) => x.limit)), min: Math.min(...xs.map((x) => x.limit)), last: xs[xs.length - 1]?.limit ?? 0 };
    },
  };
}
