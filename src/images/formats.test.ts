import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileSource } from '../../cli/node-source.ts';
import { openImage } from './open-image.ts';
import { blobSource } from './blob-source.ts';
import { buildManifest } from './manifest.ts';
import { isAllZero } from './zero-scan.ts';
import { summarizeImage } from './summary.ts';
import { BLOCK_SIZE, BlockState } from './types.ts';
import { FORMAT_FIXTURES, fixture, manifestOfRaw, fixtureOracle } from './testing/test-fixtures.ts';

// The tests of one fixture run one after the other: only its oracle (64 MiB) is kept, not every fixture's.
let oracleOf: { name: string; raw: Buffer } | undefined;
const oracle = (name: string): Buffer => {
  if (oracleOf?.name !== name) oracleOf = { name, raw: readFileSync(fixtureOracle(name)) };
  return oracleOf.raw;
};

// Every format and subformat, read through openImage, must equal qemu-img's raw conversion byte for byte.
/** Opens the fixture `name` from its file and hands the image to `use`, closing the file after. */
async function withFixture(name: string, use: (image: Awaited<ReturnType<typeof openImage>>) => Promise<void>): Promise<void> {
  const src = await fileSource(fixture(name));
  try {
    await use(await openImage(src));
  } finally {
    await src.close();
  }
}

describe.each(FORMAT_FIXTURES.map((f) => [f.name, f] as const))('%s', (name, spec) => {
  it('reads every block exactly as qemu-img converts it, and its block states never hide data', async () => {
    const raw = oracle(name);
    await withFixture(name, async (image) => {
    expect(image.format).toBe(spec.format);
    if (spec.subformat) expect(image.subformat).toBe(spec.subformat);
    expect(image.virtualSize).toBe(raw.length);
    expect(image.blockCount).toBe(Math.ceil(raw.length / BLOCK_SIZE));
    const states = await image.blockStates();
    // Uneven batch sizes cross cluster, grain and table boundaries differently; single blocks reuse a 2 MiB inflated cluster.
    // Every other batch is read into a reused buffer left full of other bytes (the pipeline's slice buffers).
    let reused = new Uint8Array(7 * BLOCK_SIZE);
    expect(image.readBlocksInto, 'readBlocksInto').toBeTypeOf('function');
    for (const batch of /c2m|extl2|vmware/.test(name) ? [7, 1] : [7]) {
      for (let b = 0; b < image.blockCount; b += batch) {
        const n = Math.min(batch, image.blockCount - b);
        const got = (b / batch) % 2 ? await image.readBlocksInto!(b, n, reused.fill(0xa5)) : await image.readBlocks(b, n);
        reused = new Uint8Array(got.buffer as ArrayBuffer);
        expect(got.length).toBe(n * BLOCK_SIZE);
        // The oracle's own bytes where they cover the batch; zero-padded past its end.
        let want = raw.subarray(b * BLOCK_SIZE, (b + n) * BLOCK_SIZE);
        if (want.length < n * BLOCK_SIZE) {
          want = Buffer.alloc(n * BLOCK_SIZE);
          raw.copy(want, 0, b * BLOCK_SIZE, Math.min(raw.length, (b + n) * BLOCK_SIZE));
        }
        if (!want.equals(Buffer.from(got.buffer, got.byteOffset, got.length))) {
          for (let k = 0; k < n; k++) {
            const w = want.subarray(k * BLOCK_SIZE, (k + 1) * BLOCK_SIZE);
            const g = Buffer.from(got.buffer, got.byteOffset + k * BLOCK_SIZE, BLOCK_SIZE);
            expect(g.equals(w), `block ${b + k} differs from qemu-img`).toBe(true);
          }
        }
        for (let k = 0; k < n; k++) {
          if (states[b + k] !== BlockState.Data) {
            expect(isAllZero(want.subarray(k * BLOCK_SIZE, (k + 1) * BLOCK_SIZE)), `block ${b + k} is marked empty but holds data`).toBe(true);
          }
        }
      }
    }
    });
  });

  it('offers each block as a Blob over the file where it is stored uncompressed, equal to qemu-img’s bytes', async () => {
    const raw = oracle(name);
    const image = await openImage(blobSource(new Blob([readFileSync(fixture(name))])));
    expect(image.blockBlob).toBeDefined();
    const states = await image.blockStates();
    let blobs = 0;
    for (let b = 0; b < image.blockCount; b++) {
      const blob = await image.blockBlob!(b);
      // The pipeline asks right after reading the slice; asking cold must give the same answer.
      if (b % 5 === 0) await image.readBlocks(b, Math.min(3, image.blockCount - b));
      if (!blob) continue;
      blobs++;
      expect(blob.size).toBe(BLOCK_SIZE);
      let want = raw.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE);
      if (want.length < BLOCK_SIZE) {
        want = Buffer.alloc(BLOCK_SIZE);
        raw.copy(want, 0, b * BLOCK_SIZE, Math.min(raw.length, (b + 1) * BLOCK_SIZE));
      }
      expect(Buffer.from(await blob.arrayBuffer()).equals(want), `block ${b} Blob differs from qemu-img`).toBe(true);
    }
    const dataBlocks = states.filter((st) => st === BlockState.Data).length;
    // Compressed formats inflate (no Blob for compressed blocks); every other data block is a slice of the file.
    if (!/deflate|zstd|stream|appliance/.test(name)) expect(blobs).toBeGreaterThanOrEqual(dataBlocks);
    else expect(blobs).toBeLessThan(image.blockCount);
  });

  it('builds the upload manifest qemu-img’s raw output implies', async () => {
    const raw = oracle(name);
    await withFixture(name, async (image) => {
      const m = await buildManifest(image);
      expect(m).toEqual(manifestOfRaw(raw, spec.format));
      const s = await summarizeImage(image);
      expect(s.allocatedBlocks).toBeGreaterThanOrEqual(m.changedBlocksCount);
      expect(s.volumeSizeGiB).toBe(1);
    });
  });
});
