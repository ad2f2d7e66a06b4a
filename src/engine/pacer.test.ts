import { describe, expect, it } from 'vitest';
import { Pacer } from './pacer.ts';

function succeed(p: Pacer, n: number, latencyMs = 10): void {
  for (let i = 0; i < n; i++) {
    void p.acquire();
    p.release({ ok: true, latencyMs });
  }
}

describe('Pacer (AIMD)', () => {
  it('grows additively up to the ceiling', () => {
    const p = new Pacer({ floor: 2, ceiling: 16, initial: 4 });
    expect(p.limit).toBe(4);
    succeed(p, 5);
    expect(p.limit).toBe(5);
    succeed(p, 500);
    expect(p.limit).toBe(16);
  });

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

  it('shrinks when latency jumps, not when it is merely high', () => {
    const steady = new Pacer({ floor: 1, ceiling: 32, initial: 8 });
    succeed(steady, 1000, 120);
    expect(steady.limit).toBe(32);
    const p = new Pacer({ floor: 1, ceiling: 32, initial: 8 });
    succeed(p, 100, 10);
    const before = p.limit;
    succeed(p, 5, 200);
    expect(p.limit).toBeLessThan(before);
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
});

describe('Pacer limits', () => {
  it('never exceeds a ceiling below the floor', () => {
    const p = new Pacer({ floor: 2, ceiling: 1 });
    expect(p.limit).toBe(1);
    succeed(p, 100);
    expect(p.limit).toBe(1);
  });
});
