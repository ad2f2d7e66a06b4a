import { BLOCK_SIZE, BlockState, type ByteSource, type DiskImage, type ImageFormat } from './types.ts';
import { decompressUnit, type Codec } from './decompress.ts';
import { truncated } from './byte-source.ts';

/** A run of virtual bytes [start, end) and where they come from, as a reader's tables say. */
export type Piece =
  | { kind: 'zero'; start: number; end: number; state: typeof BlockState.Unallocated | typeof BlockState.Zero }
  | { kind: 'data'; start: number; end: number; fileOffset: number }
  | {
      kind: 'compressed';
      start: number;
      end: number;
      /** The whole unit (cluster, grain) this piece is a part of, once inflated. */
      unitStart: number;
      unitSize: number;
      fileOffset: number;
      /** Bytes to read from fileOffset: exact, or an upper bound the codec tolerates. */
      fileLength: number;
      codec: Codec;
      /** For VMDK grain markers: the sector the marker must name. */
      expectLba?: number;
    };

/** Collects pieces in order, merging neighbours that read the same way, so long runs stay one piece. */
export class PieceList {
  readonly items: Piece[] = [];

  /** Appends a piece (empty ones are dropped). */
  push(p: Piece): void {
    if (p.end <= p.start) return;
    const last = this.items[this.items.length - 1];
    if (last && last.end === p.start) {
      if (last.kind === 'zero' && p.kind === 'zero' && last.state === p.state) {
        last.end = p.end;
        return;
      }
      if (last.kind === 'data' && p.kind === 'data' && last.fileOffset + (last.end - last.start) === p.fileOffset) {
        last.end = p.end;
        return;
      }
    }
    this.items.push(p);
  }

  /** Appends a zero run. */
  zero(start: number, end: number, state: typeof BlockState.Unallocated | typeof BlockState.Zero = BlockState.Unallocated): void {
    this.push({ kind: 'zero', start, end, state });
  }

  /** Appends a data run. */
  data(start: number, end: number, fileOffset: number): void {
    this.push({ kind: 'data', start, end, fileOffset });
  }
}

/** What a format reader provides: geometry and a mapping from virtual ranges to pieces. */
export interface ImageMap {
  format: ImageFormat;
  subformat?: string;
  virtualSize: number;
  notices: string[];
  source: ByteSource;
  /** Pieces covering exactly [start, end) in order; end ≤ virtualSize. Reads tables only. */
  map(start: number, end: number): Promise<Piece[]>;
}

// Reads within this many bytes of each other are merged into one; larger spans are split.
const COALESCE_GAP = 64 * 1024;
const MAX_SPAN = 16 * 1024 * 1024;
// blockStates walks the tables this much of the virtual disk at a time, to bound the piece list.
const STATE_CHUNK = 1024 * 1024 * 1024;

interface Span {
  start: number;
  end: number;
  pieces: Piece[];
}

/** Builds a DiskImage from a reader's map: coalesced reads, inflation, block states. */
export function mappedImage(m: ImageMap): DiskImage {
  const blockCount = Math.ceil(m.virtualSize / BLOCK_SIZE);
  // The last inflated unit: a 2 MiB compressed cluster spans four blocks read by separate calls.
  let lastUnit: { key: number; bytes: Uint8Array } | undefined;

  // Where the source reads into memory it is given (Blob sources), reads reuse memory instead of leaving a new buffer
  // per span to the garbage collector (4 GiB of qcow2 was 1 000 buffers of 4 MiB): a span that is one run of data
  // lands in the caller's buffer where it belongs, any other in this scratch buffer, which grows to the largest span.
  const readInto = m.source.readInto?.bind(m.source);
  let scratch: Uint8Array = new Uint8Array(0);

  async function readBlocks(first: number, count: number): Promise<Uint8Array> {
    return fill(first, count, new Uint8Array(count * BLOCK_SIZE), false);
  }

  // A reused buffer holds an earlier slice: zero it first, as holes and the tail are never written.
  async function readBlocksInto(first: number, count: number, target: Uint8Array): Promise<Uint8Array> {
    return fill(first, count, target.subarray(0, count * BLOCK_SIZE).fill(0), true);
  }

  /**
   * Writes the virtual bytes of blocks [first, first+count) into out (zeroed, count × BLOCK_SIZE bytes). With `reuse`,
   * reads go into out and the scratch buffer; the answer is a view of out's memory, whose buffer may be a new one.
   */
  async function fill(first: number, count: number, out: Uint8Array, reuse: boolean): Promise<Uint8Array> {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0) {
      throw new RangeError(`readBlocks(${first}, ${count}): block range must be non-negative integers`);
    }
    if (out.length < count * BLOCK_SIZE) throw new RangeError(`readBlocksInto(${first}, ${count}): the buffer holds ${out.length} bytes`);
    const vstart = first * BLOCK_SIZE;
    const vend = Math.min((first + count) * BLOCK_SIZE, m.virtualSize);
    if (vstart >= vend) return out;
    const pieces = await m.map(vstart, vend);
    recent.push({ start: vstart, end: vend, pieces });
    if (recent.length > 4) recent.shift();
    const spans: Span[] = [];
    const cached: Piece[] = [];
    for (const p of pieces) {
      if (p.kind === 'zero') continue;
      if (p.kind === 'compressed' && lastUnit?.key === p.fileOffset) {
        cached.push(p);
        continue;
      }
      const fs = p.fileOffset;
      const fe = p.kind === 'data' ? fs + (p.end - p.start) : Math.min(m.source.size, fs + p.fileLength);
      const last = spans[spans.length - 1];
      if (last && fs >= last.start && fs <= last.end + COALESCE_GAP && Math.max(fe, last.end) - last.start <= MAX_SPAN) {
        last.end = Math.max(last.end, fe);
        last.pieces.push(p);
      } else {
        spans.push({ start: fs, end: fe, pieces: [p] });
      }
    }
    for (const p of cached) {
      if (p.kind === 'compressed' && lastUnit) out.set(lastUnit.bytes.subarray(p.start - p.unitStart, p.end - p.unitStart), p.start - vstart);
    }
    /** Copies a span's pieces from its bytes (buf, read from the span's start) to their places in out. */
    const place = (s: Span, buf: Uint8Array) => {
      for (const p of s.pieces) {
        if (p.kind === 'zero') continue;
        const at = p.fileOffset - s.start;
        if (p.kind === 'data') {
          const len = p.end - p.start;
          if (at + len > buf.length) throw truncated(m.format, 'data');
          out.set(buf.subarray(at, at + len), p.start - vstart);
        } else {
          if (at >= buf.length) throw truncated(m.format, 'compressed data');
          const unit = decompressUnit(m.format, p.codec, buf.subarray(at, Math.min(buf.length, at + p.fileLength)), p.unitSize, p.expectLba);
          lastUnit = { key: p.fileOffset, bytes: unit };
          out.set(unit.subarray(p.start - p.unitStart, p.end - p.unitStart), p.start - vstart);
        }
      }
    };
    if (!reuse || !readInto) {
      const buffers = await Promise.all(spans.map((s) => m.source.read(s.start, s.end - s.start)));
      spans.forEach((s, i) => place(s, buffers[i]!));
      return out;
    }
    // One span after another (the scratch buffer serves each in turn); a read may move the memory it was given to a
    // new buffer (a BYOB stream read transfers it), so out and scratch are taken again from what each read returns.
    for (const s of spans) {
      const len = s.end - s.start;
      const only = s.pieces.length === 1 ? s.pieces[0]! : null;
      if (only?.kind === 'data') {
        const [base, n, at] = [out.byteOffset, out.length, only.start - vstart];
        const got = await readInto(s.start, out.subarray(at, at + len));
        out = new Uint8Array(got.buffer, base, n);
        if (got.length < len) throw truncated(m.format, 'data');
      } else {
        if (scratch.length < len) scratch = new Uint8Array(len);
        const got = await readInto(s.start, scratch.subarray(0, len));
        scratch = new Uint8Array(got.buffer);
        place(s, got);
      }
    }
    return out;
  }

  // The pieces of the last few reads: the pipeline asks for block Blobs of a slice it has just read.
  const recent: { start: number; end: number; pieces: Piece[] }[] = [];
  const zeros = new Blob([new Uint8Array(BLOCK_SIZE)]);
  const slice = m.source.slice?.bind(m.source);

  async function blockBlob(index: number): Promise<Blob | null> {
    const bs = index * BLOCK_SIZE;
    const be = Math.min(bs + BLOCK_SIZE, m.virtualSize);
    if (!slice || bs >= be) return null;
    const pieces = recent.find((r) => r.start <= bs && be <= r.end)?.pieces ?? (await m.map(bs, be));
    const parts: Blob[] = [];
    for (const p of pieces) {
      const a = Math.max(p.start, bs);
      const b = Math.min(p.end, be);
      if (b <= a) continue;
      if (p.kind === 'compressed') return null;
      if (p.kind === 'zero') parts.push(zeros.slice(0, b - a));
      else parts.push(slice(p.fileOffset + (a - p.start), p.fileOffset + (b - p.start)));
    }
    if (be - bs < BLOCK_SIZE) parts.push(zeros.slice(0, BLOCK_SIZE - (be - bs)));
    const body = parts.length === 1 ? parts[0]! : new Blob(parts);
    // A table pointing past the end of the file would send a short body: read it instead, which says 'truncated'.
    return body.size === BLOCK_SIZE ? body : null;
  }

  async function blockStates(): Promise<Uint8Array> {
    const states = new Uint8Array(blockCount);
    for (let a = 0; a < m.virtualSize; a += STATE_CHUNK) {
      const pieces = await m.map(a, Math.min(m.virtualSize, a + STATE_CHUNK));
      for (const p of pieces) {
        const s = p.kind === 'zero' ? p.state : BlockState.Data;
        if (s === BlockState.Unallocated) continue;
        const b1 = Math.ceil(p.end / BLOCK_SIZE);
        for (let b = Math.floor(p.start / BLOCK_SIZE); b < b1; b++) if (states[b]! < s) states[b] = s;
      }
    }
    return states;
  }

  return {
    format: m.format,
    ...(m.subformat !== undefined ? { subformat: m.subformat } : {}),
    virtualSize: m.virtualSize,
    blockCount,
    notices: m.notices,
    blockStates,
    readBlocks,
    readBlocksInto,
    ...(m.source.slice ? { blockBlob } : {}),
  };
}
