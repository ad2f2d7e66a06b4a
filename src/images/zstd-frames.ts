import { createXXHash64, type IHasher } from 'hash-wasm';
import type { ByteSource } from './types.ts';

/**
 * Follows zstd frames through their headers only (frame header, block headers, checksum), so a stream's frames can be
 * cut apart and each frame's output checked against its content checksum (the low 32 bits of XXH64), which fzstd skips.
 */
export class ZstdFrames {
  private need = 4;
  private state: 'magic' | 'fhd' | 'header' | 'block' | 'body' | 'checksum' | 'skip-size' | 'skip' = 'magic';
  private hold: number[] = [];
  private hasChecksum = false;
  private last = false;
  private frameBytes = 0;
  /** The checksum stored at the end of the frame that just ended (undefined if it has none). */
  stored: number | undefined;
  /** Bytes of the frame that just ended. */
  endedFrameBytes = 0;

  /**
   * Reads `bytes` until a frame ends; returns how many were consumed (all of them if no frame ends inside). When a frame
   * ends, `stored` and `endedFrameBytes` describe it and the caller feeds the rest again.
   */
  feed(bytes: Uint8Array): { used: number; frameEnded: boolean } {
    let i = 0;
    while (i < bytes.length) {
      const take = Math.min(this.need, bytes.length - i);
      if (this.state === 'body' || this.state === 'skip') {
        i += take;
        this.frameBytes += take;
        this.need -= take;
      } else {
        for (let k = 0; k < take; k++) this.hold.push(bytes[i + k]!);
        i += take;
        this.frameBytes += take;
        this.need -= take;
      }
      if (this.need > 0) continue;
      if (this.step()) return { used: i, frameEnded: true };
    }
    return { used: i, frameEnded: false };
  }

  /** Moves to the next state once `hold` has what the current one needs; true when a frame just ended. */
  private step(): boolean {
    const h = this.hold;
    this.hold = [];
    switch (this.state) {
      case 'magic': {
        const magic = le32(h, 0);
        if (magic === ZSTD_FRAME_MAGIC) [this.state, this.need] = ['fhd', 1];
        else if ((magic & 0xfffffff0) === 0x184d2a50) [this.state, this.need] = ['skip-size', 4];
        else throw new Error('no zstd frame magic where a frame should start');
        return false;
      }
      case 'fhd': {
        const fhd = h[0]!;
        if (fhd & 8) throw new Error('a reserved bit of a zstd frame header is set');
        const single = (fhd >> 5) & 1;
        this.hasChecksum = ((fhd >> 2) & 1) === 1;
        const rest = (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
        [this.state, this.need] = rest ? ['header', rest] : ['block', 3];
        return false;
      }
      case 'header':
        [this.state, this.need] = ['block', 3];
        return false;
      case 'block': {
        const v = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        this.last = (v & 1) === 1;
        const type = (v >> 1) & 3;
        if (type === 3) throw new Error('a zstd block has the reserved type');
        const size = type === 1 ? 1 : v >>> 3;
        if (size > 0) [this.state, this.need] = ['body', size];
        else return this.afterBlock();
        return false;
      }
      case 'body':
        return this.afterBlock();
      case 'checksum':
        this.stored = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        return this.endFrame();
      case 'skip-size': {
        const size = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        if (size > 0) [this.state, this.need] = ['skip', size];
        else [this.state, this.need] = ['magic', 4];
        return false;
      }
      case 'skip':
        [this.state, this.need] = ['magic', 4];
        return false;
    }
  }

  private afterBlock(): boolean {
    if (!this.last) {
      [this.state, this.need] = ['block', 3];
      return false;
    }
    if (this.hasChecksum) {
      [this.state, this.need] = ['checksum', 4];
      return false;
    }
    this.stored = undefined;
    return this.endFrame();
  }

  private endFrame(): boolean {
    this.endedFrameBytes = this.frameBytes;
    this.frameBytes = 0;
    [this.state, this.need] = ['magic', 4];
    return true;
  }

  /** True between frames (a stream may end only there). */
  get atBoundary(): boolean {
    return this.state === 'magic' && this.need === 4;
  }
}

/** An XXH64 hasher (WebAssembly) of a stream's own. */
export function xxhash64(): Promise<IHasher> {
  return createXXHash64();
}

/** The low 32 bits of an XXH64 digest, as a zstd frame stores them. */
export function low32(h: IHasher): number {
  return parseInt(h.digest('hex').slice(8), 16) >>> 0;
}

/** A zstd file's frames as its seek table (the seekable format's last skippable frame) lists them. */
export interface ZstdSeekTable {
  frames: { offset: number; compressed: number; start: number; decompressed: number }[];
  /** Where the seek table's skippable frame begins (the frames end). */
  tableAt: number;
  /** What the frames unpack to, all together. */
  total: number;
}

/** The first four bytes (little-endian) of every zstd frame. */
export const ZSTD_FRAME_MAGIC = 0xfd2fb528;
const SEEK_TABLE_MAGIC = 0x184d2a5e;
const SEEKABLE_MAGIC = 0x8f92eab1;
// A table larger than this is not read (a frame per MiB of a 64 TiB disk is 64 Mi entries; seekable writers cap at
// 128 Mi frames, but a table that size is not worth reading before a resume).
const MAX_SEEK_FRAMES = 1 << 22;

export const le32 = (b: ArrayLike<number>, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * The seek table at the end of a zstd file in the seekable format, or undefined when the file does not end in a
 * well-formed one (the file is then read from its start). The table is only a guide: the frames it names are decoded
 * and checked as they would be in the whole stream.
 */
export async function zstdSeekTable(source: ByteSource): Promise<ZstdSeekTable | undefined> {
  if (source.size < 17) return undefined;
  const footer = await source.read(source.size - 9, 9);
  if (footer.length !== 9 || le32(footer, 5) !== SEEKABLE_MAGIC || footer[4]! & 0x7c) return undefined;
  const count = le32(footer, 0);
  const entry = footer[4]! & 0x80 ? 12 : 8;
  if (count === 0 || count > MAX_SEEK_FRAMES) return undefined;
  const frameSize = count * entry + 9;
  const tableAt = source.size - 8 - frameSize;
  if (tableAt < 0) return undefined;
  const table = await source.read(tableAt, 8 + frameSize);
  if (table.length !== 8 + frameSize || le32(table, 0) !== SEEK_TABLE_MAGIC || le32(table, 4) !== frameSize) return undefined;
  const frames: ZstdSeekTable['frames'] = [];
  let offset = 0;
  let start = 0;
  for (let i = 0; i < count; i++) {
    const compressed = le32(table, 8 + i * entry);
    const decompressed = le32(table, 12 + i * entry);
    frames.push({ offset, compressed, start, decompressed });
    offset += compressed;
    start += decompressed;
  }
  // The frames the table lists fill the file up to the table.
  if (offset !== tableAt || !Number.isSafeInteger(start)) return undefined;
  return { frames, tableAt, total: start };
}
