import { BLOCK_SIZE, type ByteSource, type Landed } from './types.ts';

/** Bytes a read waits for before it returns, where the browser supports `min`: one block. */
const FILL = BLOCK_SIZE;

/** A BYOB reader with the `min` option of read() (Streams standard; TypeScript's DOM types lack it). */
type MinReader = ReadableStreamBYOBReader & {
  read<T extends ArrayBufferView>(view: T, options: { min: number }): Promise<ReadableStreamReadResult<T>>;
};

/** An open BYOB reader over [.., end) of the blob, positioned at pos. */
interface OpenStream {
  reader: MinReader;
  pos: number;
  end: number;
}

/** A ByteSource over a Blob or File (browser and Node 20 alike). */
export function blobSource(blob: Blob): ByteSource {
  // Set once a BYOB reader turns out to be unavailable (Node 20's Blob streams are not byte streams).
  let noByob = false;
  // Sequential reads continue one stream: opening a stream per read costs more than the read itself at 4–16 MiB
  // (Chromium: one worker reading 16 MiB slices through a stream each, 550–860 MiB/s; the same bytes through one
  // stream in 4 MiB reads, 1100–1340). A read elsewhere cancels it and opens another, to the end of the blob.
  let open: OpenStream | null = null;
  let busy = false;

  const startAt = (offset: number, end: number): OpenStream | null => {
    if (noByob) return null;
    try {
      return { reader: blob.slice(offset, end).stream().getReader({ mode: 'byob' }) as MinReader, pos: offset, end };
    } catch {
      noByob = true;
      return null;
    }
  };

  const drop = (s: OpenStream | null) => {
    if (!s) return;
    // Cancelling tells the browser to stop reading ahead; its promise only reports that.
    s.reader.cancel().catch(() => undefined);
  };

  // Fills target[0, length) from s; returns the buffer the last read handed back and the bytes read.
  const fill = async (s: OpenStream, target: Uint8Array, length: number, landed?: Landed): Promise<{ buffer: ArrayBuffer; got: number }> => {
    let buffer = target.buffer as ArrayBuffer;
    const base = target.byteOffset;
    let got = 0;
    while (got < length) {
      const view = new Uint8Array(buffer, base + got, length - got);
      // `min` asks for a whole block per read where the browser supports it (others ignore it and hand over what
      // the file's pipe holds, 64–512 KiB): a fifth as many reads, and half the stream objects left for collection.
      const { value, done } = await s.reader.read(view, { min: Math.min(FILL, view.length) });
      if (value) {
        buffer = value.buffer as ArrayBuffer;
        // A read that ends the stream may still carry bytes.
        if (value.byteLength) {
          landed?.(value, got);
          got += value.byteLength;
          s.pos += value.byteLength;
        }
      }
      if (done) {
        s.end = s.pos;
        break;
      }
    }
    return { buffer, got };
  };

  return {
    size: blob.size,
    async read(offset, length) {
      const end = Math.min(blob.size, offset + length);
      if (offset >= end) return new Uint8Array(0);
      return new Uint8Array(await blob.slice(offset, end).arrayBuffer());
    },
    slice: (offset, end) => blob.slice(offset, end),
    async readInto(offset, target, landed) {
      const end = Math.min(blob.size, offset + target.length);
      if (offset >= end) return target.subarray(0, 0);
      const length = end - offset;
      // A read while another is under way gets a stream of its own, closed when it is done.
      const shared = !busy;
      let s: OpenStream | null;
      if (shared && open && open.pos === offset && open.end > offset) s = open;
      else {
        if (shared) {
          drop(open);
          open = null;
        }
        s = startAt(offset, shared ? blob.size : end);
      }
      if (!s) {
        target.set(new Uint8Array(await blob.slice(offset, end).arrayBuffer()));
        const out = target.subarray(0, length);
        landed?.(out, 0);
        return out;
      }
      if (shared) {
        busy = true;
        open = s;
      }
      try {
        const { buffer, got } = await fill(s, target, length, landed);
        return new Uint8Array(buffer, target.byteOffset, got);
      } catch (err) {
        // A failed stream (the file changed, say) is not read from again.
        if (open === s) open = null;
        drop(s);
        throw err;
      } finally {
        if (shared) busy = false;
        if (!shared || s.pos >= s.end) {
          if (open === s) open = null;
          drop(s);
        }
      }
    },
  };
}
