import { describe, expect, it } from 'vitest';
import { Pacer } from './pacer.ts';
import { simulate } from './testing/simulated-link.ts';

const NODE = { floor: 2, ceiling: 512 };

describe('Pacer over simulated links (virtual time)', () => {
  it('opens to the ceiling within a few round trips on a fat link 1 s away', () => {
    const r = simulate({ latencyMs: () => 1000, blocksPerSecond: Infinity }, NODE, 30_000);
    // Tripling per round trip from 16: 48, 144, 432, 512 by the fourth second.
    expect(r.limits(0, 4_500).max).toBe(512);
    expect(r.limits(20_000, 30_000).min).toBe(512);
  });

  it('keeps a 1 s path behind a busy machine above its bandwidth-delay product, with no dip to re-measure it in 20 round trips', () => {
    // A 2-core machine hashing and signing 170 blocks/s, 1 s (± 50 ms) from the service: BDP ≈ 170 blocks.
    const r = simulate({ latencyMs: () => 1000, jitterMs: 100, blocksPerSecond: 170 }, NODE, 25_000);
    // Tripling from 16: past the BDP by the fourth round trip.
    expect(r.limits(0, 4_500).max).toBeGreaterThanOrEqual(170);
    // A dip to a quarter of the window every 10 s cost 2–3 round trips at half the rate; 20 round trips apart, none here.
    expect(r.limits(5_000, 25_000).min).toBeGreaterThanOrEqual(170);
    expect(r.rate(5_000, 25_000)).toBeGreaterThan(0.95 * 170);
  });

  it('settles near the bandwidth-delay product of a bandwidth-limited link and keeps it full', () => {
    // 100 blocks/s (50 MiB/s), 100 ms plus 10 ms on the wire: BDP = 11 blocks.
    const r = simulate({ latencyMs: () => 100, blocksPerSecond: 100 }, NODE, 30_000);
    // The median, not the last value: dips fall on a grid of 10 s, so one may end the stretch.
    const { max, median } = r.limits(10_000, 30_000);
    expect(median).toBeGreaterThanOrEqual(11);
    expect(max).toBeLessThanOrEqual(3 * 11 + 4);
    expect(r.rate(10_000, 30_000)).toBeGreaterThan(95);
  });

  it('keeps a thin, busy, jittery link full instead of mistaking its queue for collapse', () => {
    // 24 MiB/s (48 blocks/s), 80 ms plus up to 20 ms of jitter: BDP ≈ 5 blocks.
    const r = simulate({ latencyMs: () => 80, jitterMs: 20, blocksPerSecond: 48 }, NODE, 30_000);
    expect(r.rate(5_000, 30_000) / 48).toBeGreaterThan(0.95);
    expect(r.limits(5_000, 30_000).max).toBeLessThan(40);
  });

  it('follows a 10× latency spike up and comes back down after it', () => {
    // 200 blocks/s; 50 ms (BDP 11) → 500 ms (BDP 101) from 20 s to 50 s → 50 ms again.
    const r = simulate({ latencyMs: (t) => (t > 20_000 && t < 50_000 ? 500 : 50), blocksPerSecond: 200 }, NODE, 110_000);
    const before = r.limits(10_000, 20_000).median;
    expect(before).toBeLessThanOrEqual(40);
    expect(r.limits(30_000, 50_000).max).toBeGreaterThanOrEqual(101);
    expect(r.rate(30_000, 50_000)).toBeGreaterThan(180);
    expect(r.limits(100_000, 110_000).median).toBeLessThanOrEqual(before * 2);
  });

  it('backs off multiplicatively when the service throttles and keeps most of what it allows', () => {
    // The service allows 200 puts/s, 100 ms away: the link itself would take 512.
    const r = simulate({ latencyMs: () => 100, blocksPerSecond: Infinity, throttleAbovePerSecond: 200 }, NODE, 30_000);
    expect(r.limits(10_000, 30_000).max).toBeLessThan(64);
    expect(r.rate(10_000, 30_000)).toBeGreaterThan(0.7 * 200);
    expect(r.throttled / (r.delivered + r.throttled)).toBeLessThan(0.3);
  });

  it('holds its startup to a few times the product measured so far, on a link served in turn or shared', () => {
    // 48 blocks/s, 80 ms plus jitter (BDP ≈ 5 blocks). Growing by two blocks per answer, the window reached 162 while
    // the first, long-queued rounds came back (81 MiB waiting on a 24 MiB/s link).
    const link = { latencyMs: () => 80, jitterMs: 20, blocksPerSecond: 48 };
    const inTurn = simulate(link, NODE, 30_000);
    expect(inTurn.limits(0, 5_000).max).toBeLessThanOrEqual(32);
    // HTTP/2 streams through one shaper: every request waits for the whole window, the first one too (0.4 s), so the
    // minimum round trip holds our own queue; the window stood at 70–160 before.
    const shared = simulate({ ...link, sharing: 'fair' }, NODE, 30_000);
    expect(shared.limits(0, 30_000).max).toBeLessThanOrEqual(72);
    expect(shared.rate(10_000, 30_000) / 48).toBeGreaterThan(0.95);
    // A fast server next door (300 blocks/s, 2 ms): the window grew to the 512 ceiling, 1.7 s of queue.
    const near = simulate({ latencyMs: () => 2, jitterMs: 1, blocksPerSecond: 300, sharing: 'fair' }, NODE, 20_000);
    expect(near.limits(0, 20_000).max).toBeLessThanOrEqual(64);
    expect(near.rate(5_000, 20_000) / 300).toBeGreaterThan(0.9);
  });

  it('carries the slots of blocks being recorded on top of the window, so the link stays full', () => {
    // A block keeps its slot 300 ms after its answer while the ledger commits it: about 14 slots off the link.
    const r = simulate({ latencyMs: () => 80, jitterMs: 20, blocksPerSecond: 48, sharing: 'fair', heldMs: 300 }, NODE, 30_000);
    // Without them the window was the link's alone, and the slots held off it left the link idle a fifth of the time.
    expect(r.rate(5_000, 30_000) / 48).toBeGreaterThan(0.95);
    // Bounded all the same, below the browser's 128 (the rate read over a wave of answers overstates the link).
    expect(r.limits(10_000, 30_000).max).toBeLessThan(128);
  });

  it('never goes past a ceiling the person set, however fat the link', () => {
    const r = simulate({ latencyMs: () => 1000, blocksPerSecond: Infinity }, { floor: 2, ceiling: 24 }, 10_000);
    expect(r.limits(0, 10_000).max).toBe(24);
  });
});

describe('Pacer (unit)', () => {
  it('halves on throttling, once per window, never below the floor', async () => {
    const p = new Pacer({ floor: 2, ceiling: 16, initial: 16 });
    for (let i = 0; i < 16; i++) await p.acquire();
    p.release({ ok: false, throttled: true });
    expect(p.limit).toBe(8);
    // The rest of the same window's throttles do not compound.
    for (let i = 0; i < 5; i++) p.release({ ok: false, throttled: true });
    expect(p.limit).toBe(8);
    for (let i = 0; i < 10; i++) p.release({ ok: true, latencyMs: 5 });
    for (let k = 0; k < 10; k++) {
      await p.acquire();
      p.release({ ok: false, throttled: true });
    }
    expect(p.limit).toBe(2);
  });

  it('holds callers beyond the limit until a slot frees', async () => {
    const p = new Pacer({ floor: 1, ceiling: 2, initial: 2 });
    await p.acquire();
    await p.acquire();
    let third = false;
    const t = p.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    expect(p.active).toBe(2);
    p.release({ ok: true, latencyMs: 1 });
    await t;
    expect(third).toBe(true);
    expect(p.active).toBe(2);
  });

  it('never exceeds a ceiling below the floor', () => {
    const p = new Pacer({ floor: 2, ceiling: 1 });
    expect(p.limit).toBe(1);
    for (let i = 0; i < 100; i++) {
      void p.acquire();
      p.release({ ok: true, latencyMs: 1 });
    }
    expect(p.limit).toBe(1);
  });
});
