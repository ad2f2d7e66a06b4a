// Which failures to retry (exactly what the service says is retryable) and how long to wait.

/** What to do about a failed call. */
export type FailureClass =
  /** 5xx, network trouble, "Failed to read block data": retry with backoff. */
  | 'retry'
  /** Throttling: retry with backoff and slow down. */
  | 'throttle'
  /** 404 on a snapshot that should exist: the lag right after StartSnapshot; retry a few times. */
  | 'lag'
  /** Credentials expired or refused: ask the person to reconnect. */
  | 'credentials'
  /** Validation and everything else: never retried. */
  | 'fatal';

interface ErrorLike {
  name?: string;
  message?: string;
  Reason?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

const THROTTLES = new Set([
  'RequestThrottledException',
  'ThrottlingException',
  'ConcurrentLimitExceededException',
  'TooManyRequestsException',
  'SlowDown',
  'RequestLimitExceeded',
]);
const CREDENTIALS = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'AuthFailure',
  'RequestExpired',
  'CredentialsProviderError',
]);
const NETWORK = /Failed to fetch|NetworkError|network|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|aborted|timed? ?out|Load failed|fetch failed/i;

/** Classifies an SDK or network error into what the pipeline should do. */
export function classifyFailure(err: unknown): FailureClass {
  const e = (err ?? {}) as ErrorLike;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const message = e.message ?? '';
  if (THROTTLES.has(name) || status === 429 || status === 503) return 'throttle';
  if (name === 'ValidationException' && /Failed to read block data/i.test(message)) return 'retry';
  if (name === 'InternalServerException' || (status !== undefined && status >= 500)) return 'retry';
  if (name === 'ResourceNotFoundException' && (e.Reason === 'SNAPSHOT_NOT_FOUND' || /does not exist/.test(message))) return 'lag';
  if (CREDENTIALS.has(name)) return 'credentials';
  if (name === 'AccessDeniedException' && e.Reason !== 'DEPENDENCY_ACCESS_DENIED') return 'credentials';
  if (name === 'InvalidSignatureException' && /Signature expired|security token/i.test(message)) return 'credentials';
  if (status === undefined && (name === 'TypeError' || name === 'TimeoutError' || name === 'AbortError' || NETWORK.test(message) || NETWORK.test(e.code ?? '')))
    return 'retry';
  return 'fatal';
}

/** A failure with no answer from the service at all (network error or deadline), as opposed to an error it sent. */
export function isUnanswered(err: unknown): boolean {
  const e = (err ?? {}) as ErrorLike;
  return classifyFailure(err) === 'retry' && e.$metadata?.httpStatusCode === undefined && e.$response?.statusCode === undefined;
}

/** Backoff settings. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Attempts in all, including the first. */
  maxAttempts: number;
  /** Attempts allowed for the 404 lag. */
  maxLagAttempts: number;
}

/** The default policy: 100 ms doubling to 10 s, 12 attempts (a 10% fault rate fails one block in 10^12). */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 10_000, maxAttempts: 12, maxLagAttempts: 10 };

/** Capped exponential backoff with full jitter; throttles start higher. */
export function backoffMs(attempt: number, cls: FailureClass, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = cls === 'throttle' ? policy.baseMs * 2.5 : policy.baseMs;
  const ceiling = Math.min(policy.capMs, base * 2 ** Math.max(0, attempt - 1));
  // Full jitter, but never less than a quarter of the step so retries do not stampede.
  return Math.round(ceiling * (0.25 + 0.75 * random()));
}

/** Whether another attempt is allowed after `attempt` failed attempts of class cls. */
export function shouldRetry(cls: FailureClass, attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): boolean {
  if (cls === 'retry' || cls === 'throttle') return attempt < policy.maxAttempts;
  if (cls === 'lag') return attempt < policy.maxLagAttempts;
  return false;
}

/** A pause that resolves after ms (worker and Node timers; never main-thread timer chains for progress). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What withRetry needs of a LinkWatch: answers and silences of the calls sharing one link. */
interface Link {
  answered(): void;
  unanswered(startedAt: number): boolean;
  silenceMs(): number;
  pass(): Promise<void>;
}

/**
 * Calls fn, retrying what classifyFailure says is retryable; onRetry sees each retried failure. With a `link`, a call
 * that got no answer while the whole link is silent waits for the link instead of spending attempts, for up to
 * `silenceLimitMs` (default 60 min).
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: { policy?: BackoffPolicy; onRetry?: (cls: FailureClass, err: unknown, attempt: number) => void; shouldStop?: () => boolean; link?: Link; silenceLimitMs?: number } = {},
): Promise<T> {
  const policy = opts.policy ?? DEFAULT_BACKOFF;
  const link = opts.link;
  for (let attempt = 1; ; attempt++) {
    const sentAt = Date.now();
    try {
      const out = await fn();
      link?.answered();
      return out;
    } catch (err) {
      const cls = classifyFailure(err);
      const outage = link && isUnanswered(err) ? link.unanswered(sentAt) : (link?.answered(), false);
      if (outage && link && link.silenceMs() <= (opts.silenceLimitMs ?? 3_600_000) && !opts.shouldStop?.()) {
        attempt--;
        opts.onRetry?.(cls, err, attempt);
        await link.pass();
        continue;
      }
      if (!shouldRetry(cls, attempt, policy) || opts.shouldStop?.()) throw err;
      opts.onRetry?.(cls, err, attempt);
      await sleep(backoffMs(attempt, cls, policy));
    }
  }
}
