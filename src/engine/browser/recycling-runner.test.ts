// Workers replaced after their share of blocks: every block still claimed once, the pacer's window carried over,
// nothing run after a stop, a successor that cannot start reported, the retired workers ended.
import { describe, expect, it } from 'vitest';
import type { PipelineBatch, PipelineSpec, Slice } from '../block-pipeline.ts';
import type { PipelineRunner } from '../upload/upload-session.ts';
import { recyclingRunner } from './recycling-runner.ts';
import { WorkerBridge, type StartedWorker } from './worker-bridge.ts';

/** A fake worker: runs claimed slices, reports each as written, its window one more each batch. */
function fakeWorker(log: { id: number; slices: Slice[]; specs: PipelineSpec[]; terminated: boolean }[]): StartedWorker<PipelineRunner> {
  const me = { id: log.length, slices: [] as Slice[], specs: [] as PipelineSpec[], terminated: false };
  log.push(me);
  let stopping = false;
  return {
    api: {
      async run(spec, claim, onBatch) {
        stopping = false;
        me.specs.push(spec);
        let window = spec.initial ?? 4;
        for (let s = await claim(); s && !stopping; s = await claim()) {
          if (me.terminated) throw new Error('a terminated worker ran');
          me.slices.push(s);
          const written = Uint32Array.from({ length: s.count }, (_, k) => s!.first + k);
          await onBatch({ written, digests: new Uint8Array(written.length * 32), skipped: new Uint32Array(0), started: written, retrying: new Uint32Array(0), retried: 0, inFlight: 0, concurrency: ++window });
        }
        return stopping ? { kind: 'stopped' as const } : { kind: 'finished' as const };
      },
      stop() {
        stopping = true;
      },
    },
    terminate() {
      me.terminated = true;
    },
  };
}

/** The session's side: slices of `size` blocks from a cursor, null at the end. */
function cursorClaim(blockCount: number, size: number): () => Promise<Slice | null> {
  let cursor = 0;
  return async () => {
    if (cursor >= blockCount) return null;
    const s = { first: cursor, count: Math.min(size, blockCount - cursor) };
    cursor += s.count;
    return s;
  };
}

/** A runner over a bridge of fake workers, each replaced after `share` claimed blocks; `spawn` starts the later ones. */
function runnerOf(log: Parameters<typeof fakeWorker>[0], share: number, spawn: () => Promise<StartedWorker<PipelineRunner>> = async () => fakeWorker(log)) {
  let first = true;
  const bridge = new WorkerBridge<PipelineRunner>({
    spawn: () => {
      if (!first) return spawn();
      first = false;
      return fakeWorker(log);
    },
    recycleAfter: share,
  });
  return recyclingRunner(bridge);
}

/** A runner (shares of 20 blocks) whose successors start only when released; `spawning` resolves as one is asked for. */
function heldSpawn(log: Parameters<typeof fakeWorker>[0]) {
  let go!: () => void;
  let asked!: () => void;
  const spawning = new Promise<void>((res) => (asked = res));
  const r = runnerOf(log, 20, async () => {
    asked();
    await new Promise<void>((res) => (go = res));
    return fakeWorker(log);
  });
  return { r, spawning, release: () => go() };
}

const SPEC: PipelineSpec = { blockCount: 100, done: new Uint8Array(13), skipZeros: true, floor: 1, ceiling: 64 };

describe('recyclingRunner', () => {
  it('replaces the worker after each share, hands on the claim that found the share used, and claims every block once', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const r = runnerOf(log, 30);
    const batches: PipelineBatch[] = [];
    const out = await r.run(SPEC, cursorClaim(100, 10), (b) => void batches.push(b));
    expect(out.kind).toBe('finished');
    // Shares of 30 blocks: 0-29, 30-59, 60-89, 90-99 (the fourth worker finds the end).
    expect(log.map((w) => w.slices.map((s) => s.first))).toEqual([[0, 10, 20], [30, 40, 50], [60, 70, 80], [90]]);
    expect(r.replacements).toBe(3);
    const seen = batches.flatMap((b) => [...b.written]).sort((a, b) => a - b);
    expect(seen).toEqual([...Array(100).keys()]);
    // Retired workers are ended once drained; the current one only by terminate().
    expect(log.map((w) => w.terminated)).toEqual([true, true, true, false]);
    r.terminate();
    expect(log[3]!.terminated).toBe(true);
    // Each successor's pacer starts at the window its predecessor reached (4 + 3 batches).
    expect(log.map((w) => w.specs[0]!.initial)).toEqual([undefined, 7, 10, 13]);
  });

  it('at the end of the work, no successor is started for nothing', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const r = runnerOf(log, 30);
    await r.run(SPEC, cursorClaim(30, 10), () => undefined);
    expect(log).toHaveLength(1);
    expect(r.replacements).toBe(0);
  });

  it('never replaces a worker when the share is 0', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const r = runnerOf(log, 0);
    await r.run(SPEC, cursorClaim(100, 10), () => undefined);
    expect(log).toHaveLength(1);
    expect(log[0]!.slices).toHaveLength(10);
  });

  it('a stop while a worker retires ends the successor and runs nothing more; the next pass carries on', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const { r, spawning, release } = heldSpawn(log);
    const claim = cursorClaim(100, 10);
    const running = r.run(SPEC, claim, () => undefined);
    await spawning;
    await r.stop();
    release();
    // The outcome is the retiring worker's own (it had stopped claiming already).
    expect(['finished', 'stopped']).toContain((await running).kind);
    await new Promise((res) => setTimeout(res, 0));
    // Whether the stop found the old worker draining or the successor ready, one of the two is ended, and the carried
    // slice (20-29) ran nowhere: the next pass claims it again.
    expect(log).toHaveLength(2);
    expect(log.filter((w) => w.terminated)).toHaveLength(1);
    expect(log.flatMap((w) => w.slices.map((x) => x.first))).toEqual([0, 10]);
    // The next pass (after a resume) runs on the worker left.
    const live = log.find((w) => !w.terminated)!;
    await r.run(SPEC, cursorClaim(10, 10), () => undefined);
    expect(live.slices.at(-1)).toEqual({ first: 0, count: 10 });
  });

  it('a successor that cannot start rejects the run with its error', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const r = runnerOf(log, 20, async () => {
      throw new Error('The file could not be read again: permission was withdrawn.');
    });
    await expect(r.run(SPEC, cursorClaim(100, 10), () => undefined)).rejects.toThrow('permission was withdrawn');
    expect(log[0]!.slices.map((s) => s.first)).toEqual([0, 10]);
  });

  it('terminate() while a successor starts ends both', async () => {
    const log: Parameters<typeof fakeWorker>[0] = [];
    const { r, spawning, release } = heldSpawn(log);
    const running = r.run(SPEC, cursorClaim(100, 10), () => undefined);
    await spawning;
    r.terminate();
    release();
    await running;
    await new Promise((res) => setTimeout(res, 0));
    expect(log).toHaveLength(2);
    expect(log.every((w) => w.terminated)).toBe(true);
    expect(log[1]!.slices).toEqual([]);
  });
});
