import { describe, expect, it, vi } from 'vitest';
import { CompleteSnapshotCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { createMemoryEmulator } from '../../emulator/index.ts';
import { bitmapHas, bodyBytes, downloadSnapshot, fetchBlock, newBitmap, type DownloadTarget } from './download.ts';
import { DownloadError } from './download-error.ts';
import { sha256, toBase64 } from './download-digest.ts';
import { memoryTarget } from './download-target.ts';
import { patternBlock, writeSnapshot } from '../testing/download-fixture.ts';

const BS = 524288;
const GiB = 1024 ** 3;

/** A sparse target: remembers its size and every write, so a 1 GiB volume costs only what was written. */
function sparseTarget(): DownloadTarget & { size: number; writes: Map<number, Uint8Array>; closes: number } {
  const t = {
    size: -1,
    closes: 0,
    writes: new Map<number, Uint8Array>(),
    async setSize(n: number) {
      t.size = n;
    },
    async write(offset: number, data: Uint8Array) {
      if (offset + data.length > t.size) throw new Error('write past the end');
      t.writes.set(offset, data.slice());
    },
    async flush() {
      return true;
    },
    async close() {
      t.closes++;
    },
  };
  return t;
}

/** Compares bytes by digest: Vitest's element-wise toEqual on megabytes is far too slow. */
async function h(b: Uint8Array): Promise<string> {
  return toBase64(await sha256(b));
}

function expected(blocks: Map<number, Uint8Array>, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (const [i, d] of blocks) if (i * BS < size) out.set(d.subarray(0, Math.min(BS, size - i * BS)), i * BS);
  return out;
}

describe('downloadSnapshot', () => {
  it('writes every block at its offset, holes as zeros, at the volume size', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map([[0, patternBlock(1)], [3, patternBlock(2)], [2047, patternBlock(3)], [1500, new Uint8Array(BS)]]);
    const id = await writeSnapshot(emu.ebs, blocks);
    const t = sparseTarget();
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t });
    expect(t.size).toBe(1 * GiB);
    expect([...t.writes.keys()].sort((a, b) => a - b)).toEqual([0, 3 * BS, 1500 * BS, 2047 * BS]);
    for (const [i, d] of blocks) expect(await h(t.writes.get(i * BS)!)).toBe(await h(d));
    expect(r).toMatchObject({ blocksListed: 4, blocksFetched: 4, blocksResumed: 0, volumeSize: 1 });
    expect(t.closes).toBe(1);
  });

  it('restores the original image size, cutting the last block, across many list pages', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 130; i += 1) if (i % 3 !== 1) blocks.set(i, patternBlock(100 + i));
    const id = await writeSnapshot(emu.ebs, blocks);
    const size = 129 * BS + 1000;
    const t = memoryTarget();
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t, size, pageSize: 100, concurrency: 4 });
    expect(t.bytes().length).toBe(size);
    expect(await h(t.bytes())).toBe(await h(expected(blocks, size)));
    expect(r.blocksFetched).toBe(blocks.size);
  });

  it('tells a packing target, before sizing it, exactly the listed blocks that start inside the file', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map([[0, patternBlock(1)], [3, patternBlock(2)], [4, patternBlock(3)], [5, patternBlock(4)], [2047, patternBlock(5)]]);
    const id = await writeSnapshot(emu.ebs, blocks);
    const t = sparseTarget();
    const calls: string[] = [];
    let planned: number[] = [];
    const packing = {
      ...t,
      async plan(listed: Uint8Array, size: number, bs: number) {
        calls.push(`plan ${size} ${bs}`);
        planned = Array.from({ length: listed.length * 8 }, (_, i) => i).filter((i) => bitmapHas(listed, i));
      },
      async setSize(n: number) {
        calls.push(`setSize ${n}`);
        await t.setSize(n);
      },
    };
    const size = 4 * BS + 100;
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: packing, size });
    expect(calls).toEqual([`plan ${size} ${BS}`, `setSize ${size}`]);
    expect(planned).toEqual([0, 3, 4]);
    expect(r).toMatchObject({ blocksFetched: 3, blocksBeyondSize: 2 });
  });

  it('commits a block only after a flush that began once its write had completed, and keeps fetching during slow flushes', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 60; i++) blocks.set(i, patternBlock(500 + i));
    const id = await writeSnapshot(emu.ebs, blocks);
    const t = sparseTarget();
    const log: string[] = [];
    let flushing = 0;
    let writesDuringFlush = 0;
    const slow = {
      ...t,
      async write(offset: number, data: Uint8Array) {
        if (flushing) writesDuringFlush++;
        await t.write(offset, data);
        log.push(`w${offset / BS}`);
      },
      async flush() {
        const seen = log.length;
        flushing++;
        await new Promise((r) => setTimeout(r, 30));
        flushing--;
        log.push(`f${seen}`);
        return true;
      },
    };
    const committed: number[] = [];
    await downloadSnapshot({
      ebs: emu.ebs,
      snapshotId: id,
      target: slow,
      concurrency: 4,
      checkpointEvery: 8,
      commit: async (indices) => {
        // Every committed block was written before the start of the latest completed flush.
        const f = log.filter((e) => e.startsWith('f')).at(-1);
        const covered = new Set(log.slice(0, f ? Number(f.slice(1)) : 0).filter((e) => e.startsWith('w')).map((e) => Number(e.slice(1))));
        for (const i of indices) expect(covered.has(i) || t.closes > 0).toBe(true);
        committed.push(...indices);
      },
    });
    expect(committed.sort((a, b) => a - b)).toEqual([...blocks.keys()]);
    expect(writesDuringFlush).toBeGreaterThan(0);
  });

  it('sends an ordered target each block without waiting for the write before it, and commits only completed writes', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 24; i++) blocks.set(i, patternBlock(700 + i));
    const id = await writeSnapshot(emu.ebs, blocks);
    const t = sparseTarget();
    // Writes complete one at a time, in call order, each a little later (a writer thread's queue).
    let queue: Promise<void> = Promise.resolve();
    let outstanding = 0;
    let most = 0;
    const done = new Set<number>();
    const ordered: DownloadTarget = {
      ...t,
      ordered: true,
      write(offset, data) {
        outstanding++;
        most = Math.max(most, outstanding);
        queue = queue.then(async () => {
          await new Promise((r) => setTimeout(r, 5));
          await t.write(offset, data);
          done.add(offset / BS);
          outstanding--;
        });
        return queue;
      },
    };
    const committed: number[] = [];
    await downloadSnapshot({
      ebs: emu.ebs,
      snapshotId: id,
      target: ordered,
      concurrency: 8,
      checkpointEvery: 4,
      commit: async (indices) => {
        for (const i of indices) expect(done.has(i)).toBe(true);
        committed.push(...indices);
      },
    });
    expect(most).toBeGreaterThan(1);
    expect(committed.sort((a, b) => a - b)).toEqual([...blocks.keys()]);
    for (const [i, b] of blocks) expect(await h(t.writes.get(i * BS)!)).toBe(await h(b));
  });

  it('reads a child through its parent: inherited blocks, overwrites and zeros over data', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const v1 = new Map([[0, patternBlock(1)], [1, patternBlock(2)], [2, patternBlock(3)]]);
    const p = await writeSnapshot(emu.ebs, v1);
    const own = new Map([[1, new Uint8Array(BS)], [2, patternBlock(9)], [5, patternBlock(10)]]);
    const c = await writeSnapshot(emu.ebs, own, { parentSnapshotId: p });
    const t = memoryTarget();
    await downloadSnapshot({ ebs: emu.ebs, snapshotId: c, target: t, size: 6 * BS });
    const v2 = new Map([...v1, ...own]);
    expect(await h(t.bytes())).toBe(await h(expected(v2, 6 * BS)));
  });

  it('resumes an interrupted download and fetches only the rest', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 40; i++) blocks.set(i, patternBlock(500 + i));
    const id = await writeSnapshot(emu.ebs, blocks);
    const size = 40 * BS;
    const t = memoryTarget();
    const done = newBitmap(1);
    const ac = new AbortController();
    let writes = 0;
    const interrupting: DownloadTarget = {
      ...t,
      setSize: t.setSize,
      write: async (o, d) => {
        await t.write(o, d);
        if (++writes === 13) ac.abort();
      },
      flush: t.flush,
      close: t.close,
    };
    const commit = async (ix: number[]) => ix.forEach((i) => (done[i >> 3]! |= 1 << (i & 7)));
    const first = downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: interrupting, size, signal: ac.signal, done, commit, checkpointEvery: 4, concurrency: 3 });
    await expect(first).rejects.toMatchObject({ name: 'DownloadError', code: 'cancelled' });
    const committed = [...Array(40).keys()].filter((i) => bitmapHas(done, i)).length;
    expect(committed).toBeGreaterThanOrEqual(13);
    expect(committed).toBeLessThan(40);
    // Only committed blocks are trusted: scribble over everything else to prove they are fetched again.
    for (let i = 0; i < 40; i++) if (!bitmapHas(done, i)) await t.write(i * BS, new Uint8Array(BS).fill(0xee));
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t, size, done, commit });
    expect(r.blocksResumed).toBe(committed);
    expect(r.blocksFetched).toBe(40 - committed);
    expect(await h(t.bytes())).toBe(await h(expected(blocks, size)));
  });

  it('a paced download stops as soon as it is cancelled: no lane waits out its pacing pause', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 12; i++) blocks.set(i, patternBlock(700 + i));
    const id = await writeSnapshot(emu.ebs, blocks);
    // The clock stands still: a lane waiting for its slot (every 2 s at this pace) waits until the cancel, or forever.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = memoryTarget();
      const ac = new AbortController();
      const cancelling: DownloadTarget = {
        ...t,
        write: async (o, d) => {
          await t.write(o, d);
          ac.abort();
        },
      };
      let outcome: unknown;
      const run = downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: cancelling, size: 12 * BS, signal: ac.signal, blocksPerSecond: 0.5, concurrency: 4 });
      run.then(
        () => (outcome = 'finished'),
        (e: unknown) => (outcome = e),
      );
      for (let i = 0; i < 2000 && outcome === undefined; i++) await new Promise((r) => setImmediate(r));
      expect(outcome).toBeInstanceOf(DownloadError);
      expect(outcome).toMatchObject({ code: 'cancelled' });
      // The first slot was now; the cancel came before the clock allowed another.
      expect(ac.signal.aborted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries the read lag after completion and then reads the snapshot', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0, readAfterCompleteLagMs: 400 });
    const start = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 60 }));
    const id = start.SnapshotId!;
    const data = patternBlock(7);
    const d = await sha256(data);
    await emu.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 2, BlockData: data, DataLength: BS, Checksum: toBase64(d), ChecksumAlgorithm: 'SHA256' }));
    await emu.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
    const t = memoryTarget();
    await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t, size: 3 * BS, lagMs: 10_000 });
    expect(await h(t.bytes().subarray(2 * BS))).toBe(await h(data));
  });

  it('waits out a silent service (no answer at all) without failing, shows it in progress, and goes on by itself', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const blocks = new Map([0, 1, 2, 3, 4, 5].map((i) => [i, patternBlock(i + 10)] as [number, Uint8Array]));
    const id = await writeSnapshot(emu.ebs, blocks);
    let downUntil = 0;
    let gets = 0;
    emu.ebs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetSnapshotBlockCommand') {
          // The network goes away right after the first block arrived, for 2.5 s.
          if (++gets === 2) downUntil = Date.now() + 2500;
          if (Date.now() < downUntil) throw new TypeError('Failed to fetch');
        }
        return next(args);
      },
      { step: 'initialize', name: 'silentNetwork' },
    );
    const t = sparseTarget();
    const seen: boolean[] = [];
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t, concurrency: 2, onProgress: (p) => seen.push(!!p.waiting) });
    expect(r).toMatchObject({ blocksFetched: 6 });
    for (const [i, d] of blocks) expect(await h(t.writes.get(i * BS)!)).toBe(await h(d));
    expect(seen).toContain(true);
    expect(seen.at(-1)).toBe(false);
  });

  it('gives up on a snapshot that does not exist with a sentence', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const err = await downloadSnapshot({ ebs: emu.ebs, snapshotId: 'snap-0123456789abcdef0', target: memoryTarget(), lagMs: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.code).toBe('not-found');
    expect(err.message).toMatch(/snap-0123456789abcdef0 cannot be read.*Region/);
  });

  it('refuses a file larger than the volume', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const id = await writeSnapshot(emu.ebs, new Map([[0, patternBlock(1)]]));
    await expect(downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: memoryTarget(), size: 2 * GiB })).rejects.toMatchObject({ code: 'target' });
  });
});

describe('fetchBlock', () => {
  it('fetches again when a block arrives damaged, and fails with a sentence when it stays damaged', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const id = await writeSnapshot(emu.ebs, new Map([[4, patternBlock(4)]]));
    const list = await emu.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
    const token = list.Blocks![0]!.BlockToken!;
    let damage = 2;
    emu.ebs.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const o = (out.output ?? {}) as { Checksum?: string };
        if (o.Checksum && damage-- > 0) o.Checksum = toBase64(new Uint8Array(32));
        return out;
      },
      { step: 'initialize', name: 'damage' },
    );
    expect(await h(await fetchBlock(emu.ebs, id, { index: 4, token }))).toBe(await h(patternBlock(4)));
    damage = 99;
    await expect(fetchBlock(emu.ebs, id, { index: 4, token })).rejects.toMatchObject({ code: 'checksum' });
  });

  it('retries what the service calls retryable (500, throttling) and not the rest', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const id = await writeSnapshot(emu.ebs, new Map([[1, patternBlock(1)]]));
    const faults = [
      Object.assign(new Error('We encountered an internal error.'), { name: 'InternalServerException', $metadata: { httpStatusCode: 500 } }),
      Object.assign(new Error('Rate exceeded'), { name: 'RequestThrottledException', $metadata: { httpStatusCode: 400 } }),
    ];
    emu.ebs.middlewareStack.add(
      (next, ctx) => async (args) => {
        if (ctx.commandName === 'GetSnapshotBlockCommand' && faults.length) throw faults.shift();
        return next(args);
      },
      { step: 'initialize', name: 'faults' },
    );
    const t = memoryTarget();
    const r = await downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: t, size: 2 * BS });
    expect(faults).toHaveLength(0);
    expect(r.blocksFetched).toBe(1);
    expect(await h(t.bytes().subarray(BS))).toBe(await h(patternBlock(1)));
    faults.push(Object.assign(new Error('Access denied'), { name: 'AccessDeniedException', Reason: 'UNAUTHORIZED_ACCOUNT', $metadata: { httpStatusCode: 403 } }));
    await expect(downloadSnapshot({ ebs: emu.ebs, snapshotId: id, target: memoryTarget(), size: 2 * BS })).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('lists again for a fresh token when the old one expired', async () => {
    let now = Date.now();
    const emu = createMemoryEmulator({ completionDelayMs: 0, clock: () => now });
    const id = await writeSnapshot(emu.ebs, new Map([[9, patternBlock(9)]]));
    const list = await emu.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
    const token = list.Blocks![0]!.BlockToken!;
    now += 8 * 24 * 3600 * 1000;
    expect(await h(await fetchBlock(emu.ebs, id, { index: 9, token }))).toBe(await h(patternBlock(9)));
  });
});

describe('bodyBytes', () => {
  type Body = Parameters<typeof bodyBytes>[0];
  const streamOf = (chunks: Uint8Array[]): Body =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const x of chunks) c.enqueue(x);
        c.close();
      },
    }) as unknown as Body;

  it('takes a body of one chunk as it is, joins several, and leaves other bodies to the SDK', async () => {
    const one = patternBlock(3);
    expect(await bodyBytes(streamOf([one]))).toBe(one);
    const joined = await bodyBytes(streamOf([one.subarray(0, 1000), new Uint8Array(0), one.subarray(1000)]));
    expect(await h(joined)).toBe(await h(one));
    const nodeLike = { transformToByteArray: async () => one } as unknown as Body;
    expect(await bodyBytes(nodeLike)).toBe(one);
    expect(await bodyBytes(undefined)).toHaveLength(0);
  });
});
