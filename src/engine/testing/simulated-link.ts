// A link in virtual time for driving a Pacer: propagation delay (with a schedule and jitter), a shared bottleneck, and
// a service that throttles beyond a rate. The bottleneck serves one body at a time (FIFO, as one TCP stream does) or
// all bodies at once at an equal share each (fair, as HTTP/2 streams or parallel connections through one shaper do:
// every request in a queue takes as long as the queue). Deterministic: no timers, no clock.
import { Pacer, type PacerOptions } from '../pacer.ts';

/** The link a simulation runs over. */
export interface LinkSpec {
  /** Round-trip delay added to every request at virtual time t (ms). */
  latencyMs: (t: number) => number;
  /** Blocks the bottleneck carries per second (Infinity: no bottleneck). */
  blocksPerSecond: number;
  /** How the bottleneck serves the bodies queued in it (default fifo). */
  sharing?: 'fifo' | 'fair';
  /** Extra delay drawn uniformly in [0, jitterMs) per request. */
  jitterMs?: number;
  /** Requests the service accepts per second; beyond: throttled (answered after the delay, nothing carried). */
  throttleAbovePerSecond?: number;
  /** How long a slot stays held after its answer, ms (the block being recorded: a ledger commit, an fsync). */
  heldMs?: number;
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
  /** Highest, lowest, last and median limit between `from` and `to`. */
  limits(from: number, to: number): { max: number; min: number; last: number; median: number };
}

interface Body {
  sentAt: number;
  delay: number;
  /** Service time still owed at the full rate (ms). */
  remaining: number;
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
  const fair = link.sharing === 'fair';
  const serviceMs = Number.isFinite(link.blocksPerSecond) ? 1000 / link.blocksPerSecond : 0;
  // Answers on their way back, bodies on their way to the bottleneck, and (fair) the bodies in it.
  const answers: { at: number; sentAt: number; ok: boolean; answeredAt?: number; latencyMs?: number }[] = [];
  const arrivals: { at: number; body: Body }[] = [];
  const inLink: Body[] = [];
  const completions: number[] = [];
  const admitted: number[] = [];
  let linkFreeAt = 0;
  let throttled = 0;
  const samples: SimSample[] = [];

  const send = () => {
    void pacer.acquire();
    const delay = link.latencyMs(now) + (link.jitterMs ? random() * link.jitterMs : 0);
    const limit = link.throttleAbovePerSecond;
    if (limit !== undefined) {
      while (admitted.length && admitted[0]! <= now - 1000) admitted.shift();
      if (admitted.length >= limit) {
        answers.push({ at: now + delay, sentAt: now, ok: false });
        return;
      }
      admitted.push(now);
    }
    // Half the delay to reach the bottleneck, the body through it, the other half back.
    const arrive = now + delay / 2;
    if (!fair || serviceMs === 0) {
      const start = Math.max(arrive, linkFreeAt);
      linkFreeAt = start + serviceMs;
      answers.push({ at: linkFreeAt + delay / 2, sentAt: now, ok: true });
    } else arrivals.push({ at: arrive, body: { sentAt: now, delay, remaining: serviceMs } });
  };

  const fill = () => {
    while (pacer.active < pacer.limit) send();
  };
  const earliest = <T extends { at: number }>(xs: T[]): number => {
    let k = -1;
    for (let j = 0; j < xs.length; j++) if (k < 0 || xs[j]!.at < xs[k]!.at) k = j;
    return k;
  };
  /** Moves the fair bottleneck on to time t: every body in it got an equal share of the rate meanwhile. */
  const serve = (t: number) => {
    if (inLink.length) {
      const share = (t - now) / inLink.length;
      for (const b of inLink) b.remaining -= share;
    }
    now = t;
  };

  fill();
  for (;;) {
    const a = earliest(answers);
    const r = earliest(arrivals);
    let departAt = Infinity;
    let d = -1;
    for (let j = 0; j < inLink.length; j++) {
      const at = now + inLink[j]!.remaining * inLink.length;
      if (at < departAt) {
        departAt = at;
        d = j;
      }
    }
    const answerAt = a < 0 ? Infinity : answers[a]!.at;
    const arriveAt = r < 0 ? Infinity : arrivals[r]!.at;
    const next = Math.min(answerAt, arriveAt, departAt);
    if (!Number.isFinite(next) || next > durationMs) break;
    serve(next);
    if (next === departAt) {
      const b = inLink.splice(d, 1)[0]!;
      answers.push({ at: now + b.delay / 2, sentAt: b.sentAt, ok: true });
      continue;
    }
    if (next === arriveAt) {
      inLink.push(arrivals.splice(r, 1)[0]!.body);
      continue;
    }
    const e = answers.splice(a, 1)[0]!;
    if (e.ok && link.heldMs && e.answeredAt === undefined) {
      // Answered: the block is on its way to the ledger, its slot still held.
      completions.push(now);
      answers.push({ ...e, at: now + link.heldMs, answeredAt: now, latencyMs: now - e.sentAt });
      continue;
    }
    if (e.ok) {
      if (e.answeredAt === undefined) completions.push(now);
      pacer.release(e.answeredAt === undefined ? { ok: true, latencyMs: now - e.sentAt } : { ok: true, latencyMs: e.latencyMs!, heldMs: now - e.answeredAt });
    } else {
      throttled++;
      pacer.release({ ok: false, throttled: true });
    }
    samples.push({ t: now, limit: pacer.limit, inFlight: pacer.active });
    fill();
  }

  const within = (from: number, to: number) => samples.filter((x) => x.t >= from && x.t <= to);
  return {
    pacer,
    samples,
    delivered: completions.length,
    throttled,
    rate: (from, to) => (completions.filter((t) => t >= from && t <= to).length * 1000) / (to - from),
    limits: (from, to) => {
      const xs = within(from, to).map((x) => x.limit);
      const sorted = [...xs].sort((a, b) => a - b);
      return { max: Math.max(...xs), min: Math.min(...xs), last: xs[xs.length - 1] ?? 0, median: sorted[sorted.length >> 1] ?? 0 };
    },
  };
}
