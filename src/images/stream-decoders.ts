import { Gunzip, Inflate } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';
import * as xzModule from 'xz-decompress';
import bzip2 from 'unbzip2-stream/lib/bzip2.js';
import bitIterator, { type BitReader } from 'unbzip2-stream/lib/bit_iterator.js';
import type { ByteStream } from './byte-stream.ts';
import { crc32 } from './crc32.ts';
import { ZstdFrames, xxhash64, low32 } from './zstd-frames.ts';
import type { IHasher } from 'hash-wasm';
import { ImageFormatError } from './types.ts';

// A UMD bundle: Node sees only its default export, a bundler its named ones.
const XzReadableStream: typeof xzModule.XzReadableStream =
  xzModule.XzReadableStream ?? (xzModule as unknown as { default: typeof xzModule }).default.XzReadableStream;

/** Compressed stream formats Blockport unpacks (zip's deflate entries use 'deflate'). */
export type StreamCodec = 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'deflate';

/** A person-facing name of a compressed stream format. */
export const CODEC_LABEL: Record<StreamCodec, string> = { gzip: 'gzip', xz: 'xz', zstd: 'zstd', bzip2: 'bzip2', deflate: 'zip (deflate)' };

// A push decoder turns each input piece into output at once: pieces are cut so that even the format's highest
// ratio gives at most OUT_BUDGET bytes per piece (deflate ≤ 1032:1; a zstd RLE block is 4 bytes for 128 KiB).
const OUT_BUDGET = 16 * 1024 * 1024;
const PIECE: Record<'gzip' | 'zstd' | 'deflate', number> = { gzip: OUT_BUDGET / 1032, deflate: OUT_BUDGET / 1032, zstd: OUT_BUDGET / 32768 };

/** The error for a compressed stream that cannot be decoded. */
export function damaged(codec: StreamCodec, detail: string, code = 'corrupt'): ImageFormatError {
  return new ImageFormatError(
    `This ${CODEC_LABEL[codec]} file is ${code === 'truncated' ? 'truncated' : 'damaged'} (${detail}), so the disk inside cannot be read. Download or copy it again and pick the complete file.`,
    undefined,
    code,
  );
}

/**
 * Decodes a compressed stream as it is read; output is bounded per read whatever the ratio. gzip members are checked
 * against their CRC-32 and length, a zip entry against the `crc` its directory gives.
 */
export function decodeStream(codec: StreamCodec, input: ByteStream, crc?: number): ByteStream {
  const out = codec === 'xz' ? xzStream(input) : codec === 'bzip2' ? bzip2Stream(input) : pushStream(codec, input, crc);
  return {
    async next() {
      try {
        return await out.next();
      } catch (err) {
        await input.cancel().catch(() => {});
        if (err instanceof ImageFormatError) throw err;
        if (/unexpected EOF/.test(describe(err))) throw damaged(codec, 'it ends in the middle of the compressed data', 'truncated');
        throw damaged(codec, describe(err));
      }
    },
    cancel: () => out.cancel(),
    ...(input.consumed ? { consumed: input.consumed } : {}),
  };
}

function describe(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/\.$/, '') || 'the data does not decode';
}

/** gzip (every member), raw deflate and zstd (every frame) through their push decoders. */
function pushStream(codec: 'gzip' | 'zstd' | 'deflate', input: ByteStream, expectCrc?: number): ByteStream {
  const queue: Uint8Array[] = [];
  let ended = false;
  let finished = false;
  // gzip and zip check what they inflate: a CRC-32 and length per member (or entry).
  const checked = codec !== 'zstd';
  let crc = 0;
  let length = 0;
  const recent = new RecentInput();
  // zstd frames are followed through their headers, so each frame's output meets its checksum when the frame ends.
  const frames = codec === 'zstd' ? new ZstdFrames() : undefined;
  let xxh: IHasher | undefined;
  // A frame shorter than fzstd's first read (18 bytes) is decoded with the next one, so its output cannot be told apart.
  let framesChecked = true;
  const ondata = (chunk: Uint8Array, final: boolean): void => {
    if (chunk.length) {
      queue.push(codec === 'zstd' ? chunk.slice() : chunk);
      if (xxh && framesChecked) xxh.update(queue[queue.length - 1]!);
      if (checked) {
        crc = crc32(chunk, crc);
        length += chunk.length;
      }
    }
    if (final) finished = true;
  };
  /** Compares the member that ended where input offset `end` is with its trailer (CRC-32, length mod 2^32). */
  const checkMember = (end: number): void => {
    const t = recent.at(end - 8, 8);
    if (!t) return;
    const want = (t[0]! | (t[1]! << 8) | (t[2]! << 16) | (t[3]! << 24)) >>> 0;
    const size = (t[4]! | (t[5]! << 8) | (t[6]! << 16) | (t[7]! << 24)) >>> 0;
    if (want !== crc || size !== length % 2 ** 32) throw damaged('gzip', 'a member’s checksum does not match its data');
    crc = 0;
    length = 0;
  };
  let decoder: Gunzip | Inflate | ZstdDecompress;
  if (codec === 'gzip') {
    const g = new Gunzip(ondata);
    g.onmember = (offset) => checkMember(offset);
    decoder = g;
  } else if (codec === 'deflate') decoder = new Inflate(ondata);
  else decoder = new ZstdDecompress((chunk, final) => ondata(chunk, Boolean(final)));
  const piece = Math.floor(PIECE[codec]);
  let pending: Uint8Array | null = null;
  return {
    async next() {
      while (!queue.length) {
        if (ended) return null;
        if (!pending || !pending.length) pending = await input.next();
        if (!pending) {
          ended = true;
          decoder.push(new Uint8Array(0), true);
          if (!finished && !queue.length) throw damaged(codec, 'it ends in the middle of the compressed data', 'truncated');
          if (codec === 'gzip') checkMember(recent.end);
          if (codec === 'deflate' && expectCrc !== undefined && crc !== expectCrc) {
            throw damaged(codec, 'the checksum of the unpacked file does not match the archive’s');
          }
          continue;
        }
        let p = pending.subarray(0, piece);
        let frameEnded = false;
        if (frames) {
          xxh ??= await xxhash64().then((h) => (h.init(), h));
          const r = frames.feed(p);
          p = p.subarray(0, r.used);
          frameEnded = r.frameEnded;
        }
        pending = pending.subarray(p.length);
        recent.add(p);
        decoder.push(p, false);
        if (frameEnded && xxh) {
          if (frames!.endedFrameBytes < 18) framesChecked = false;
          if (framesChecked && frames!.stored !== undefined && frames!.stored !== low32(xxh)) throw damaged('zstd', 'a frame’s checksum does not match its data');
          xxh.init();
        }
      }
      return queue.shift()!;
    },
    async cancel() {
      ended = true;
      queue.length = 0;
      await input.cancel();
    },
  };
}

/** The last 64 KiB of input, where a gzip member's trailer is found once the next member starts. */
class RecentInput {
  private buf = new Uint8Array(65536);
  /** Total bytes added. */
  end = 0;

  add(bytes: Uint8Array): void {
    for (const b of bytes.length > this.buf.length ? [bytes.subarray(bytes.length - this.buf.length)] : [bytes]) {
      const at = this.end % this.buf.length;
      const first = Math.min(b.length, this.buf.length - at);
      this.buf.set(b.subarray(0, first), at);
      this.buf.set(b.subarray(first), 0);
    }
    this.end += bytes.length;
  }

  /** Bytes [offset, offset+n) if still held. */
  at(offset: number, n: number): Uint8Array | undefined {
    if (offset < 0 || offset < this.end - this.buf.length || offset + n > this.end) return undefined;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.buf[(offset + i) % this.buf.length]!;
    return out;
  }
}

/** The error for what xz-embedded (or its wrapper) reported. */
function xzError(err: unknown): ImageFormatError {
  const m = describe(err);
  const code = Number(/error code (\d+)/.exec(m)?.[1]);
  // The wrapper reads past the end of a cut stream as a missing buffer; xz-embedded says XZ_BUF_ERROR (8).
  if (code === 8 || /undefined|null|byteLength/.test(m)) return damaged('xz', 'it ends in the middle of the compressed data', 'truncated');
  return damaged('xz', XZ_ERRORS[code] ?? m);
}

/** xz through xz-embedded in WebAssembly: driven directly where its module can be reached, else through its wrapper. */
function xzStream(input: ByteStream): ByteStream {
  let inner: ByteStream | null = null;
  let cancelled = false;
  const open = async (): Promise<ByteStream> => (inner ??= (await xzModuleExports()) ? xzDirect(input, (await xzModuleExports())!) : xzWrapped(input));
  return {
    async next() {
      if (cancelled) return null;
      return (await open()).next();
    },
    async cancel() {
      cancelled = true;
      if (inner) await inner.cancel();
      else await input.cancel();
    },
  };
}

/** What xz-embedded's WebAssembly module exports (the wrapper's own calls). */
interface XzExports {
  memory: WebAssembly.Memory;
  create_context(): number;
  destroy_context(ctx: number): void;
  supply_input(ctx: number, length: number): void;
  get_next_output(ctx: number): number;
}

/** The wrapper's statics: its module instance, and the lock it takes while a context lives. */
type XzStatics = {
  _moduleInstance?: WebAssembly.Instance;
  _moduleInstancePromise?: Promise<void>;
  _getModuleInstance?: () => Promise<void>;
  _contextMutex?: { acquire(): Promise<void>; release(): void };
};

/** The module's exports when the wrapper lets them be reached (it keeps them on its class); undefined otherwise. */
async function xzModuleExports(): Promise<XzExports | undefined> {
  const x = XzReadableStream as unknown as XzStatics;
  if (!x._moduleInstance && x._getModuleInstance) await (x._moduleInstancePromise ??= x._getModuleInstance());
  const e = x._moduleInstance?.exports as Partial<XzExports> | undefined;
  const fns = ['create_context', 'destroy_context', 'supply_input', 'get_next_output'] as const;
  return e && e.memory instanceof WebAssembly.Memory && fns.every((f) => typeof e[f] === 'function') && x._contextMutex ? (e as XzExports) : undefined;
}

// Decoded bytes gathered per read: the module gives 64 KiB per call.
const XZ_OUT_CHUNK = 1024 * 1024;

/**
 * xz-embedded driven without streams: each read supplies input and gathers output in plain calls. The wrapper's
 * ReadableStreams cost a Blink stream read per 64 KiB, whose garbage a long-lived worker collects only in full
 * collections. The context layout (six 32-bit words at its start: buffer size, input pointer, position and length,
 * output pointer and position) is the one the wrapper reads.
 */
function xzDirect(input: ByteStream, xz: XzExports): ByteStream {
  const lock = (XzReadableStream as unknown as XzStatics)._contextMutex!;
  let ctx = 0;
  let done = false;
  let pending: Uint8Array | null = null;
  let inputEnded = false;
  let stalled = 0;
  const words = () => new Uint32Array(xz.memory.buffer, ctx, 6);
  const dispose = (): void => {
    if (!ctx) return;
    xz.destroy_context(ctx);
    ctx = 0;
    lock.release();
  };
  return {
    async next() {
      if (done) return null;
      try {
        if (!ctx) {
          await lock.acquire();
          ctx = xz.create_context();
        }
        const out = new Uint8Array(XZ_OUT_CHUNK);
        let at = 0;
        while (at + words()[0]! <= out.length) {
          let w = words();
          if (w[2] === w[3]) {
            if (!pending?.length && !inputEnded) {
              pending = await input.next();
              inputEnded = !pending;
            }
            // Once the input has ended, the decoder is called with none, to give what it still holds.
            const n = Math.min(w[0]!, pending?.length ?? 0);
            if (n) new Uint8Array(xz.memory.buffer, w[1]!, n).set(pending!.subarray(0, n));
            xz.supply_input(ctx, n);
            pending = pending?.subarray(n) ?? null;
          }
          const r = xz.get_next_output(ctx);
          if (r !== 0 && r !== 1) throw new Error(`get_next_output failed with error code ${r}`);
          w = words();
          const got = w[5]!;
          out.set(new Uint8Array(xz.memory.buffer, w[4]!, got), at);
          at += got;
          w[5] = 0;
          // No input left and nothing more coming out: the stream was cut before its end.
          stalled = inputEnded && r === 0 && got === 0 ? stalled + 1 : 0;
          if (stalled > 1) throw damaged('xz', 'it ends in the middle of the compressed data', 'truncated');
          if (r === 1) {
            done = true;
            dispose();
            break;
          }
        }
        return at ? out.subarray(0, at) : null;
      } catch (err) {
        done = true;
        dispose();
        throw err instanceof ImageFormatError ? err : xzError(err);
      }
    },
    async cancel() {
      done = true;
      dispose();
      await input.cancel();
    },
  };
}

/** xz through the wrapper's ReadableStream: one output buffer per read. */
function xzWrapped(input: ByteStream): ByteStream {
  const source = new ReadableStream<Uint8Array>({
    async pull(c) {
      const chunk = await input.next();
      if (chunk) c.enqueue(chunk);
      else c.close();
    },
    cancel: () => input.cancel(),
  });
  const reader = new XzReadableStream(source).getReader();
  let done = false;
  return {
    async next() {
      for (;;) {
        if (done) return null;
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          done = true;
          throw xzError(err);
        }
        if (r.done) {
          done = true;
          return null;
        }
        if (r.value.length) return r.value;
      }
    },
    async cancel() {
      if (done) return;
      done = true;
      // Cancelling frees the decoder's context, which every other xz stream waits for.
      await reader.cancel().catch(() => {});
    },
  };
}

// xz-embedded's return codes, as the wrapper reports them.
const XZ_ERRORS: Record<number, string> = {
  2: 'it uses an integrity check Blockport does not know',
  3: 'the decoder ran out of memory',
  4: 'its dictionary is larger than the decoder allows',
  5: 'its stream header is not valid xz',
  6: 'it uses filters or options Blockport does not decode',
  7: 'its compressed data or a checksum is damaged',
};

// bzip2 blocks are at most 900 kB of input; a block is decoded once this much input (or the end) is at hand.
const BZIP2_BLOCK_INPUT = 25000 + 100000 * 9;
const BZIP2_OUT_CHUNK = 1024 * 1024;

/** bzip2 (every concatenated stream) through unbzip2-stream's block decoder, a block at a time. */
function bzip2Stream(input: ByteStream): ByteStream {
  const buffered: Uint8Array[] = [];
  let have = 0;
  let inputEnded = false;
  let blockSize = 0;
  let crc: number | null = 0;
  let streams = 0;
  let done = false;
  let cut = false;
  const nextBuffer = (): Uint8Array => {
    const b = buffered.shift();
    if (!b) {
      cut = true;
      throw new Error('input ended');
    }
    return b;
  };
  // The bit reader takes its first buffer when made, so it is made once input is at hand.
  let reader: BitReader | undefined;
  const bits = Object.defineProperty((n: number | null) => (reader ??= bitIterator(nextBuffer))(n), 'bytesRead', {
    get: () => reader?.bytesRead ?? 0,
  }) as BitReader;
  const queue: Uint8Array[] = [];
  let buf = new Uint8Array(BZIP2_OUT_CHUNK);
  let at = 0;
  const put = (byte: number): void => {
    buf[at++] = byte;
    if (at === buf.length) {
      queue.push(buf);
      buf = new Uint8Array(BZIP2_OUT_CHUNK);
      at = 0;
    }
  };
  let work: Int32Array | undefined;
  return {
    async next() {
      while (!queue.length) {
        if (done) return null;
        while (!inputEnded && have - bits.bytesRead < BZIP2_BLOCK_INPUT) {
          const c = await input.next();
          if (!c) inputEnded = true;
          else {
            buffered.push(c);
            have += c.length;
          }
        }
        if (inputEnded && have - bits.bytesRead <= 0 && !blockSize) {
          done = true;
          if (!streams) throw damaged('bzip2', 'it holds no compressed stream');
          break;
        }
        try {
          if (!blockSize) {
            blockSize = bzip2.header(bits);
            crc = 0;
            streams++;
            continue;
          }
          if (!work || work.length < blockSize * 100000) work = new Int32Array(blockSize * 100000);
          crc = bzip2.decompress(bits, put, work, blockSize * 100000, crc);
          if (crc === null) {
            // End of one stream: another may follow (parallel bzip2 writes many); byte-aligned padding is skipped.
            blockSize = 0;
            bits(null);
          }
        } catch (err) {
          done = true;
          if (cut) throw damaged('bzip2', 'it ends in the middle of the compressed data', 'truncated');
          throw damaged('bzip2', describe(err));
        }
        if (at >= BZIP2_OUT_CHUNK / 2 || (crc === null && at)) {
          queue.push(buf.subarray(0, at));
          buf = new Uint8Array(BZIP2_OUT_CHUNK);
          at = 0;
        }
      }
      if (!queue.length && at) {
        queue.push(buf.subarray(0, at));
        at = 0;
      }
      return queue.shift() ?? null;
    },
    async cancel() {
      done = true;
      buffered.length = 0;
      queue.length = 0;
      await input.cancel();
    },
  };
}
