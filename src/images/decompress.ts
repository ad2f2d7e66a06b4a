import { inflateSync, unzlibSync } from 'fflate';
import { decompress as zstdDecompress } from 'fzstd';
import { corrupt } from './byte-source.ts';
import type { ImageFormat } from './types.ts';

/** How a compressed unit is stored. */
export type Codec = 'deflate-raw' | 'zlib' | 'zstd' | 'vmdk-marker';

/**
 * Inflates one compressed unit into exactly `size` bytes (short output is zero-filled).
 * Trailing bytes after the stream are ignored, as qcow2 slices carry the next cluster's start.
 */
export function decompressUnit(format: ImageFormat, codec: Codec, data: Uint8Array, size: number, expectLba?: number): Uint8Array {
  const out = codec === 'zstd' ? new ZstdOut(size) : new Uint8Array(size);
  try {
    if (codec === 'deflate-raw') inflateSync(data, { out });
    else if (codec === 'zlib') unzlibSync(data, { out });
    else if (codec === 'zstd') zstdDecompress(data.subarray(0, zstdFrameLength(data)), out);
    else {
      if (data.length < 12) throw new Error('grain marker cut short');
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const lba = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
      const len = dv.getUint32(8, true);
      if (expectLba !== undefined && lba !== expectLba) throw new Error(`grain marker names sector ${lba}, the table says ${expectLba}`);
      if (len === 0 || len > data.length - 12) throw new Error(`grain marker gives an impossible length ${len}`);
      unzlibSync(data.subarray(12, 12 + len), { out });
    }
  } catch (err) {
    throw corrupt(format, `a compressed ${format === 'qcow2' ? 'cluster' : 'grain'} does not decompress (${(err as Error).message})`);
  }
  return out instanceof ZstdOut ? new Uint8Array(out.buffer) : out;
}

/**
 * fzstd compares its output buffer with `== 1`, which stringifies a plain Uint8Array (64 KiB → a 200 KB string per cluster);
 * this subclass makes that comparison cheap while keeping output bounded by the buffer we give.
 */
class ZstdOut extends Uint8Array {
  [Symbol.toPrimitive](): number {
    return NaN;
  }
}

/** Length of the first zstd frame in `data` (qemu writes one frame per cluster; what follows is the next cluster). */
export function zstdFrameLength(data: Uint8Array): number {
  const need = (n: number): void => {
    if (n > data.length) throw new Error('zstd frame cut short');
  };
  need(6);
  if (data[0] !== 0x28 || data[1] !== 0xb5 || data[2] !== 0x2f || data[3] !== 0xfd) throw new Error('no zstd frame magic');
  const fhd = data[4]!;
  const singleSegment = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]!;
  let pos = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
  for (let blocks = 0; ; blocks++) {
    need(pos + 3);
    const h = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) throw new Error('reserved zstd block type');
    pos += 3 + (type === 1 ? 1 : size);
    need(pos);
    if (last) break;
    if (blocks > 1 << 16) throw new Error('too many zstd blocks');
  }
  pos += checksum ? 4 : 0;
  need(pos);
  return pos;
}
