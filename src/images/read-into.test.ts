// readBlocksInto reuses the caller's buffer: it must give the bytes readBlocks gives, whatever the buffer held before.
import { describe, expect, it } from 'vitest';
import { blobSource } from './blob-source.ts';
import { memorySource, readIntoFrom, subSource } from './byte-source.ts';
import { openRaw } from './raw.ts';
import { BLOCK_SIZE, Scanned } from './types.ts';
import { isAllZero, zeroScanner } from './zero-scan.ts';

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('readBlocksInto on raw images', () => {
  // 3 whole blocks and a short fourth.
  const data = pattern(3 * BLOCK_SIZE + 1234);

  it('gives the bytes of readBlocks in a buffer that held other bytes, the short tail zeroed', async () => {
    const img = openRaw(blobSource(new Blob([data])));
    let buf = new Uint8Array(4 * BLOCK_SIZE).fill(0xee);
    for (const [first, count] of [[0, 4], [2, 2], [3, 1], [1, 2]] as const) {
      const got = await img.readBlocksInto!(first, count, buf.fill(0xee));
      expect(got.length).toBe(count * BLOCK_SIZE);
      expect(same(got, await img.readBlocks(first, count))).toBe(true);
      buf = new Uint8Array(got.buffer as ArrayBuffer);
    }
    const tail = await img.readBlocksInto!(3, 1, new Uint8Array(BLOCK_SIZE).fill(0xee));
    expect(tail.subarray(1234).every((b) => b === 0)).toBe(true);
  });

  it('reads past the end of a blob as nothing, and through a sub-source only within it', async () => {
    const src = blobSource(new Blob([data]));
    expect((await src.readInto!(data.length + 10, new Uint8Array(16))).length).toBe(0);
    const sub = subSource(src, BLOCK_SIZE, 1000);
    const got = await readIntoFrom(sub, 990, new Uint8Array(64).fill(1));
    expect([...got]).toEqual([...data.subarray(BLOCK_SIZE + 990, BLOCK_SIZE + 1000)]);
  });

  it('falls back to a copy for sources that cannot read into a buffer', async () => {
    const got = await readIntoFrom(memorySource(data), 5, new Uint8Array(10));
    expect([...got]).toEqual([...data.subarray(5, 15)]);
  });
});

/**
 * A Blob whose stream() is a byte stream, as in browsers (Node 20's Blob streams are not), handing out `chunk` bytes
 * per pull: what blobSource's BYOB path runs on in Chromium, with the streams opened and cancelled counted.
 */
function byteStreamBlob(data: Uint8Array, chunk = 100_003): { blob: Blob; opened: [number, number][]; cancelled: () => number; failAt?: number } {
  const log = { opened: [] as [number, number][], cancels: 0, failAt: undefined as number | undefined };
  const make = (start: number, end: number): Blob =>
    ({
      size: end - start,
      slice: (a = 0, b = end - start) => make(start + Math.min(a, end - start), start + Math.min(b, end - start)),
      arrayBuffer: async () => data.slice(start, end).buffer,
      stream: () => {
        log.opened.push([start, end]);
        let pos = start;
        return new ReadableStream({
          type: 'bytes',
          pull(c) {
            if (log.failAt !== undefined && pos >= log.failAt) {
              c.error(new DOMException('The file changed.', 'NotReadableError'));
              return;
            }
            if (pos >= end) {
              c.close();
              c.byobRequest?.respond(0);
              return;
            }
            const n = Math.min(chunk, end - pos);
            c.enqueue(data.slice(pos, pos + n));
            pos += n;
          },
          cancel() {
            log.cancels++;
          },
        });
      },
    }) as unknown as Blob;
  const out = { blob: make(0, data.length), opened: log.opened, cancelled: () => log.cancels };
  Object.defineProperty(out, 'failAt', { set: (v: number | undefined) => (log.failAt = v), get: () => log.failAt });
  return out;
}

describe('blobSource over a byte stream (the browser path)', () => {
  const data = pattern(9 * BLOCK_SIZE + 777);
  const slice = 2 * BLOCK_SIZE;

  it('continues one stream while each read starts where the last ended, and gives the same bytes', async () => {
    const b = byteStreamBlob(data);
    const src = blobSource(b.blob);
    let buf = new Uint8Array(slice);
    let at = 0;
    while (at < data.length) {
      const got = await src.readInto!(at, buf.fill(0xee));
      expect(same(got, data.subarray(at, at + slice))).toBe(true);
      buf = new Uint8Array(got.buffer as ArrayBuffer, 0, slice);
      at += got.length;
    }
    expect(b.opened).toEqual([[0, data.length]]);
  });

  it('opens a stream where a read jumps to and cancels the one it leaves', async () => {
    const b = byteStreamBlob(data);
    const src = blobSource(b.blob);
    await src.readInto!(0, new Uint8Array(BLOCK_SIZE));
    const got = await src.readInto!(5 * BLOCK_SIZE, new Uint8Array(BLOCK_SIZE));
    expect(same(got, data.subarray(5 * BLOCK_SIZE, 6 * BLOCK_SIZE))).toBe(true);
    // Back to where the first stream stood: it was cancelled, so a third stream starts there.
    const back = await src.readInto!(BLOCK_SIZE, new Uint8Array(BLOCK_SIZE));
    expect(same(back, data.subarray(BLOCK_SIZE, 2 * BLOCK_SIZE))).toBe(true);
    expect(b.opened.map(([s]) => s)).toEqual([0, 5 * BLOCK_SIZE, BLOCK_SIZE]);
    expect(b.cancelled()).toBe(2);
  });

  it('gives reads made while another is under way a stream of their own, each with its own bytes', async () => {
    const b = byteStreamBlob(data, 65536);
    const src = blobSource(b.blob);
    const offsets = [0, 3 * BLOCK_SIZE, 6 * BLOCK_SIZE];
    const got = await Promise.all(offsets.map((o) => src.readInto!(o, new Uint8Array(slice))));
    offsets.forEach((o, k) => expect(same(got[k]!, data.subarray(o, o + slice))).toBe(true));
    expect(b.opened.length).toBe(3);
    // The one-off streams were bounded to their reads; the shared one continues at 2 blocks.
    expect(b.opened.slice(1).map(([s, e]) => e - s)).toEqual([slice, slice]);
    const next = await src.readInto!(slice, new Uint8Array(BLOCK_SIZE));
    expect(same(next, data.subarray(slice, slice + BLOCK_SIZE))).toBe(true);
    expect(b.opened.length).toBe(3);
  });

  it('never reads again from a stream that failed', async () => {
    const b = byteStreamBlob(data, 65536);
    const src = blobSource(b.blob);
    await src.readInto!(0, new Uint8Array(BLOCK_SIZE));
    b.failAt = BLOCK_SIZE;
    await expect(src.readInto!(BLOCK_SIZE, new Uint8Array(BLOCK_SIZE))).rejects.toThrow(/file changed/);
    b.failAt = undefined;
    const got = await src.readInto!(BLOCK_SIZE, new Uint8Array(BLOCK_SIZE));
    expect(same(got, data.subarray(BLOCK_SIZE, 2 * BLOCK_SIZE))).toBe(true);
    expect(b.opened.map(([s]) => s)).toEqual([0, BLOCK_SIZE]);
  });

  it('tells `landed` of every byte it returns, in order, as views of the bytes themselves', async () => {
    const b = byteStreamBlob(data, 70_001);
    const src = blobSource(b.blob);
    const pieces: [number, number][] = [];
    const got = await src.readInto!(BLOCK_SIZE, new Uint8Array(3 * BLOCK_SIZE), (bytes, at) => {
      pieces.push([at, bytes.length]);
      expect(same(bytes, data.subarray(BLOCK_SIZE + at, BLOCK_SIZE + at + bytes.length))).toBe(true);
    });
    expect(got.length).toBe(3 * BLOCK_SIZE);
    let next = 0;
    for (const [at, n] of pieces) {
      expect(at).toBe(next);
      next += n;
    }
    expect(next).toBe(got.length);
  });
});

describe('zero scan while reading', () => {
  // Blocks: data, zero, a single nonzero byte at the very end, zero, and a short tail with data.
  const img = new Uint8Array(4 * BLOCK_SIZE + 1000);
  img.set(pattern(BLOCK_SIZE), 0);
  img[3 * BLOCK_SIZE - 1] = 1;
  img[4 * BLOCK_SIZE + 999] = 9;
  const truth = (bytes: Uint8Array, first: number, count: number) =>
    Array.from({ length: count }, (_, k) => (isAllZero(bytes.subarray((first + k) * BLOCK_SIZE, (first + k + 1) * BLOCK_SIZE)) ? Scanned.AllZero : Scanned.NonZero));

  it('marks each block as the bytes land in odd-sized pieces (byte streams) and in one piece (the fallback)', async () => {
    for (const blob of [byteStreamBlob(img, 99_991).blob, new Blob([img])]) {
      const raw = openRaw(blobSource(blob));
      for (const [first, count] of [[0, 5], [1, 3], [4, 1]] as const) {
        const scanned = new Uint8Array(count);
        const got = await raw.readBlocksInto!(first, count, new Uint8Array(count * BLOCK_SIZE).fill(7), scanned);
        expect([...scanned]).toEqual(truth(img, first, count));
        expect(same(got, await raw.readBlocks(first, count))).toBe(true);
      }
    }
  });

  it('leaves every block NotScanned when the reader did not show it every byte', () => {
    const scanned = new Uint8Array(2);
    const scan = zeroScanner(scanned, 2 * BLOCK_SIZE);
    scan.landed(new Uint8Array(BLOCK_SIZE), 0);
    scan.finish(2 * BLOCK_SIZE);
    expect([...scanned]).toEqual([Scanned.NotScanned, Scanned.NotScanned]);
  });
});

/**
 * A Blob whose BYOB reader honours read(view, { min }) as Chromium's does: it fills at least `min` bytes before it
 * answers, and answers the read that reaches the end of the blob with its last bytes and done: true.
 */
function minReaderBlob(data: Uint8Array, chunk = 70_001): { blob: Blob; mins: number[] } {
  const mins: number[] = [];
  const make = (start: number, end: number): Blob =>
    ({
      size: end - start,
      slice: (a = 0, b = end - start) => make(start + Math.min(a, end - start), start + Math.min(b, end - start)),
      arrayBuffer: async () => data.slice(start, end).buffer,
      stream: () => ({
        getReader: () => {
          let pos = start;
          return {
            async read(view: Uint8Array, options?: { min?: number }) {
              const min = options?.min ?? 1;
              mins.push(min);
              // The caller's buffer is handed back as a new one, as a transfer would.
              const { byteOffset, byteLength } = view;
              const moved = structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
              const out = new Uint8Array(moved, byteOffset, byteLength);
              let filled = 0;
              while (filled < min && pos < end) {
                const n = Math.min(chunk, end - pos, byteLength - filled);
                out.set(data.subarray(pos, pos + n), filled);
                filled += n;
                pos += n;
              }
              return { value: out.subarray(0, filled), done: pos >= end };
            },
            cancel: async () => undefined,
          };
        },
      }),
    }) as unknown as Blob;
  return { blob: make(0, data.length), mins };
}

describe('blobSource with read(view, { min })', () => {
  const data = pattern(5 * BLOCK_SIZE + 999);

  it('asks for a whole block per read (less near the end) and keeps the bytes of the read that ends the stream', async () => {
    // Chunks of a quarter block, so a read fills exactly what it asked for.
    const b = minReaderBlob(data, BLOCK_SIZE / 4);
    const src = blobSource(b.blob);
    const landedAt: number[] = [];
    let buf = new Uint8Array(2 * BLOCK_SIZE);
    let at = 0;
    while (at < data.length) {
      const got = await src.readInto!(at, buf.fill(0xee), (bytes, offset) => landedAt.push(offset, bytes.length));
      expect(same(got, data.subarray(at, at + 2 * BLOCK_SIZE))).toBe(true);
      buf = new Uint8Array(got.buffer as ArrayBuffer, 0, 2 * BLOCK_SIZE);
      at += got.length;
    }
    expect(at).toBe(data.length);
    // The last read asks for no more than what the caller wants, the tail of 999 bytes, and ends the stream.
    expect(b.mins).toEqual([BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE, 999]);
    // Every byte landed once, block by block.
    expect(landedAt.filter((_, k) => k % 2 === 1).reduce((x, y) => x + y, 0)).toBe(data.length);
  });
});
