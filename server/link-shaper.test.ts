import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { duplexLink, LINK_BURST_BYTES, TokenBucket } from './link-shaper.ts';
import { parseFlags } from './flags.ts';
import { readBody } from './transport.ts';

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

/** A request body as the server sees it: a readable stream, with the headers and `complete` flag of Node's requests. */
function incoming(): Readable & { headers: Record<string, string>; complete: boolean } {
  const r = Object.assign(new Readable({ read() {} }), { headers: {} as Record<string, string>, complete: false });
  r.once('end', () => (r.complete = true));
  return r;
}

const KiB = 1024;
/** Lets the streams emit what was pushed (their events go out on process.nextTick, which fake timers leave alone). */
const flush = () => new Promise((r) => setImmediate(r));

describe('a request body on a shaped link (virtual time)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is read as it arrives and answered once its last byte has crossed the link, the queue being the link’s', async () => {
    // 1 MiB/s: 512 KiB less the idle link's burst of 64 KiB takes 437.5 ms.
    const link = new TokenBucket(() => 1024 * KiB);
    const req = incoming();
    let result: Awaited<ReturnType<typeof readBody>> | undefined;
    void readBody(req as never, 60_000, link).then((r) => (result = r));
    for (let k = 0; k < 32; k++) req.push(Buffer.alloc(16 * KiB, k));
    req.push(null);
    await flush();
    // Nothing of the body waits in the server's stream for a timer to let it through: a late event loop cannot idle the link.
    expect(req.readableLength).toBe(0);
    expect(req.isPaused()).toBe(false);
    await vi.advanceTimersByTimeAsync(430);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(result?.kind).toBe('ok');
    expect(result && 'body' in result ? result.body.byteLength : 0).toBe(512 * KiB);
  });

  it('shares the link among bodies in the order their bytes arrived', async () => {
    const link = new TokenBucket(() => 1024 * KiB);
    const a = incoming();
    const b = incoming();
    const done: string[] = [];
    void readBody(a as never, 60_000, link).then((r) => done.push(`a ${r.kind}`));
    void readBody(b as never, 60_000, link).then((r) => done.push(`b ${r.kind}`));
    // The client interleaves the two bodies, 16 KiB each turn, as HTTP/2 streams or two connections do.
    for (let k = 0; k < 32; k++) {
      a.push(Buffer.alloc(16 * KiB, 1));
      await flush();
      b.push(Buffer.alloc(16 * KiB, 2));
      await flush();
    }
    a.push(null);
    b.push(null);
    await flush();
    // a's last byte crosses after 1008 KiB in all (921.9 ms), b's after 1024 KiB (937.5 ms): neither goes alone at full rate.
    await vi.advanceTimersByTimeAsync(915);
    expect(done).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toEqual(['a ok']);
    await vi.advanceTimersByTimeAsync(15);
    expect(done).toEqual(['a ok', 'b ok']);
  });

  it('does not cut a body waiting its turn behind a queue longer than the body timeout', async () => {
    const link = new TokenBucket(() => 1024 * KiB);
    const first = incoming();
    const req = incoming();
    let result: Awaited<ReturnType<typeof readBody>> | undefined;
    void readBody(first as never, 60_000, link);
    void readBody(req as never, 100, link).then((r) => (result = r));
    // 512 KiB of another body are on the link first: this one's bytes wait 437.5 ms for their turn.
    for (let k = 0; k < 32; k++) first.push(Buffer.alloc(16 * KiB, k));
    first.push(null);
    await flush();
    for (let k = 0; k < 32; k++) req.push(Buffer.alloc(16 * KiB, k));
    req.push(null);
    await flush();
    await vi.advanceTimersByTimeAsync(2000);
    expect(result?.kind).toBe('ok');
  });

  it('still ends a body whose client stops sending, after the body timeout', async () => {
    const link = new TokenBucket(() => 1024 * KiB);
    const req = incoming();
    let result: Awaited<ReturnType<typeof readBody>> | undefined;
    void readBody(req as never, 100, link).then((r) => (result = r));
    req.push(Buffer.alloc(16 * KiB));
    await flush();
    await vi.advanceTimersByTimeAsync(150);
    expect(result?.kind).toBe('short');
  });
});
