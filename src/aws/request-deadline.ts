// Every request gets a deadline learned from the answers seen so far; past it the request is aborted as a timeout.
import type { HttpHandler, HttpRequest, HttpResponse } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';
import { wrapHandler } from './wrap-handler.ts';

/** How deadlines are derived from observed latency. */
export interface DeadlineOptions {
  /** No deadline is shorter (a slow but live link is never cut). */
  floorMs: number;
  /** No deadline is longer (a silent link is noticed within this). */
  ceilingMs: number;
  /** Deadline = factor × p99 of recent latencies, within floor and ceiling. */
  factor: number;
  /** The deadline until enough answers were seen. */
  initialMs: number;
  /** Latencies kept (the most recent). */
  window: number;
  /** Answers needed before the p99 is trusted. */
  minSamples: number;
}

/** Defaults: 4 × p99, never under 10 s nor over 2 min; 30 s until 8 answers came back. */
export const DEFAULT_DEADLINES: DeadlineOptions = { floorMs: 10_000, ceilingMs: 120_000, factor: 4, initialMs: 30_000, window: 256, minSamples: 8 };

/** Learns latency from successful requests and says how long the next one may take. */
export class DeadlineEstimator {
  readonly options: DeadlineOptions;
  private samples: number[] = [];
  private next = 0;

  constructor(options: Partial<DeadlineOptions> = {}) {
    const o = { ...DEFAULT_DEADLINES, ...options };
    o.ceilingMs = Math.max(o.floorMs, o.ceilingMs);
    this.options = o;
  }

  /** Records the latency of a request that was answered. */
  observe(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    if (this.samples.length < this.options.window) this.samples.push(latencyMs);
    else this.samples[this.next] = latencyMs;
    this.next = (this.next + 1) % this.options.window;
  }

  /** The 99th percentile of the recent latencies, or undefined before minSamples answers. */
  p99(): number | undefined {
    if (this.samples.length < this.options.minSamples) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
  }

  /** The deadline for the next request, ms. */
  deadlineMs(): number {
    const { floorMs, ceilingMs, factor, initialMs } = this.options;
    const p = this.p99();
    const raw = p === undefined ? initialMs : p * factor;
    return Math.round(Math.min(ceilingMs, Math.max(floorMs, raw)));
  }
}

/** The error of a request aborted at its deadline: a timeout, retried like one. */
export class RequestDeadlineError extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly deadlineMs: number) {
    super(`The service did not answer within ${(deadlineMs / 1000).toFixed(1)} s; the request was abandoned and will be retried.`);
  }
}

/** Counts requests aborted at their deadline (tests and diagnostics read it). */
export interface DeadlineStats {
  aborted: number;
  /** Answers that arrived after their request had been abandoned, ignored. */
  lateIgnored: number;
}

/**
 * Wraps a request handler so each request runs under a deadline from `estimator`: it is aborted (the transport
 * drops its socket and body) when the deadline passes, or when the caller's own signal aborts. An answer that
 * still arrives afterwards is ignored.
 */
export function deadlineHandler<C extends object>(inner: HttpHandler<C>, estimator: DeadlineEstimator, stats?: DeadlineStats, now: () => number = () => performance.now()): HttpHandler<C> {
  return wrapHandler(inner, (request: HttpRequest, options?: HttpHandlerOptions) => {
    const outer = options?.abortSignal as AbortSignal | undefined;
    if (outer?.aborted) return inner.handle(request, options);
    // Block reads and writes (GET, PUT) are many and alike: their latency teaches the deadline. Start, complete and EC2
    // calls (POST) are few and some do real work (a completion's checksum): never less than the initial deadline.
    const learned = request.method === 'PUT' || request.method === 'GET';
    const ms = learned ? estimator.deadlineMs() : Math.max(estimator.deadlineMs(), Math.min(estimator.options.initialMs, estimator.options.ceilingMs));
    const ctl = new AbortController();
    let settled = false;
    const started = now();
    return new Promise<{ response: HttpResponse }>((resolve, reject) => {
      const onOuter = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctl.abort((outer as AbortSignal & { reason?: unknown }).reason);
        const e = new Error('The request was aborted.');
        e.name = 'AbortError';
        reject(e);
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        outer?.removeEventListener('abort', onOuter);
        if (stats) stats.aborted++;
        const err = new RequestDeadlineError(ms);
        ctl.abort(err);
        reject(err);
      }, ms);
      outer?.addEventListener('abort', onOuter, { once: true });
      inner.handle(request, { ...options, abortSignal: ctl.signal as HttpHandlerOptions['abortSignal'] }).then(
        (out) => {
          if (settled) {
            // A late answer: its request was given up on and retried; drop the body unread.
            if (stats) stats.lateIgnored++;
            cancelBody(out.response);
            return;
          }
          settled = true;
          clearTimeout(timer);
          outer?.removeEventListener('abort', onOuter);
          if (learned) estimator.observe(now() - started);
          resolve(out);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          outer?.removeEventListener('abort', onOuter);
          reject(err);
        },
      );
    });
  });
}

function cancelBody(response: HttpResponse): void {
  const body = response.body as { cancel?: () => Promise<void>; destroy?: () => void } | undefined;
  try {
    if (typeof body?.cancel === 'function') void body.cancel().catch(() => undefined);
    else body?.destroy?.();
  } catch {
    // Nothing to release.
  }
}

/** A client whose configuration holds the request handler (every SDK v3 client). */
interface HasHandler {
  config: { requestHandler: unknown };
}

/** Puts every request of `client` under a deadline; returns the estimator (one per client: its own latencies). */
export function applyDeadlines(client: HasHandler, options: Partial<DeadlineOptions> = {}, stats?: DeadlineStats): DeadlineEstimator {
  const estimator = new DeadlineEstimator(options);
  const inner = client.config.requestHandler as HttpHandler<object>;
  client.config.requestHandler = deadlineHandler(inner, estimator, stats);
  return estimator;
}
