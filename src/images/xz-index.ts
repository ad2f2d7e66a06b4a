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

/** An xz file of one stream as its index lists it: where each block lies and what it unpacks to. */
export interface XzLayout {
  /** The stream header (12 bytes), repeated in a stream cut to start at a later block. */
  header: Uint8Array;
  blocks: { offset: number; unpadded: number; uncompressed: number; start: number }[];
  /** Where the blocks end (the index starts). */
  blocksEnd: number;
}

/** The blocks of an xz file holding one stream (no padding after it), from its index; undefined otherwise. */
export async function xzLayout(source: ByteSource): Promise<XzLayout | undefined> {
  const end = source.size;
  if (end < 24) return undefined;
  const footer = await source.read(end - 12, 12);
  if (footer.length !== 12 || footer[10] !== 0x59 || footer[11] !== 0x5a || crc32(footer.subarray(4, 10)) !== u32(footer, 0)) return undefined;
  const indexSize = (u32(footer, 4) + 1) * 4;
  const indexAt = end - 12 - indexSize;
  if (indexSize > MAX_INDEX || indexAt < 12) return undefined;
  const index = await source.read(indexAt, indexSize);
  if (index.length !== indexSize || index[0] !== 0 || crc32(index.subarray(0, indexSize - 4)) !== u32(index, indexSize - 4)) return undefined;
  const count = varint(index, 1);
  if (!count) return undefined;
  const records: { unpadded: number; uncompressed: number }[] = [];
  let at = 1 + count[1];
  let padded = 0;
  for (let r = 0; r < count[0]; r++) {
    const unpadded = varint(index, at);
    const unpacked = unpadded && varint(index, at + unpadded[1]);
    if (!unpadded || !unpacked) return undefined;
    at += unpadded[1] + unpacked[1];
    if (at > indexSize - 4) return undefined;
    records.push({ unpadded: unpadded[0], uncompressed: unpacked[0] });
    padded += Math.ceil(unpadded[0] / 4) * 4;
  }
  // One stream only: its header is where the blocks the index lists begin.
  if (indexAt - padded !== 12) return undefined;
  const header = await source.read(0, 12);
  if (header.length !== 12 || !HEADER_MAGIC.every((b, i) => header[i] === b) || header[6] !== footer[8] || header[7] !== footer[9]) return undefined;
  const blocks: XzLayout['blocks'] = [];
  let offset = 12;
  let start = 0;
  for (const r of records) {
    blocks.push({ offset, unpadded: r.unpadded, uncompressed: r.uncompressed, start });
    offset += Math.ceil(r.unpadded / 4) * 4;
    start += r.uncompressed;
    if (!Number.isSafeInteger(start)) return undefined;
  }
  return { header, blocks, blocksEnd: indexAt };
}

function putVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * The index and footer of the same stream cut to begin at block `first`: what follows its header and those blocks in
 * a well-formed xz stream, so a decoder that checks the index against the blocks accepts it.
 */
export function xzTail(layout: XzLayout, first: number): Uint8Array {
  const idx: number[] = [0];
  const rest = layout.blocks.slice(first);
  putVarint(idx, rest.length);
  for (const b of rest) {
    putVarint(idx, b.unpadded);
    putVarint(idx, b.uncompressed);
  }
  while (idx.length % 4) idx.push(0);
  const index = new Uint8Array(idx.length + 4);
  index.set(idx);
  new DataView(index.buffer).setUint32(idx.length, crc32(index.subarray(0, idx.length)), true);
  const footer = new Uint8Array(12);
  const dv = new DataView(footer.buffer);
  dv.setUint32(4, index.length / 4 - 1, true);
  footer[8] = layout.header[6]!;
  footer[9] = layout.header[7]!;
  footer[10] = 0x59;
  footer[11] = 0x5a;
  dv.setUint32(0, crc32(footer.subarray(4, 10)), true);
  const out = new Uint8Array(index.length + 12);
  out.set(index);
  out.set(footer, index.length);
  return out;
}
