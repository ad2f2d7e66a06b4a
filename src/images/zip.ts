import { ImageFormatError, type ByteSource } from './types.ts';

/** A file inside a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  /** CRC-32 of the unpacked file. */
  crc: number;
  compressedSize: number;
  size: number;
  /** Where the entry's local header starts. */
  headerOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 65536;
const MAX_CENTRAL_BYTES = 64 * 1024 * 1024;

/** True when the bytes start like a zip archive (a local file header, or an empty archive's end record). */
export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/** The error for a zip archive that contradicts itself or ends early. */
export function zipDamaged(detail: string, code = 'corrupt'): ImageFormatError {
  return new ImageFormatError(
    `This zip archive is ${code === 'truncated' ? 'truncated' : 'damaged'} (${detail}), so the disk inside cannot be read. Download or copy it again and pick the complete file.`,
    undefined,
    code,
  );
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, at: number): number => u32(b, at) + u32(b, at + 4) * 2 ** 32;

async function readAt(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > source.size) throw zipDamaged(`its ${what} lies past the end of the file`, 'truncated');
  const b = await source.read(offset, length);
  if (b.length !== length) throw zipDamaged(`its ${what} lies past the end of the file`, 'truncated');
  return b;
}

/** Lists a zip archive's files from its central directory (zip64 included); refuses encrypted or split archives. */
export async function listZip(source: ByteSource): Promise<ZipEntry[]> {
  // The end record is in the last 64 KiB + 22 bytes (its comment is at most 65535 bytes).
  const tailLen = Math.min(source.size, 65557);
  const tail = await readAt(source, source.size - tailLen, tailLen, 'end record');
  let e = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (u32(tail, i) === EOCD && i + 22 + u16(tail, i + 20) <= tail.length) {
      e = i;
      break;
    }
  }
  if (e < 0) throw zipDamaged('its end-of-archive record is missing', 'truncated');
  const eocdAt = source.size - tailLen + e;
  if (u16(tail, e + 4) !== 0 || u16(tail, e + 6) !== 0) {
    throw new ImageFormatError(
      'This zip archive is split across several files (a multi-part zip), which Blockport does not join. Join the parts (`zip -s 0 in.zip --out whole.zip`) or extract the disk, and pick the result.',
      undefined,
      'multi-file',
    );
  }
  let count = u16(tail, e + 10);
  let cdSize = u32(tail, e + 12);
  let cdOffset = u32(tail, e + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (eocdAt < 20) throw zipDamaged('its zip64 end record is missing');
    const loc = await readAt(source, eocdAt - 20, 20, 'zip64 locator');
    if (u32(loc, 0) !== ZIP64_LOCATOR) throw zipDamaged('its zip64 locator is missing');
    const z = await readAt(source, u64(loc, 8), 56, 'zip64 end record');
    if (u32(z, 0) !== ZIP64_EOCD) throw zipDamaged('its zip64 end record is missing');
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (count > MAX_ENTRIES) throw zipDamaged(`it claims ${count} entries`);
  if (cdSize > MAX_CENTRAL_BYTES) throw zipDamaged(`its central directory claims ${cdSize} bytes`);
  const cd = await readAt(source, cdOffset, cdSize, 'central directory');
  const out: ZipEntry[] = [];
  for (let at = 0, n = 0; n < count; n++) {
    if (at + 46 > cd.length || u32(cd, at) !== CENTRAL) throw zipDamaged(`entry ${n + 1} of its central directory is damaged`);
    const flags = u16(cd, at + 8);
    const method = u16(cd, at + 10);
    const crc = u32(cd, at + 16);
    let compressedSize = u32(cd, at + 20);
    let size = u32(cd, at + 24);
    const nameLen = u16(cd, at + 28);
    const extraLen = u16(cd, at + 30);
    const commentLen = u16(cd, at + 32);
    let headerOffset = u32(cd, at + 42);
    if (at + 46 + nameLen + extraLen > cd.length) throw zipDamaged(`entry ${n + 1} of its central directory is damaged`);
    const name = new TextDecoder().decode(cd.subarray(at + 46, at + 46 + nameLen));
    // zip64: the fields that overflowed follow in the extra block 0x0001, in this order.
    for (let x = at + 46 + nameLen, end = x + extraLen; x + 4 <= end; ) {
      const id = u16(cd, x);
      const len = u16(cd, x + 2);
      if (id === 1) {
        let f = x + 4;
        if (size === 0xffffffff && f + 8 <= x + 4 + len) (size = u64(cd, f)), (f += 8);
        if (compressedSize === 0xffffffff && f + 8 <= x + 4 + len) (compressedSize = u64(cd, f)), (f += 8);
        if (headerOffset === 0xffffffff && f + 8 <= x + 4 + len) headerOffset = u64(cd, f);
      }
      x += 4 + len;
    }
    at += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (flags & 1) {
      throw new ImageFormatError(
        `This zip archive encrypts "${name}", and Blockport does not take passwords. Extract it with \`unzip\` (or 7-Zip) and pick the disk file.`,
        undefined,
        'encrypted',
      );
    }
    out.push({ name, method, crc, compressedSize, size, headerOffset });
  }
  return out;
}

/** Where an entry's data starts (after its local header, whose name and extra lengths may differ from the central one). */
export async function zipDataOffset(source: ByteSource, e: ZipEntry): Promise<number> {
  const h = await readAt(source, e.headerOffset, 30, `local header of "${e.name}"`);
  if (u32(h, 0) !== LOCAL) throw zipDamaged(`the local header of "${e.name}" is missing`);
  const data = e.headerOffset + 30 + u16(h, 26) + u16(h, 28);
  if (data + e.compressedSize > source.size) throw zipDamaged(`"${e.name}" runs past the end of the file`, 'truncated');
  return data;
}
