import { describe, expect, it, vi } from 'vitest';
import { backoffMs, classifyFailure, shouldRetry, withRetry, DEFAULT_BACKOFF } from './retry.ts';

function sdkError(name: string, status: number, message = '', Reason?: string) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, ...(Reason ? { Reason } : {}) });
}

describe('classifyFailure', () => {
  it('retries exactly what the service calls retryable', () => {
    expect(classifyFailure(sdkError('InternalServerException', 500))).toBe('retry');
    expect(classifyFailure(sdkError('ValidationException', 400, 'Failed to read block data', 'INVALID_PARAMETER_VALUE'))).toBe('retry');
    expect(classifyFailure(sdkError('RequestThrottledException', 400, 'slow down', 'ACCOUNT_THROTTLED'))).toBe('throttle');
    expect(classifyFailure(sdkError('ThrottlingException', 400))).toBe('throttle');
    expect(classifyFailure(sdkError('ResourceNotFoundException', 404, "The snapshot 'snap-1' does not exist.", 'SNAPSHOT_NOT_FOUND'))).toBe('lag');
    expect(classifyFailure(Object.assign(new TypeError('Failed to fetch')))).toBe('retry');
    expect(classifyFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('retry');
  });

  it('never retries validation, conflicts, quotas or bad checksums', () => {
    expect(classifyFailure(sdkError('ValidationException', 400, 'Block data length 1 is not valid, expected 524288', 'INVALID_BLOCK'))).toBe('fatal');
    expect(classifyFailure(sdkError('ConflictException', 409))).toBe('fatal');
    expect(classifyFailure(sdkError('ServiceQuotaExceededException', 402))).toBe('fatal');
    expect(classifyFailure(sdkError('InvalidSignatureException', 403, 'The value passed in as x-amz-Checksum does not match the computed checksum.'))).toBe('fatal');
  });

  it('sends refused credentials to reconnect', () => {
    expect(classifyFailure(sdkError('UnrecognizedClientException', 403, 'The security token included in the request is invalid.'))).toBe('credentials');
    expect(classifyFailure(sdkError('ExpiredTokenException', 400))).toBe('credentials');
    expect(classifyFailure(sdkError('AccessDeniedException', 403, 'no', 'UNAUTHORIZED_ACCOUNT'))).toBe('credentials');
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter, capped, throttles starting higher', () => {
    const hi = () => 1;
    const lo = () => 0;
    expect(backoffMs(1, 'retry', DEFAULT_BACKOFF, hi)).toBe(100);
    expect(backoffMs(4, 'retry', DEFAULT_BACKOFF, hi)).toBe(800);
    expect(backoffMs(4, 'retry', DEFAULT_BACKOFF, lo)).toBe(200);
    expect(backoffMs(30, 'retry', DEFAULT_BACKOFF, hi)).toBe(10_000);
    expect(backoffMs(1, 'throttle', DEFAULT_BACKOFF, hi)).toBe(250);
  });

  it('limits attempts per class', () => {
    expect(shouldRetry('retry', 11)).toBe(true);
    expect(shouldRetry('retry', 12)).toBe(false);
    expect(shouldRetry('lag', 10)).toBe(false);
    expect(shouldRetry('fatal', 1)).toBe(false);
    expect(shouldRetry('credentials', 1)).toBe(false);
  });

  it('withRetry retries a 500 and gives up on a validation error at once', async () => {
    let calls = 0;
    const ok = await withRetry(async () => {
      if (++calls < 3) throw sdkError('InternalServerException', 500);
      return 'done';
    }, { policy: { ...DEFAULT_BACKOFF, baseMs: 1 } });
    expect([ok, calls]).toEqual(['done', 3]);
    let vcalls = 0;
    await expect(withRetry(async () => {
      vcalls++;
      throw sdkError('ValidationException', 400, 'bad');
    })).rejects.toThrow('bad');
    expect(vcalls).toBe(1);
  });
});

describe('withRetry over a shared link', () => {
  it('a call that gets no answer while the link is silent waits for it without spending attempts, then succeeds', async () => {
    const { LinkWatch } = await import('./link-watch.ts');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const link = new LinkWatch();
      link.answered();
      const upAt = Date.now() + 120_000;
      let calls = 0;
      const p = withRetry(async () => {
        calls++;
        if (Date.now() < upAt) throw new TypeError('Failed to fetch');
        return 'ok';
      }, { link });
      let out: string | undefined;
      void p.then((v) => (out = v));
      for (let i = 0; i < 2000 && out === undefined; i++) await vi.advanceTimersByTimeAsync(250);
      expect(out).toBe('ok');
      expect(calls).toBeGreaterThan(12);
      // Without a link the same silence fails after the policy's attempts.
      const bare = withRetry(async () => {
        throw new TypeError('Failed to fetch');
      }).catch((e: Error) => e.message);
      let msg: string | undefined;
      void bare.then((m) => (msg = m));
      for (let i = 0; i < 2000 && msg === undefined; i++) await vi.advanceTimersByTimeAsync(250);
      expect(msg).toBe('Failed to fetch');
    } finally {
      vi.useRealTimers();
    }
  });
});
