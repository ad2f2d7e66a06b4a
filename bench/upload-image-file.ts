// Writes test disk images quickly: sparse zero regions, random regions from crypto, compressible text regions.
import { randomFillSync, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** A region of the image: kind and size in MiB. */
export type ImageRegion = ['random' | 'text' | 'zero', number];

const MiB = 1048576;
const BLOCK = 524288;

/** Writes the regions to path (zero regions stay holes) plus tailBytes of random data; returns the size. */
export async function writeImageFile(path: string, regions: ImageRegion[], tailBytes = 0): Promise<number> {
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(8 * MiB);
  const text = Buffer.from('Blockport writes this line many times so the region compresses well. 0123456789\n');
  const textChunk = Buffer.alloc(8 * MiB);
  for (let o = 0; o < textChunk.length; o += text.length) text.copy(textChunk, o);
  let at = 0;
  try {
    for (const [kind, mib] of regions) {
      const end = at + mib * MiB;
      if (kind === 'zero') {
        at = end;
        continue;
      }
      while (at < end) {
        const n = Math.min(chunk.length, end - at);
        const src = kind === 'random' ? randomFillSync(chunk, 0, n) : textChunk;
        await fh.write(src, 0, n, at);
        at += n;
      }
    }
    if (tailBytes) await fh.write(randomFillSync(Buffer.alloc(tailBytes)), 0, tailBytes, at);
    at += tailBytes;
    await fh.truncate(at);
  } finally {
    await fh.close();
  }
  return at;
}

/** SHA-256 (base64) of every 512 KiB block of a file, zero-padded at the end, and whether it is all zeros. */
export async function blockDigestsOfFile(path: string): Promise<{ digests: string[]; zero: boolean[] }> {
  const fh = await open(path, 'r');
  const digests: string[] = [];
  const zero: boolean[] = [];
  const buf = Buffer.alloc(16 * MiB);
  try {
    const { size } = await fh.stat();
    for (let at = 0; at < size; at += buf.length) {
      buf.fill(0);
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - at), at);
      const blocks = Math.ceil(bytesRead / BLOCK);
      for (let b = 0; b < blocks; b++) {
        const block = buf.subarray(b * BLOCK, (b + 1) * BLOCK);
        digests.push(createHash('sha256').update(block).digest('base64'));
        zero.push(block.every((x) => x === 0));
      }
    }
  } finally {
    await fh.close();
  }
  return { digests, zero };
}
