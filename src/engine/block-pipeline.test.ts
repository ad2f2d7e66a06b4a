import { describe, expect, it } from 'vitest';
import { blobSource } from '../images/blob-source.ts';
import { openRaw } from '../images/raw.ts';
import { BLOCK_SIZE, BlockState, Scanned, type ByteSource, type DiskImage } from '../images/types.ts';
import { toBase64, webCryptoSha256 } from './block-digest.ts';
import { BlockPipeline, type BlockSink, type PipelineBatch, type PipelineSpec, type Slice } from './block-pipeline.ts';
import { fillRandom } from './testing/upload-test-kit.ts';
import { sleep } from './retry.ts';

/** An image over bytes with given block states that counts which blocks were read. */
function image(bytes: Uint8Array, states: number[]): DiskImage & { reads: number[] } {
  const reads: number[] = [];
  return {
    format: 'qcow2',
    virtualSize: bytes.length,
    blockCount: states.length,
    notices: [],
    reads,
    blockStates: async () => Uint8Array.from(states),
    readBlocks: async (first, count) => {
      for (let i = first; i < first + count; i++) reads.push(i);
      const out = new Uint8Array(count * BLOCK_SIZE);
      out.set(bytes.subarray(first * BLOCK_SIZE, Math.min(bytes.length, (first + count) * BLOCK_SIZE)));
      return out;
    },
  };
}

function slices(n: number, size: number): () => Promise<Slice | null> {
  let at = 0;
  return async () => {
    if (at >= n) return null;
    const s = { first: at, count: Math.min(size, n - at) };
    at += size;
    return s;
  };
}

function spec(n: number, extra: Partial<PipelineSpec> = {}): PipelineSpec {
  return { snapshotId: 'snap-1', blockCount: n, done: new Uint8Array(Math.ceil(n / 8)), skipZeros: true, floor: 1, ceiling: 4, ...extra };
}

function collect() {
  const batches: PipelineBatch[] = [];
  const written = () => batches.flatMap((b) => [...b.written]).sort((a, b) => a - b);
  const skipped = () => batches.flatMap((b) => [...b.skipped]).sort((a, b) => a - b);
  return { batches, written, skipped, onBatch: (b: PipelineBatch) => void batches.push(b) };
}

describe('BlockPipeline', () => {
  const n = 12;
  const bytes = new Uint8Array(n * BLOCK_SIZE);
  fillRandom(bytes.subarray(0, 4 * BLOCK_SIZE), 1);
  fillRandom(bytes.subarray(8 * BLOCK_SIZE), 2);
  // Blocks 4..7 are zero in content; the image marks 6 and 7 unallocated.
  const states = [2, 2, 2, 2, 2, 2, 0, 0, 2, 2, 2, 2];

  it('skips zero content and unallocated blocks (unread) when safe, and sends the rest once', async () => {
    const img = image(bytes, states);
    const sent: number[] = [];
    const sink: BlockSink = { put: async (i) => void sent.push(i) };
    const c = collect();
    const out = await new BlockPipeline(img, () => sink, webCryptoSha256).run(spec(n, { blockStates: Uint8Array.from(states) }), slices(n, 4), c.onBatch);
    expect(out).toEqual({ kind: 'finished' });
    expect(sent.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    expect(c.written()).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    expect(c.skipped()).toEqual([4, 5, 6, 7]);
    expect(img.reads).not.toContain(6);
    expect(img.reads).not.toContain(7);
  });

  it('writes zero blocks when skipping is unsafe, and skips blocks already done', async () => {
    const img = image(bytes, states);
    const sent: number[] = [];
    const done = new Uint8Array(2);
    done[0] = 0b11; // blocks 0 and 1 acknowledged in an earlier session
    const c = collect();
    await new BlockPipeline(img, () => ({ put: async (i) => void sent.push(i) }), webCryptoSha256).run(
      spec(n, { skipZeros: false, done, blockStates: Uint8Array.from(states) }),
      slices(n, 4),
      c.onBatch,
    );
    expect(sent.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(c.skipped()).toEqual([]);
  });

  it('over a parent: equal blocks are inherited, zero over a parent hole stays a hole, zero over parent data is written', async () => {
    const img = image(bytes, states);
    const present = new Uint8Array(2);
    const digests = new Uint8Array(n * 32);
    for (const i of [0, 5]) present[i >> 3]! |= 1 << (i & 7);
    digests.set(await webCryptoSha256(bytes.subarray(0, BLOCK_SIZE)), 0); // block 0 equal to parent
    digests.set(new Uint8Array(32).fill(9), 5 * 32); // parent block 5 holds data; ours is zero
    const sent: number[] = [];
    const c = collect();
    await new BlockPipeline(img, () => ({ put: async (i) => void sent.push(i) }), webCryptoSha256).run(
      spec(n, { skipZeros: false, parent: { present, digests } }),
      slices(n, 4),
      c.onBatch,
    );
    expect(sent.sort((a, b) => a - b)).toEqual([1, 2, 3, 5, 8, 9, 10, 11]);
    expect(c.skipped()).toEqual([0, 4, 6, 7]);
  });

  it('retries a 500 then succeeds, counting the retry; a validation error fails with a sentence and stops', async () => {
    const img = image(bytes, states);
    let failed = false;
    const c = collect();
    const flaky: BlockSink = {
      put: async (i) => {
        if (i === 2 && !failed) {
          failed = true;
          throw Object.assign(new Error('boom'), { name: 'InternalServerException', $metadata: { httpStatusCode: 500 } });
        }
      },
    };
    await new BlockPipeline(img, () => flaky, webCryptoSha256).run(spec(n), slices(n, 4), c.onBatch);
    expect(c.batches.reduce((s, b) => s + b.retried, 0)).toBe(1);
    expect(c.written()).toContain(2);

    const c2 = collect();
    const bad: BlockSink = {
      put: async (i) => {
        if (i === 1) throw Object.assign(new Error('Block index 1 is beyond the volume size extent'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
      },
    };
    const out = await new BlockPipeline(img, () => bad, webCryptoSha256).run(spec(n, { ceiling: 1 }), slices(n, 4), c2.onBatch);
    expect(out.kind).toBe('failed');
    if (out.kind === 'failed') expect(out.failure).toMatchObject({ code: 'validation', message: expect.stringMatching(/refused the request at block 1 \(ValidationException/) });
    expect(c2.written()).not.toContain(1);
    expect(c2.written().length).toBeLessThan(8);
  });

  it('holds a written block\'s slot until its batch is recorded; a dry run, which records nothing, does not wait', async () => {
    for (const dry of [false, true]) {
      let hashed = 0;
      let hashedAtFirstAnswer = -1;
      const pending: { resolve: () => void; since: number }[] = [];
      const sha = (b: Uint8Array) => {
        hashed++;
        return webCryptoSha256(b);
      };
      const run = new BlockPipeline(image(bytes, states), dry ? null : () => ({ put: async () => undefined }), sha).run(
        spec(n, { skipZeros: false, ceiling: 1, floor: 1 }),
        slices(n, 4),
        () => new Promise<void>((resolve) => pending.push({ resolve, since: Date.now() })),
      );
      // The first delivery is answered only once every block is hashed, or after 500 ms; later ones at once.
      const answer = setInterval(() => {
        const d = pending[0];
        if (!d || (hashedAtFirstAnswer < 0 && hashed < n && Date.now() - d.since < 500)) return;
        if (hashedAtFirstAnswer < 0) hashedAtFirstAnswer = hashed;
        pending.shift()!.resolve();
      }, 5);
      const out = await run;
      clearInterval(answer);
      expect(out).toEqual({ kind: 'finished' });
      expect(hashed).toBe(n);
      // One slot: an upload hashes the next block only once the last one is recorded; a dry run hashes on.
      if (dry) expect(hashedAtFirstAnswer).toBeGreaterThan(1);
      else expect(hashedAtFirstAnswer).toBe(1);
    }
  });

  it('keeps one batch in delivery at a time when delivery is asynchronous (a worker), and loses no event', async () => {
    const img = image(bytes, states);
    let pending = 0;
    let maxPending = 0;
    const c = collect();
    const onBatch = (b: PipelineBatch) => {
      c.onBatch(b);
      pending++;
      maxPending = Math.max(maxPending, pending);
      return new Promise<void>((r) => setTimeout(() => (pending--, r()), 5));
    };
    const out = await new BlockPipeline(img, () => ({ put: async () => undefined }), webCryptoSha256).run(spec(n, { blockStates: Uint8Array.from(states) }), slices(n, 4), onBatch);
    expect(out).toEqual({ kind: 'finished' });
    expect(maxPending).toBe(1);
    expect(pending).toBe(0);
    expect(c.written()).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    expect(c.skipped()).toEqual([4, 5, 6, 7]);
    expect(c.batches.flatMap((b) => [...b.started]).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
  });

  it('a file that can no longer be read is reported as a changed source to re-pick', async () => {
    const img = image(bytes, states);
    img.readBlocks = async () => {
      throw Object.assign(new Error('The requested file could not be read'), { name: 'NotReadableError' });
    };
    const out = await new BlockPipeline(img, () => ({ put: async () => undefined }), webCryptoSha256).run(spec(n), slices(n, 4), () => undefined);
    expect(out).toMatchObject({ kind: 'failed', failure: { code: 'source-changed', action: 'repick' } });
  });
});

/** Index of the first differing byte, or -1 when a and b are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return k;
  return -1;
}

describe('BlockPipeline over a raw image in a Blob (file-backed bodies)', () => {
  // 5 whole blocks and a short sixth: the short one must be padded with zeros, so it cannot be a slice of the file.
  const size = 5 * BLOCK_SIZE + 1000;
  const data = new Uint8Array(size);
  fillRandom(data, 7);

  /** A sink that checks each body against its checksum like the service, keeping the bytes it received. */
  function checkingSink(got: Map<number, { bytes: Uint8Array; blob: boolean }>): BlockSink {
    return {
      put: async (i, body, checksum) => {
        const bytes = body instanceof Uint8Array ? body.slice() : new Uint8Array(await body.arrayBuffer());
        const actual = toBase64(await webCryptoSha256(bytes));
        if (bytes.length !== BLOCK_SIZE || actual !== checksum)
          throw Object.assign(new Error(`The value passed in as x-amz-Checksum does not match the computed checksum. Computed checksum: ${actual} expected checksum: ${checksum}`), {
            name: 'InvalidSignatureException',
            $metadata: { httpStatusCode: 403 },
          });
        got.set(i, { bytes, blob: !(body instanceof Uint8Array) });
      },
    };
  }

  it('sends whole blocks as Blobs over the file holding exactly the bytes hashed, and the short last block padded', async () => {
    const img = openRaw(blobSource(new Blob([data])));
    const got = new Map<number, { bytes: Uint8Array; blob: boolean }>();
    const c = collect();
    const out = await new BlockPipeline(img, () => checkingSink(got), webCryptoSha256).run(spec(6, { skipZeros: false }), slices(6, 4), c.onBatch);
    expect(out).toEqual({ kind: 'finished' });
    expect(c.written()).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 6; i++) {
      const want = new Uint8Array(BLOCK_SIZE);
      want.set(data.subarray(i * BLOCK_SIZE, Math.min(size, (i + 1) * BLOCK_SIZE)));
      // toEqual walks 512 KiB arrays very slowly; the first differing index says as much.
      expect(firstDifference(got.get(i)!.bytes, want)).toBe(-1);
      expect(got.get(i)!.blob).toBe(i < 5);
    }
    // The digests recorded for the aggregate are those of the bytes sent.
    const digests = new Uint8Array(c.batches.reduce((n, b) => n + b.digests.length, 0));
    let at = 0;
    const order: number[] = [];
    for (const b of c.batches) {
      digests.set(b.digests, at);
      at += b.digests.length;
      order.push(...b.written);
    }
    for (const [k, i] of order.entries()) expect(digests.subarray(k * 32, k * 32 + 32)).toEqual(await webCryptoSha256(got.get(i)!.bytes));
  });

  it('with fileBodies off (the in-browser emulator) sends the bytes read, not Blobs', async () => {
    const got = new Map<number, { bytes: Uint8Array; blob: boolean }>();
    const out = await new BlockPipeline(openRaw(blobSource(new Blob([data]))), () => checkingSink(got), webCryptoSha256, { fileBodies: false }).run(
      spec(6, { skipZeros: false }),
      slices(6, 4),
      () => undefined,
    );
    expect(out).toEqual({ kind: 'finished' });
    expect([...got.values()].map((g) => g.blob)).toEqual([false, false, false, false, false, false]);
    expect(firstDifference(got.get(3)!.bytes, data.subarray(3 * BLOCK_SIZE, 4 * BLOCK_SIZE))).toBe(-1);
  });

  it('reads slices into reused buffers, and a block sent as bytes keeps its own copy while in flight', async () => {
    const blocks = 24;
    const big = new Uint8Array(blocks * BLOCK_SIZE);
    for (let i = 0; i < blocks; i++) big.fill(i + 1, i * BLOCK_SIZE + 1000, i * BLOCK_SIZE + 9000);
    const img = openRaw(blobSource(new Blob([big])));
    let reads = 0;
    const readInto = img.readBlocksInto!.bind(img);
    img.readBlocksInto = (first, count, target) => {
      reads++;
      return readInto(first, count, target);
    };
    const got = new Map<number, Uint8Array>();
    // Puts that read their body late: by then the slice buffer the block came from has been read into again.
    const sink: BlockSink = {
      put: async (i, body, checksum) => {
        await sleep(3);
        const bytes = body instanceof Uint8Array ? body.slice() : new Uint8Array(await body.arrayBuffer());
        expect(toBase64(await webCryptoSha256(bytes))).toBe(checksum);
        got.set(i, bytes);
      },
    };
    const out = await new BlockPipeline(img, () => sink, webCryptoSha256, { fileBodies: false }).run(spec(blocks, { skipZeros: false, ceiling: 8 }), slices(blocks, 2), () => undefined);
    expect(out).toEqual({ kind: 'finished' });
    expect(reads).toBe(12);
    for (let i = 0; i < blocks; i++) expect(firstDifference(got.get(i)!, big.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE))).toBe(-1);
  });

  it('a file changed after its block was hashed fails with a "file changed" sentence, not a credentials one', async () => {
    const live = data.slice();
    // A source whose Blob slices see the file as it is when sliced, as a File does.
    const source: ByteSource = {
      size,
      read: async (off, len) => live.slice(off, Math.min(size, off + len)),
      slice: (off, end) => new Blob([live.slice(off, end)]),
    };
    let edited = false;
    // Block 2 changes on disk right after the first digest: its bytes were read, its Blob is not yet made.
    const sha256: typeof webCryptoSha256 = async (b) => {
      const d = await webCryptoSha256(b);
      if (!edited) {
        edited = true;
        live[2 * BLOCK_SIZE + 5] ^= 0xff;
      }
      return d;
    };
    const got = new Map<number, { bytes: Uint8Array; blob: boolean }>();
    const out = await new BlockPipeline(openRaw(source), () => checkingSink(got), sha256).run(spec(6, { skipZeros: false, ceiling: 1 }), slices(6, 6), () => undefined);
    expect(out).toMatchObject({ kind: 'failed', failure: { code: 'source-changed', action: 'repick', message: expect.stringMatching(/changed on disk .* block 2 /) } });
    expect(got.has(2)).toBe(false);
  });

  it('a block whose file can no longer be read after a failed put is reported as a changed source', async () => {
    let readable = true;
    const source: ByteSource = {
      size,
      read: async (off, len) => {
        if (!readable) throw Object.assign(new Error('The requested file could not be read'), { name: 'NotReadableError' });
        return data.slice(off, Math.min(size, off + len));
      },
      slice: (off, end) => new Blob([data.slice(off, end)]),
    };
    const sink: BlockSink = {
      put: async () => {
        readable = false;
        throw new TypeError('Failed to fetch');
      },
    };
    const out = await new BlockPipeline(openRaw(source), () => sink, webCryptoSha256).run(spec(6, { skipZeros: false, ceiling: 1 }), slices(6, 6), () => undefined);
    expect(out).toMatchObject({ kind: 'failed', failure: { code: 'source-changed', action: 'repick' } });
  });
});

describe('BlockPipeline reading runs', () => {
  /** An image over bytes that reads into the caller's buffer, records each read, and reports a zero scan for even blocks. */
  function scanningImage(bytes: Uint8Array): DiskImage & { calls: [number, number, number][] } {
    const calls: [number, number, number][] = [];
    const blockCount = bytes.length / BLOCK_SIZE;
    return {
      format: 'raw',
      virtualSize: bytes.length,
      blockCount,
      notices: [],
      calls,
      blockStates: async () => new Uint8Array(blockCount).fill(BlockState.Data),
      readBlocks: async (first, count) => bytes.slice(first * BLOCK_SIZE, (first + count) * BLOCK_SIZE),
      readBlocksInto: async (first, count, target, scanned) => {
        calls.push([first, count, target.length / BLOCK_SIZE]);
        const out = target.subarray(0, count * BLOCK_SIZE);
        out.set(bytes.subarray(first * BLOCK_SIZE, (first + count) * BLOCK_SIZE));
        // Odd blocks are left for the pipeline to scan itself.
        for (let k = 0; k < count && scanned; k++) {
          if ((first + k) % 2) continue;
          const zero = out.subarray(k * BLOCK_SIZE, (k + 1) * BLOCK_SIZE).every((b) => b === 0);
          scanned[k] = zero ? Scanned.AllZero : Scanned.NonZero;
        }
        return out;
      },
    };
  }

  it('reads a claimed run a slice at a time, into buffers no larger than a slice', async () => {
    const n = 20;
    const bytes = new Uint8Array(n * BLOCK_SIZE);
    fillRandom(bytes, 3);
    const img = scanningImage(bytes);
    const c = collect();
    const out = await new BlockPipeline(img, () => ({ put: async () => undefined }), webCryptoSha256).run(spec(n, { sliceBlocks: 8 }), slices(n, n), c.onBatch);
    expect(out).toEqual({ kind: 'finished' });
    expect(img.calls.map(([f, k]) => [f, k])).toEqual([[0, 8], [8, 8], [16, 4]]);
    expect(Math.max(...img.calls.map(([, , cap]) => cap))).toBe(8);
    expect(c.written()).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("skips the blocks the reader saw as zero, and scans those it did not look at itself", async () => {
    const n = 12;
    const bytes = new Uint8Array(n * BLOCK_SIZE);
    // Data in blocks 0, 3, 4 and 9; zeros elsewhere, both in blocks the reader scans (even) and those it leaves (odd).
    for (const i of [0, 3, 4, 9]) fillRandom(bytes.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE), i + 10);
    const img = scanningImage(bytes);
    const c = collect();
    await new BlockPipeline(img, () => ({ put: async () => undefined }), webCryptoSha256).run(spec(n, { sliceBlocks: 4 }), slices(n, 6), c.onBatch);
    expect(c.written()).toEqual([0, 3, 4, 9]);
    expect(c.skipped()).toEqual([1, 2, 5, 6, 7, 8, 10, 11]);
  });

  it('stops between slices of a run: the rest of the run is neither read nor reported', async () => {
    const n = 32;
    const bytes = new Uint8Array(n * BLOCK_SIZE);
    fillRandom(bytes, 4);
    const img = scanningImage(bytes);
    const c = collect();
    const pipeline = new BlockPipeline(
      img,
      () => ({
        put: async (i) => {
          if (i === 2) pipeline.stop();
          await sleep(1);
        },
      }),
      webCryptoSha256,
    );
    const out = await pipeline.run(spec(n, { sliceBlocks: 4, ceiling: 1 }), slices(n, n), c.onBatch);
    expect(out).toEqual({ kind: 'stopped' });
    // The slice being cut finishes and the one read ahead is sent too; nothing after it is touched.
    expect(Math.max(...img.calls.map(([f, k]) => f + k))).toBeLessThanOrEqual(8);
    expect(c.written().length).toBeLessThanOrEqual(8);
    expect(c.written()).toEqual(Array.from({ length: c.written().length }, (_, i) => i));
  });
});
