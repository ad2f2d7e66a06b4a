import { inflateSync, unzlibSync } from 'fflate';
import { Decompress as ZstdStream } from 'fzstd';
import { corrupt } from './byte-source.ts';
import type { ImageFormat } from './types.ts';

/** How a compressed unit is stored. */
export type Codec = 'deflate-raw' | 'zlib' | 'zstd' | 'vmdk-marker';

/**
 * Inflates one compressed unit into exactly `size` bytes (short output is zero-filled; longer output is refused, as a
 * unit never holds more than its cluster or grain). Trailing bytes after the stream are ignored, as qcow2 slices carry
 * the next cluster's start.
 */
export function decompressUnit(format: ImageFormat, codec: Codec, data: Uint8Array, size: number, expectLba?: number): Uint8Array {
  // One byte of room past the unit shows an overflow without inflating the rest of it.
  const room = new Uint8Array(size + 1);
  let got: Uint8Array;
  try {
    if (codec === 'deflate-raw') got = inflateSync(data, { out: room });
    else if (codec === 'zlib') got = unzlibSync(data, { out: room });
    else if (codec === 'zstd') got = zstdInto(data, room, size);
    else {
      if (data.length < 12) throw new Error('grain marker cut short');
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const lba = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
      const len = dv.getUint32(8, true);
      if (expectLba !== undefined && lba !== expectLba) throw new Error(`grain marker names sector ${lba}, the table says ${expectLba}`);
      if (len === 0 || len > data.length - 12) throw new Error(`grain marker gives an impossible length ${len}`);
      got = unzlibSync(data.subarray(12, 12 + len), { out: room });
    }
  } catch (err) {
    throw corrupt(format, `a compressed ${unitName(format)} does not decompress (${(err as Error).message})`);
  }
  if (got.length > size) throw corrupt(format, `a compressed ${unitName(format)} inflates to more than the ${size} bytes it may hold`);
  return new Uint8Array(room.buffer, 0, size).fill(0, got.length);
}

/**
 * fzstd, given a buffer, neither says how much it wrote nor keeps within it, so the frame is streamed and counted: an
 * overflow is seen at the first byte past the unit. Its window is bounded first, as the stream allocates what it declares.
 */
function zstdInto(data: Uint8Array, room: Uint8Array, size: number): Uint8Array {
  const frame = data.subarray(0, zstdFrameLength(data));
  const window = zstdWindowSize(frame);
  if (window > Math.max(2 * size, MAX_ZSTD_WINDOW)) throw new Error(`the frame asks for a ${window}-byte window`);
  let n = 0;
  let over = false;
  const stream = new ZstdStream((chunk) => {
    if (over) return;
    if (n + chunk.length > size) {
      over = true;
      return;
    }
    room.set(chunk, n);
    n += chunk.length;
  });
  stream.push(frame, true);
  return over ? room : room.subarray(0, n);
}

// zstd's own decoders refuse windows above 8 MiB unless told otherwise; qemu's frames never come near it.
const MAX_ZSTD_WINDOW = 8 * 1024 * 1024;

/** The window a zstd frame header asks for (its content size when it is a single segment). */
function zstdWindowSize(frame: Uint8Array): number {
  const fhd = frame[4]!;
  const single = (fhd >> 5) & 1;
  if (!single) {
    const wd = frame[5]!;
    const base = 2 ** (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  const fcsBytes = [1, 2, 4, 8][fhd >> 6]!;
  let at = 5 + [0, 1, 2, 4][fhd & 3]!;
  let v = 0;
  for (let i = 0; i < fcsBytes; i++) v += frame[at++]! * 2 ** (8 * i);
  return fcsBytes === 2 ? v + 256 : v;
}

const unitName = (format: ImageFormat): string => (format === 'qcow2' ? 'cluster' : 'grain');

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
