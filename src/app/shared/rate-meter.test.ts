import { describe, expect, it } from 'vitest';
import { RateMeter } from './rate-meter.ts';

describe('RateMeter', () => {
  it('knows nothing from a single sample', () => {
    const m = new RateMeter();
    m.sample(0, 0);
    expect(m.bytesPerSecond).toBe(0);
    expect(m.etaMs(100)).toBeNaN();
  });
  it('reports a steady rate exactly, whatever the sample spacing', () => {
    const m = new RateMeter(2000);
    let t = 0;
    let bytes = 0;
    m.sample(t, bytes);
    for (const dt of [100, 250, 50, 900, 333]) {
      t += dt;
      bytes += dt * 1000; // 1,000,000 bytes per second
      m.sample(t, bytes);
    }
    expect(m.bytesPerSecond).toBeCloseTo(1_000_000, 3);
    expect(m.etaMs(2_000_000)).toBeCloseTo(2000, 3);
  });
  it('smooths a burst instead of jumping to it', () => {
    const m = new RateMeter(3000);
    m.sample(0, 0);
    for (let i = 1; i <= 30; i++) m.sample(i * 1000, i * 1_000_000);
    m.sample(31_000, 30_000_000 + 10_000_000); // one second at 10 MB/s
    expect(m.bytesPerSecond).toBeGreaterThan(1_000_000);
    expect(m.bytesPerSecond).toBeLessThan(5_000_000);
  });
  it('starts afresh after reset', () => {
    const m = new RateMeter();
    m.sample(0, 0);
    m.sample(1000, 5000);
    m.reset();
    m.sample(60_000, 5000);
    expect(m.bytesPerSecond).toBe(0);
    m.sample(61_000, 6000);
    expect(m.bytesPerSecond).toBeCloseTo(1000, 6);
  });
});
