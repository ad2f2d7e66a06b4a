// readBlocksInto reuses the caller's buffer: it must give the bytes readBlocks gives, whatever the buffer held before.
import { describe, expect, it } from 'vitest';
import { blobSource } from './blob-source.ts';
import { memorySource, readIntoFrom, subSource } from './byte-source.ts';
import { openRaw } from './raw.ts';
import { BLOCK_SIZE } from './types.ts';

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('readBlocksInto on raw images', () => {
  // 3 whole blocks and a short fourth.
  const data = pattern(3 * BLOCK_SIZE + 1234);

  it('gives the bytes of readBlocks in a buffer that held other bytes, the short tail zeroed', async () => {
    const img = openRaw(blobSource(new Blob([data])));
    let buf = new Uint8Array(4 * BLOCK_SIZE).fill(0xee);
    for (const [first, count] of [[0, 4], [2, 2], [3, 1], [1, 2]] as const) {
      const got = await img.readBlocksInto!(first, count, buf.fill(0xee));
      expect(got.length).toBe(count * BLOCK_SIZE);
      expect(same(got, await img.readBlocks(first, count))).toBe(true);
      buf = new Uint8Array(got.buffer as ArrayBuffer);
    }
    const tail = await img.readBlocksInto!(3, 1, new Uint8Array(BLOCK_SIZE).fill(0xee));
    expect(tail.subarray(1234).every((b) => b === 0)).toBe(true);
  });

  it('reads past the end of a blob as nothing, and through a sub-source only within it', async () => {
    const src = blobSource(new Blob([data]));
    expect((await src.readInto!(data.length + 10, new Uint8Array(16))).length).toBe(0);
    const sub = subSource(src, BLOCK_SIZE, 1000);
    const got = await readIntoFrom(sub, 990, new Uint8Array(64).fill(1));
    expect([...got]).toEqual([...data.subarray(BLOCK_SIZE + 990, BLOCK_SIZE + 1000)]);
  });

  it('falls back to a copy for sources that cannot read into a buffer', async () => {
    const got = await readIntoFrom(memorySource(data), 5, new Uint8Array(10));
    expect([...got]).toEqual([...data.subarray(5, 15)]);
  });
});
