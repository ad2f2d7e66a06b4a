import { afterEach, describe, expect, it, vi } from 'vitest';
import { EBSClient, PutSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { HttpResponse, type HttpHandler, type HttpRequest } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';
import { classifyFailure } from '../engine/retry.ts';
import { applyDeadlines, DeadlineEstimator, deadlineHandler, RequestDeadlineError, type DeadlineStats } from './request-deadline.ts';

describe('DeadlineEstimator', () => {
  it('uses the initial deadline until enough answers were seen', () => {
    const e = new DeadlineEstimator({ initialMs: 30_000, minSamples: 8, floorMs: 1000, ceilingMs: 60_000 });
    for (let i = 0; i < 7; i++) e.observe(50);
    expect(e.p99()).toBeUndefined();
    expect(e.deadlineMs()).toBe(30_000);
    e.observe(50);
    expect(e.p99()).toBe(50);
  });

  it('never goes under the floor nor over the ceiling', () => {
    const fast = new DeadlineEstimator({ floorMs: 10_000, ceilingMs: 120_000, factor: 4, minSamples: 4 });
    for (let i = 0; i < 20; i++) fast.observe(20);
    expect(fast.deadlineMs()).toBe(10_000);
    const slow = new DeadlineEstimator({ floorMs: 10_000, ceilingMs: 120_000, factor: 4, minSamples: 4 });
    for (let i = 0; i < 20; i++) slow.observe(90_000);
    expect(slow.deadlineMs()).toBe(120_000);
  });

  it('follows the p99 of the recent latencies: a slower link earns a longer deadline, and recovers', () => {
    const e = new DeadlineEstimator({ floorMs: 1000, ceilingMs: 1_000_000, factor: 4, window: 100, minSamples: 10 });
    for (let i = 0; i < 100; i++) e.observe(i < 98 ? 500 : 5000);
    // Two slow answers of a hundred sit at the 99th percentile.
    expect(e.p99()).toBe(5000);
    expect(e.deadlineMs()).toBe(20_000);
    for (let i = 0; i < 100; i++) e.observe(i < 2 ? 3000 : 2000);
    expect(e.p99()).toBe(3000);
    expect(e.deadlineMs()).toBe(12_000);
    // The old latencies left the window: only the recent ones count.
    for (let i = 0; i < 100; i++) e.observe(400);
    expect(e.deadlineMs()).toBe(1600);
  });

  it('ignores nonsense samples', () => {
    const e = new DeadlineEstimator({ minSamples: 1 });
    e.observe(Number.NaN);
    e.observe(-5);
    expect(e.p99()).toBeUndefined();
  });
});

/** A handler that answers after `delays[i]` ms for the i-th request (Infinity: never), noting aborts. */
function scriptedHandler(delays: number[]) {
  const aborted: number[] = [];
  let n = 0;
  const handler: HttpHandler<object> = {
    handle(_req: HttpRequest, opts?: HttpHandlerOptions) {
      const i = n++;
      const d = delays[i] ?? 0;
      return new Promise((resolve) => {
        const t = d === Infinity || d === -1 ? undefined : setTimeout(() => resolve({ response: new HttpResponse({ statusCode: 201, headers: {}, body: undefined }) }), d);
        (opts?.abortSignal as AbortSignal | undefined)?.addEventListener('abort', () => {
          aborted.push(i);
          clearTimeout(t);
        });
        // A handler that ignores the abort and answers late anyway (the deadline must still hold).
        if (d === -1) setTimeout(() => resolve({ response: new HttpResponse({ statusCode: 201, headers: {}, body: undefined }) }), 60_000);
      });
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return { handler, aborted };
}

describe('deadlineHandler', () => {
  afterEach(() => vi.useRealTimers());

  it('aborts a request past its deadline with a TimeoutError the engine retries, and records answered latencies', async () => {
    vi.useFakeTimers();
    const est = new DeadlineEstimator({ initialMs: 5000, floorMs: 1000, ceilingMs: 10_000, minSamples: 1 });
    const stats: DeadlineStats = { aborted: 0, lateIgnored: 0 };
    const { handler, aborted } = scriptedHandler([200, Infinity]);
    const h = deadlineHandler(handler, est, stats, () => Date.now());
    const req = { method: 'PUT' } as HttpRequest;
    const first = h.handle(req);
    await vi.advanceTimersByTimeAsync(200);
    await expect(first).resolves.toBeDefined();
    expect(est.p99()).toBe(200);
    // 4 × 200 ms is under the floor: the deadline is the floor.
    const second = h.handle(req);
    const failed = second.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(999);
    expect(aborted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const err = await failed;
    expect(err).toBeInstanceOf(RequestDeadlineError);
    expect(classifyFailure(err)).toBe('retry');
    expect(aborted).toEqual([1]);
    expect(stats.aborted).toBe(1);
  });

  it('ignores an answer that arrives after the deadline', async () => {
    vi.useFakeTimers();
    const est = new DeadlineEstimator({ initialMs: 1000, floorMs: 1000 });
    const stats: DeadlineStats = { aborted: 0, lateIgnored: 0 };
    const { handler } = scriptedHandler([-1]);
    const h = deadlineHandler(handler, est, stats, () => Date.now());
    const out = h.handle({ method: 'PUT' } as HttpRequest).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await out).toBeInstanceOf(RequestDeadlineError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(stats.lateIgnored).toBe(1);
    // The late answer taught the estimator nothing.
    expect(est.p99()).toBeUndefined();
  });

  it('gives start, complete and EC2 calls (POST) at least the initial deadline, and learns nothing from them', async () => {
    vi.useFakeTimers();
    const est = new DeadlineEstimator({ initialMs: 20_000, floorMs: 1000, ceilingMs: 60_000, minSamples: 1 });
    est.observe(10);
    const { handler, aborted } = scriptedHandler([5000, Infinity]);
    const h = deadlineHandler(handler, est, undefined, () => Date.now());
    const slow = h.handle({ method: 'POST' } as HttpRequest);
    await vi.advanceTimersByTimeAsync(5000);
    await expect(slow).resolves.toBeDefined();
    expect(est.p99()).toBe(10);
    const silent = h.handle({ method: 'POST' } as HttpRequest).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(aborted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await silent).toBeInstanceOf(RequestDeadlineError);
  });

  it("passes the caller's own abort through as an AbortError", async () => {
    vi.useFakeTimers();
    const { handler, aborted } = scriptedHandler([Infinity]);
    const h = deadlineHandler(handler, new DeadlineEstimator({ initialMs: 60_000 }), undefined, () => Date.now());
    const ctl = new AbortController();
    const out = h.handle({} as HttpRequest, { abortSignal: ctl.signal as HttpHandlerOptions['abortSignal'] }).catch((e: unknown) => e);
    ctl.abort();
    expect(((await out) as Error).name).toBe('AbortError');
    expect(aborted).toEqual([0]);
  });

  it('puts a real SDK PutSnapshotBlock under the deadline (today it had no abort signal at all)', async () => {
    const { handler, aborted } = scriptedHandler([Infinity]);
    const ebs = new EBSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, requestHandler: handler, maxAttempts: 1 });
    const stats: DeadlineStats = { aborted: 0, lateIgnored: 0 };
    applyDeadlines(ebs, { initialMs: 50, floorMs: 50 }, stats);
    const err = await ebs
      .send(new PutSnapshotBlockCommand({ SnapshotId: 'snap-1', BlockIndex: 0, BlockData: new Uint8Array(524288), DataLength: 524288, Checksum: 'x', ChecksumAlgorithm: 'SHA256' }))
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(classifyFailure(err)).toBe('retry');
    expect(aborted).toEqual([0]);
    expect(stats.aborted).toBe(1);
  });
});
