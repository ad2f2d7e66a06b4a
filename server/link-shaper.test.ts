import { describe, expect, it } from 'vitest';
import { duplexLink, LINK_BURST_BYTES, TokenBucket } from './link-shaper.ts';
import { parseFlags } from './flags.ts';

/** Senders that each pass a chunk, then wait what the bucket says, in virtual time; returns bytes passed by `until`. */
function drive(bucket: TokenBucket, clock: { t: number }, senders: number, chunk: number, until: number): number[] {
  const next = Array.from({ length: senders }, () => 0);
  const passed = Array.from({ length: senders }, () => 0);
  for (;;) {
    let k = 0;
    for (let j = 1; j < senders; j++) if (next[j]! < next[k]!) k = j;
    if (next[k]! > until) return passed;
    clock.t = next[k]!;
    const wait = bucket.reserve(chunk);
    // The chunk passes once its wait is over.
    if (clock.t + wait <= until) passed[k]! += chunk;
    next[k] = clock.t + wait;
  }
}

describe('TokenBucket (virtual time)', () => {
  it('carries the configured bytes per second in total, however many connections share it', () => {
    const rate = 24 * 1048576;
    for (const senders of [1, 8, 64]) {
      const clock = { t: 0 };
      const bucket = new TokenBucket(() => rate, () => clock.t);
      const passed = drive(bucket, clock, senders, 16384, 10_000);
      const total = passed.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(rate * 10 + LINK_BURST_BYTES);
      expect(total).toBeGreaterThan(rate * 10 * 0.99);
      // Shared fairly: the bookings go in turn.
      expect(Math.min(...passed) / Math.max(...passed)).toBeGreaterThan(0.9);
    }
  });

  it('lets a burst through at once on an idle link, then spaces the rest', () => {
    const clock = { t: 0 };
    const bucket = new TokenBucket(() => 1048576, () => clock.t);
    expect(bucket.reserve(LINK_BURST_BYTES)).toBe(0);
    expect(bucket.reserve(1048576)).toBeCloseTo(1000, 6);
    clock.t = 60_000;
    expect(bucket.reserve(1024)).toBe(0);
  });

  it('never waits when the link is unlimited', () => {
    const bucket = new TokenBucket(() => 0, () => 0);
    for (let i = 0; i < 100; i++) expect(bucket.reserve(1048576)).toBe(0);
  });
});

describe('duplexLink (virtual time)', () => {
  it('carries answers down without queueing them behind the uploads going up, each direction at the full rate', () => {
    const rate = 24 * 1048576;
    const clock = { t: 0 };
    const link = duplexLink(() => rate, () => clock.t);
    // 64 uploads each book a 64 KiB chunk: the uplink is 4 MiB (about 170 ms) deep.
    let upWait = 0;
    for (let i = 0; i < 64; i++) upWait = link.up.reserve(65536);
    expect(upWait).toBeGreaterThan(100);
    // A small answer (a PutSnapshotBlock response) goes down at once, as on a real full-duplex link.
    expect(link.down.reserve(300)).toBe(0);
    // A download body going down meanwhile is paced by the downlink's own rate only.
    expect(link.down.reserve(LINK_BURST_BYTES - 300 + 1048576)).toBeCloseTo(1000 / 24, 6);
    // And the uplink still carries exactly its rate: the next chunk waits behind the 4 MiB already booked.
    expect(link.up.reserve(65536)).toBeCloseTo(((65 * 65536 - LINK_BURST_BYTES) / rate) * 1000, 6);
  });
});

describe('link flags', () => {
  it('reads --bandwidth and --latency-jitter-ms, and refuses a negative bandwidth with a sentence', () => {
    const { config } = parseFlags(['--bandwidth', '24', '--latency-ms', '80', '--latency-jitter-ms', '20']);
    expect(config).toMatchObject({ bandwidthMiBps: 24, latencyMs: 80, latencyJitterMs: 20 });
    expect(() => parseFlags(['--bandwidth', '-1'])).toThrow(/--bandwidth needs a number ≥ 0/);
  });
});
