import { describe, expect, it } from 'vitest';
import { Throttle } from './throttle.ts';

describe('Throttle', () => {
  it('limits calls per key per sliding second', () => {
    const t = new Throttle();
    expect([0, 100, 200].map((now) => t.admit('snap-a', 2, now))).toEqual([true, true, false]);
    expect(t.admit('snap-b', 2, 200)).toBe(true);
    expect(t.admit('snap-a', 2, 1001)).toBe(true);
    expect(t.admit('snap-a', 2, 1050)).toBe(false);
    expect(t.admit('snap-a', 0, 1050)).toBe(true);
  });

  it('does not count refused calls, so a caller that backs off gets through after a window', () => {
    const t = new Throttle(1000);
    expect(t.admit('k', 1, 0)).toBe(true);
    for (let now = 1; now < 1000; now += 100) expect(t.admit('k', 1, now)).toBe(false);
    expect(t.admit('k', 1, 1000)).toBe(true);
  });

  it('admits exactly the limit at one instant, as a frozen clock sees it, and again once the clock moves a window', () => {
    const t = new Throttle();
    const admitted = Array.from({ length: 12 }, () => t.admit('StartSnapshot', 10, 5000)).filter(Boolean).length;
    expect(admitted).toBe(10);
    expect(t.admit('StartSnapshot', 10, 6000)).toBe(true);
  });

  it('forgets calls in the future when the clock moves back, and everything on reset', () => {
    const t = new Throttle();
    expect(t.admit('k', 1, 10_000)).toBe(true);
    expect(t.admit('k', 1, 10_000)).toBe(false);
    expect(t.admit('k', 1, 0)).toBe(true);
    expect(t.admit('k', 1, 0)).toBe(false);
    t.reset();
    expect(t.admit('k', 1, 0)).toBe(true);
  });

  it('stays bounded: idle keys are dropped once many keys were seen', () => {
    const t = new Throttle();
    for (let i = 0; i < 1001; i++) t.admit(`snap-${i}`, 1, 0);
    expect(t.admit('snap-0', 1, 500)).toBe(false);
    t.admit('snap-new', 1, 2000);
    expect(t.size).toBe(1);
  });
});
