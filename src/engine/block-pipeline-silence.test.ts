import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RequestDeadlineError } from '../aws/request-deadline.ts';
import { BLOCK_SIZE, type DiskImage } from '../images/types.ts';
import { type Sha256, wasmSha256Factory } from './block-digest.ts';
import { BlockPipeline, type BlockSink, type PipelineBatch, type PipelineOutcome, type PipelineSpec, type Slice } from './block-pipeline.ts';
import { fillRandom } from './testing/upload-test-kit.ts';

function image(n: number): DiskImage {
  const bytes = new Uint8Array(n * BLOCK_SIZE);
  fillRandom(bytes, 7);
  return {
    format: 'raw',
    virtualSize: bytes.length,
    blockCount: n,
    notices: [],
    blockStates: async () => new Uint8Array(n).fill(2),
    readBlocks: async (first, count) => bytes.slice(first * BLOCK_SIZE, (first + count) * BLOCK_SIZE),
  };
}

function slices(n: number): () => Promise<Slice | null> {
  let at = 0;
  return async () => (at >= n ? null : { first: (at += 2) - 2, count: Math.min(2, n - at + 2) });
}

function spec(n: number, extra: Partial<PipelineSpec> = {}): PipelineSpec {
  return { snapshotId: 'snap-1', blockCount: n, done: new Uint8Array(Math.ceil(n / 8)), skipZeros: false, floor: 1, ceiling: 4, ...extra };
}

/** A fetch that finds no network: the error fetch throws, with no HTTP status. */
function offline(): Error {
  return new TypeError('Failed to fetch');
}

/** Runs the pipeline under fake timers, moving the clock until it ends. */
async function runFaked(p: Promise<PipelineOutcome>): Promise<PipelineOutcome> {
  let out: PipelineOutcome | undefined;
  void p.then((o) => (out = o));
  for (let i = 0; i < 100_000 && !out; i++) await vi.advanceTimersByTimeAsync(250);
  return out!;
}

// The WebAssembly digest answers within microtasks. WebCrypto answers in real time from a thread pool, while the fake
// clock below runs 250 ms per turn: a block hashed late would meet a clock minutes ahead, a race these tests must not hold.
let sha256: Sha256;
beforeAll(async () => {
  sha256 = await wasmSha256Factory();
});

describe('BlockPipeline when requests time out or the service goes silent', () => {
  afterEach(() => vi.useRealTimers());

  it('a request aborted at its deadline is retried like a timeout and counted in "retried"', async () => {
    const n = 8;
    const tried = new Map<number, number>();
    const sink: BlockSink = {
      put: async (i) => {
        tried.set(i, (tried.get(i) ?? 0) + 1);
        if (i === 3 && tried.get(i) === 1) throw new RequestDeadlineError(10_000);
      },
    };
    const batches: PipelineBatch[] = [];
    const out = await new BlockPipeline(image(n), () => sink, sha256).run(spec(n), slices(n), (b) => void batches.push(b));
    expect(out).toEqual({ kind: 'finished' });
    expect(batches.reduce((s, b) => s + b.retried, 0)).toBe(1);
    expect(batches.flatMap((b) => [...b.retrying])).toEqual([3]);
    expect(batches.flatMap((b) => [...b.written]).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('an outage far longer than the retry budget spends no attempts: the run waits, says so, and resumes by itself', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const n = 6;
    const upAt = Date.now() + 3 * 60_000;
    let calls = 0;
    const sink: BlockSink = {
      put: async (i) => {
        calls++;
        // Blocks 0 and 1 go through; then the network is gone for three minutes.
        if (i >= 2 && Date.now() < upAt) throw offline();
      },
    };
    const batches: PipelineBatch[] = [];
    const out = await runFaked(new BlockPipeline(image(n), () => sink, sha256).run(spec(n), slices(n), (b) => void batches.push(b)));
    expect(out).toEqual({ kind: 'finished' });
    expect(batches.flatMap((b) => [...b.written]).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    // Far more failures than the 12 attempts a block has, yet nothing failed: they were the outage's.
    expect(calls).toBeGreaterThan(30);
    expect(batches.some((b) => b.waiting === true)).toBe(true);
    expect(batches.at(-1)!.waiting).toBe(false);
  });

  it('while the service is silent, one request probes at a time instead of the whole window', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const n = 16;
    const upAt = Date.now() + 60_000;
    let active = 0;
    let peakWhileDown = 0;
    let silentSince = 0;
    const sink: BlockSink = {
      put: async (i) => {
        if (i < 2) return;
        if (Date.now() < upAt) {
          active++;
          if (silentSince && Date.now() > silentSince + 5000) peakWhileDown = Math.max(peakWhileDown, active);
          silentSince ||= Date.now();
          await new Promise((r) => setTimeout(r, 10));
          active--;
          throw offline();
        }
      },
    };
    const out = await runFaked(new BlockPipeline(image(n), () => sink, sha256).run(spec(n, { ceiling: 8, initial: 8 }), slices(n), () => undefined));
    expect(out).toEqual({ kind: 'finished' });
    expect(peakWhileDown).toBe(1);
  });

  it('a silence longer than the snapshot Timeout fails with a sentence and the way forward', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const n = 4;
    const sink: BlockSink = {
      put: async (i) => {
        if (i > 0) throw offline();
      },
    };
    const out = await runFaked(new BlockPipeline(image(n), () => sink, sha256).run(spec(n, { silenceLimitMs: 60_000 }), slices(n), () => undefined));
    expect(out.kind).toBe('failed');
    if (out.kind !== 'failed') return;
    expect(out.failure.code).toBe('offline');
    expect(out.failure.message).toMatch(/has not answered .* Timeout.*resume/);
  });

  it('a link that never answered is no outage either (a wrong endpoint, CORS): attempts are spent and it fails', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let calls = 0;
    const sink: BlockSink = {
      put: async () => {
        calls++;
        throw offline();
      },
    };
    const out = await runFaked(new BlockPipeline(image(1), () => sink, sha256).run(spec(1), slices(1), () => undefined));
    expect(out.kind).toBe('failed');
    if (out.kind === 'failed') expect(out.failure.code).toBe('service');
    expect(calls).toBe(12);
  });

  it('a run told the service answered earlier in the session (after a pause, a new worker) waits out a silence from its first request', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const upAt = Date.now() + 3 * 60_000;
    const sink: BlockSink = {
      put: async () => {
        if (Date.now() < upAt) throw offline();
      },
    };
    const out = await runFaked(new BlockPipeline(image(2), () => sink, sha256).run(spec(2, { linkAnswered: true }), slices(2), () => undefined));
    expect(out).toEqual({ kind: 'finished' });
  });

  it('an error the service sent is no outage: it still spends attempts and fails as before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const n = 1;
    let calls = 0;
    const sink: BlockSink = {
      put: async () => {
        calls++;
        throw Object.assign(new Error('boom'), { name: 'InternalServerException', $metadata: { httpStatusCode: 500 } });
      },
    };
    const out = await runFaked(new BlockPipeline(image(n), () => sink, sha256).run(spec(n, { ceiling: 1 }), slices(n), () => undefined));
    expect(out.kind).toBe('failed');
    expect(calls).toBe(12);
  });
});
