import type { ByteSource } from './types.ts';

/** Bytes read once, front to back: a decompressor's output, or a file read in order. */
export interface ByteStream {
  /** The next bytes (never empty), or null at the end. */
  next(): Promise<Uint8Array | null>;
  /** Stops reading and frees what the stream holds (a decoder's memory, a file's reader). */
  cancel(): Promise<void>;
  /** Bytes of input consumed so far (for progress against the compressed file's size). */
  readonly consumed?: () => number;
  /** Where in what it gives the stream begins, when it was opened part way (a seek); 0 when absent. */
  readonly start?: () => Promise<number>;
}

// Large reads keep the per-read cost of a Blob or a file descriptor small against the bytes moved.
const READ_CHUNK = 4 * 1024 * 1024;

/** Reads [from, to) of a random-access source in order. */
export function sourceStream(source: ByteSource, from = 0, to = source.size, chunk = READ_CHUNK): ByteStream {
  let at = from;
  return {
    async next() {
      if (at >= to) return null;
      const bytes = await source.read(at, Math.min(chunk, to - at));
      if (bytes.length === 0) return null;
      at += bytes.length;
      return bytes;
    },
    async cancel() {
      at = to;
    },
    consumed: () => at - from,
  };
}

/** A stream over bytes in memory, cut into chunks of the given size (tests, fuzzing). */
export function memoryStream(bytes: Uint8Array, chunk = 65536): ByteStream {
  let at = 0;
  return {
    async next() {
      if (at >= bytes.length) return null;
      const out = bytes.subarray(at, Math.min(bytes.length, at + chunk));
      at += out.length;
      return out;
    },
    async cancel() {
      at = bytes.length;
    },
    consumed: () => at,
  };
}

/** Reads the first `n` bytes of a stream (fewer if it ends) and a stream that gives them again, then the rest. */
export async function peek(stream: ByteStream, n: number): Promise<{ head: Uint8Array; stream: ByteStream }> {
  const parts: Uint8Array[] = [];
  let have = 0;
  while (have < n) {
    const c = await stream.next();
    if (!c) break;
    parts.push(c);
    have += c.length;
  }
  const head = concat(parts, have).subarray(0, Math.min(n, have));
  let replay: Uint8Array[] = parts;
  return {
    head,
    stream: {
      async next() {
        const c = replay.shift();
        return c ?? stream.next();
      },
      async cancel() {
        replay = [];
        await stream.cancel();
      },
      ...(stream.consumed ? { consumed: stream.consumed } : {}),
    },
  };
}

/** Joins chunks into one buffer of `length` bytes. */
export function concat(parts: Uint8Array[], length = parts.reduce((s, p) => s + p.length, 0)): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === length) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, length - at), at);
    at += p.length;
    if (at >= length) break;
  }
  return out;
}

/** Reads a whole stream into memory (tests and small streams only). */
export async function readAll(stream: ByteStream, limit = 2 ** 31): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let c = await stream.next(); c; c = await stream.next()) {
    parts.push(c);
    n += c.length;
    if (n > limit) throw new RangeError(`stream longer than ${limit} bytes`);
  }
  return concat(parts, n);
}

/** Reads a stream in pieces of the caller's choosing, front to back. */
export class StreamReader {
  /** Bytes taken or skipped so far. */
  pos = 0;
  private pending: Uint8Array | null = null;
  constructor(
    private readonly stream: ByteStream,
    /** Told after each piece is pulled from the stream (progress). */
    private readonly pulled: () => void = () => {},
  ) {}

  private async piece(): Promise<Uint8Array | null> {
    if (this.pending?.length) return this.pending;
    this.pending = await this.stream.next();
    this.pulled();
    return this.pending;
  }

  /**
   * Up to n bytes (fewer only where the stream ends). Without `copy`, bytes within one piece are a view of it (valid
   * until the stream is read again, and keeping the piece alive while held).
   */
  async take(n: number, copy = true): Promise<Uint8Array> {
    const first = await this.piece();
    if (!first) return new Uint8Array(0);
    if (first.length >= n) {
      const t = first.subarray(0, n);
      this.pending = first.subarray(n);
      this.pos += n;
      return copy ? t.slice() : t;
    }
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const c = await this.piece();
      if (!c) break;
      const t = c.subarray(0, n - have);
      parts.push(t);
      have += t.length;
      this.pending = c.subarray(t.length);
    }
    this.pos += have;
    // Pieces already passed are not read again, so joining them copies once.
    return concatCopy(parts, have);
  }

  /** Skips up to n bytes; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let done = 0;
    while (done < n) {
      const c = await this.piece();
      if (!c) break;
      const t = Math.min(c.length, n - done);
      done += t;
      this.pending = c.subarray(t);
    }
    this.pos += done;
    return done;
  }
}

function concatCopy(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}
