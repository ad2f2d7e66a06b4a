// The unpacked size an xz file declares in its index (read from the end of the file, nothing decoded).
import { crc32 } from './crc32.ts';
import type { ByteSource } from './types.ts';

const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
// An index larger than this is not read (4 GiB of disk in 24 MiB blocks is a few hundred bytes of index).
const MAX_INDEX = 16 * 1024 * 1024;
const MAX_STREAMS = 4096;

/** A multibyte integer of the xz format at `at`: [value, bytes used], or undefined when malformed. */
function varint(b: Uint8Array, at: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 9 && at + i < b.length; i++) {
    const byte = b[at + i]!;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if (!(byte & 0x80)) return byte === 0 && i > 0 ? undefined : [v, i + 1];
  }
  return undefined;
}

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * The total unpacked size the indexes of an xz file's streams declare (concatenated streams and stream padding
 * included), or undefined when the file does not end like a well-formed xz file. The decoder is the judge of the rest:
 * a file whose data unpacks to another size is refused while it is read.
 */
export async function xzDeclaredSize(source: ByteSource): Promise<number | undefined> {
  let end = source.size;
  let total = 0;
  for (let streams = 0; end > 0; streams++) {
    if (streams >= MAX_STREAMS || end < 24) return undefined;
    // Stream padding: zero bytes, a multiple of four, after a stream.
    for (;;) {
      const tail = await source.read(end - 4, 4);
      if (tail.length !== 4 || u32(tail, 0) !== 0) break;
      end -= 4;
      if (end < 24) return undefined;
    }
    const footer = await source.read(end - 12, 12);
    if (footer.length !== 12 || footer[10] !== 0x59 || footer[11] !== 0x5a) return undefined;
    if (crc32(footer.subarray(4, 10)) !== u32(footer, 0)) return undefined;
    const indexSize = (u32(footer, 4) + 1) * 4;
    const indexAt = end - 12 - indexSize;
    if (indexSize > MAX_INDEX || indexAt < 12) return undefined;
    const index = await source.read(indexAt, indexSize);
    if (index.length !== indexSize || index[0] !== 0) return undefined;
    if (crc32(index.subarray(0, indexSize - 4)) !== u32(index, indexSize - 4)) return undefined;
    const count = varint(index, 1);
    if (!count) return undefined;
    let at = 1 + count[1];
    let blocks = 0;
    for (let r = 0; r < count[0]; r++) {
      const unpadded = varint(index, at);
      if (!unpadded) return undefined;
      const unpacked = varint(index, at + unpadded[1]);
      if (!unpacked) return undefined;
      at += unpadded[1] + unpacked[1];
      blocks += Math.ceil(unpadded[0] / 4) * 4;
      total += unpacked[0];
      if (at > indexSize - 4) return undefined;
    }
    const start = indexAt - blocks - 12;
    if (start < 0 || !Number.isSafeInteger(total)) return undefined;
    const header = await source.read(start, 12);
    if (header.length !== 12 || !HEADER_MAGIC.every((b, i) => header[i] === b)) return undefined;
    // The footer's flags repeat the header's.
    if (header[6] !== footer[8] || header[7] !== footer[9]) return undefined;
    end = start;
  }
  return total;
}
