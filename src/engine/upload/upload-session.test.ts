// How a session hands out work (runs of blocks, long at first and shrinking towards the end, each block once) and reports it.
import { describe, expect, it } from 'vitest';
import { BlockState } from '../../images/types.ts';
import { webCryptoSha256 } from '../block-digest.ts';
import type { PipelineBatch, PipelineSpec, Slice } from '../block-pipeline.ts';
import type { UploadProgress } from '../upload-types.ts';
import { newJobRecord, resolveParams } from '../job-record.ts';
import { memoryLedgerStore } from '../ledger.ts';
import type { PacerPort } from '../pacer-lease.ts';
import { UploadSession, type PipelineRunner } from './upload-session.ts';

/** A runner that claims until told there is no more, reporting every claimed block as written. */
function recordingRunner(claims: Slice[]): PipelineRunner {
  return {
    async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown) {
      for (let s = await claim(); s; s = await claim()) {
        claims.push(s);
        await onBatch(writtenBatch(spec, s));
        // Let the other runner claim in between, as workers do.
        await new Promise((r) => setTimeout(r, 0));
      }
      return { kind: 'finished' as const };
    },
    stop() {},
  };
}

/** A batch reporting every block of a claimed slice as written. */
function writtenBatch(spec: PipelineSpec, s: Slice): PipelineBatch {
  const written = Uint32Array.from({ length: Math.min(s.count, spec.blockCount - s.first) }, (_, k) => s.first + k);
  return { written, digests: new Uint8Array(written.length * 32), skipped: new Uint32Array(0), started: written, retrying: new Uint32Array(0), retried: 0, inFlight: 0, concurrency: 1 };
}

/** A session over an all-data image with no service (ebs: null), run by the given runners. */
async function newSession(blockCount: number, runners: PipelineRunner[], sliceBlocks = 8, sharedLink = false) {
  const params = resolveParams({}, blockCount * 524288);
  const fingerprint = { name: 'x.raw', size: blockCount * 524288, lastModified: 1, firstBlockSha256: '', lastBlockSha256: '' };
  const job = newJobRecord({ fingerprint, connection: { kind: 'emulator' }, params, format: 'raw', virtualSize: blockCount * 524288, blockCount, blocksToSend: blockCount });
  const store = memoryLedgerStore();
  await store.putJob(job);
  return new UploadSession(job, {
    store,
    ebs: null,
    runners,
    sha256: webCryptoSha256,
    blockStates: new Uint8Array(blockCount).fill(BlockState.Data),
    blockCount,
    floor: 1,
    ceiling: 2,
    sliceBlocks,
    sharedLink,
  });
}

describe('UploadSession progress', () => {
  it('shows the last acknowledged blocks even when nothing follows them inside the throttle interval', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const sent: number[] = [];
    const runner: PipelineRunner = {
      async run(spec, claim, onBatch) {
        // Two batches back to back (the second inside the interval of the first's emit), then silence until the gate.
        for (let k = 0; k < 2; k++) {
          const b = writtenBatch(spec, (await claim())!);
          sent.push(b.written.length);
          await onBatch(b);
        }
        await gate;
        for (let s = await claim(); s; s = await claim()) await onBatch(writtenBatch(spec, s));
        return { kind: 'finished' as const };
      },
      stop() {},
    };
    const session = await newSession(4096, [runner]);
    const seen: UploadProgress[] = [];
    session.onProgress((p) => seen.push(p));
    const run = await session.start();
    await new Promise((r) => setTimeout(r, 600));
    // Nothing has happened for 600 ms: what is shown is what was acknowledged.
    expect(seen.at(-1)?.writtenBlocks).toBe(sent[0]! + sent[1]!);
    open();
    expect((await run.done).state).toBe('completed');
    expect(seen.at(-1)?.writtenBlocks).toBe(4096);
  });
});

describe('UploadSession claims', () => {
  it('hands out runs of at most 256 blocks that shrink to a slice near the end, covering every block once', async () => {
    const blockCount = 5000;
    const sliceBlocks = 8;
    const claims: Slice[] = [];
    const session = await newSession(blockCount, [recordingRunner(claims), recordingRunner(claims)], sliceBlocks);
    const report = await (await session.start()).done;
    expect(report.state).toBe('completed');
    const covered = new Uint8Array(blockCount);
    for (const s of claims) for (let i = s.first; i < s.first + s.count; i++) covered[i]!++;
    expect(covered.every((c) => c === 1)).toBe(true);
    const sizes = claims.map((s) => s.count);
    expect(Math.max(...sizes)).toBe(256);
    expect(sizes[0]).toBe(256);
    // Never growing, and down to single slices at the end so both runners finish together.
    for (let k = 1; k < sizes.length - 1; k++) expect(sizes[k]).toBeLessThanOrEqual(sizes[k - 1]!);
    expect(sizes.at(-2)).toBe(sliceBlocks);
    expect(sizes.every((n, k) => n >= sliceBlocks || k === sizes.length - 1)).toBe(true);
  });
});

describe('UploadSession pacing', () => {
  /** A runner that takes slots of its lease as `slots` says (if it got one), reports a window of `window`, then claims everything. */
  function leasingRunner(got: (PacerPort | undefined)[], window: number, slots: () => Promise<void>): PipelineRunner {
    return {
      async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacer?: PacerPort) {
        got.push(pacer);
        if (pacer) await slots();
        for (let s = await claim(); s; s = await claim()) await onBatch({ ...writtenBatch(spec, s), concurrency: window });
        return { kind: 'finished' as const };
      },
      stop() {},
    };
  }

  it('lends the pipelines of one network link one pacer: together they keep to its window, and the run panel shows that window once', async () => {
    const ports: (PacerPort | undefined)[] = [];
    let aHolds!: () => void;
    const aHolding = new Promise<void>((r) => (aHolds = r));
    let bGotSlot = false;
    let aLetGo!: () => void;
    const a = leasingRunner(ports, 2, async () => {
      // The session's ceiling is 2: a takes both slots of the link's window.
      await ports[0]!.acquire();
      await ports[0]!.acquire();
      aHolds();
      await new Promise<void>((r) => (aLetGo = r));
      ports[0]!.release({ ok: true, latencyMs: 5 });
      ports[0]!.release({ ok: true, latencyMs: 5 });
    });
    const b = leasingRunner(ports, 2, async () => {
      await aHolding;
      const slot = ports[1]!.acquire().then(() => (bGotSlot = true));
      await new Promise((r) => setTimeout(r, 10));
      // The other pipeline holds the whole window: no slot for this one, though it has taken none of its own.
      expect(bGotSlot).toBe(false);
      aLetGo();
      await slot;
      ports[1]!.release({ ok: true, latencyMs: 5 });
    });
    const session = await newSession(64, [a, b], 8, true);
    const run = await session.start();
    const windows: number[] = [];
    run.onProgress((p) => windows.push(p.concurrency));
    const report = await run.done;
    expect(report.state).toBe('completed');
    expect(bGotSlot).toBe(true);
    expect(ports.every((p) => p !== undefined)).toBe(true);
    // Each pipeline reports the link's window: shown once, not summed.
    expect(Math.max(...windows)).toBe(2);
  });

  it('lets pipelines with stores of their own (the in-browser emulator in each worker) pace themselves', async () => {
    const ports: (PacerPort | undefined)[] = [];
    const session = await newSession(64, [leasingRunner(ports, 2, async () => {}), leasingRunner(ports, 2, async () => {})], 8, false);
    const run = await session.start();
    const windows: number[] = [];
    run.onProgress((p) => windows.push(p.concurrency));
    expect((await run.done).state).toBe('completed');
    expect(ports).toEqual([undefined, undefined]);
    expect(Math.max(...windows)).toBe(4);
  });
});
