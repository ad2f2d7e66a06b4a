// Generates test disk images in Node: random, compressible and all-zero regions, with per-block digests.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, openSync, writeSync, closeSync, existsSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BLOCK_SIZE = 524288;
const MiB = 1024 * 1024;

/** A generated image on disk and what each of its 512 KiB blocks hashes to (zero-padded at the end). */
export interface TestImage {
  path: string;
  size: number;
  blockCount: number;
  /** base64 SHA-256 of each block as the volume holds it. */
  digests: string[];
  /** Indices of all-zero blocks. */
  zeroBlocks: number[];
}

/** xorshift128: fast and seeded, so a failing run can be reproduced. */
export function prng(seed: number): () => number {
  let a = seed | 0 || 1, b = 0x9e3779b9, c = 0x243f6a88, d = 0xb7e15162;
  return () => {
    const t = a ^ (a << 11);
    a = b; b = c; c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return d;
  };
}

/** Region kinds, cycled in 8 MiB stripes with a seeded order. */
type Region = 'random' | 'text' | 'zero';

function fillRegion(buf: Uint8Array, kind: Region, next: () => number, offset: number): void {
  if (kind === 'zero') {
    buf.fill(0);
    return;
  }
  if (kind === 'text') {
    const line = Buffer.from(`blockport test image, offset ${offset}: the quick brown fox jumps over the lazy dog\n`);
    for (let i = 0; i < buf.length; i += line.length) buf.set(line.subarray(0, Math.min(line.length, buf.length - i)), i);
    return;
  }
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  for (let i = 0; i < u32.length; i++) u32[i] = next();
}

/**
 * Writes (or reuses) an image of `sizeMiB` MiB plus `tailBytes`, made of 8 MiB stripes of random,
 * compressible and all-zero data (a zero stripe always included), and returns its block digests.
 */
export function makeTestImage(name: string, sizeMiB: number, seed: number, tailBytes = 0): TestImage {
  const dir = join(tmpdir(), 'blockport-e2e');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.img`);
  const meta = `${path}.json`;
  const size = sizeMiB * MiB + tailBytes;
  if (existsSync(path) && existsSync(meta) && statSync(path).size === size) {
    const cached = JSON.parse(readFileSync(meta, 'utf8')) as TestImage & { seed: number };
    if (cached.seed === seed) return cached;
  }
  const next = prng(seed);
  const kinds: Region[] = ['random', 'zero', 'text'];
  // Written under a name of its own, then renamed: Playwright workers making the same image never read half of one.
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const stripe = 8 * MiB;
  const buf = new Uint8Array(stripe);
  const digests: string[] = [];
  const zeroBlocks: number[] = [];
  const zero = new Uint8Array(BLOCK_SIZE);
  let written = 0;
  for (let s = 0; written < size; s++) {
    const kind = s < 3 ? kinds[s] : kinds[next() % 3];
    const len = Math.min(stripe, size - written);
    const part = buf.subarray(0, len);
    fillRegion(part, kind, next, written);
    writeSync(fd, part);
    for (let o = 0; o < len; o += BLOCK_SIZE) {
      let block = part.subarray(o, Math.min(len, o + BLOCK_SIZE));
      if (block.length < BLOCK_SIZE) {
        const padded = new Uint8Array(BLOCK_SIZE);
        padded.set(block);
        block = padded;
      }
      digests.push(createHash('sha256').update(block).digest('base64'));
      if (Buffer.compare(block, zero) === 0) zeroBlocks.push(digests.length - 1);
    }
    written += len;
  }
  closeSync(fd);
  const image: TestImage = { path, size, blockCount: digests.length, digests, zeroBlocks };
  writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify({ ...image, seed }));
  renameSync(tmp, path);
  renameSync(`${meta}.${process.pid}.tmp`, meta);
  return image;
}

/** Copies an image to a working file the test may change. */
export function copyImage(image: TestImage, name: string): string {
  const path = join(tmpdir(), 'blockport-e2e', `${name}.img`);
  writeFileSync(path, readFileSync(image.path));
  return path;
}

/** Overwrites bytes in the middle of a file in place (same name, same size), as a running VM would. */
export function changeInPlace(path: string): void {
  const fd = openSync(path, 'r+');
  const text = Buffer.from('changed between sessions');
  writeSync(fd, text, 0, text.length, Math.floor(statSync(path).size / 2));
  closeSync(fd);
}
