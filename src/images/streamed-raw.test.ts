import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'fflate';
import { memorySource } from './byte-source.ts';
import { memoryStream, type ByteStream } from './byte-stream.ts';
import { openSteps, streamedImage, streamedRawImage, type StreamStep } from './streamed-raw.ts';
import { routeDisk } from './disk-route.ts';
import { BLOCK_SIZE, ImageFormatError } from './types.ts';
import { prng } from './testing/test-fixtures.ts';

// Byte comparison without the deep-equality walk, which is slow over MiBs.
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
const disks = new Map<string, Uint8Array>();
/** A disk of `blocks` blocks of seeded bytes (a run of zeros in the middle) and `tail` more bytes (made once per shape; read only). */
function diskOf(blocks: number, tail = 0): Uint8Array {
  const key = `${blocks}+${tail}`;
  let out = disks.get(key);
  if (out) return out;
  const rnd = prng(blocks);
  out = new Uint8Array(blocks * BLOCK_SIZE + tail);
  for (let i = 0; i < out.length; i++) out[i] = i >= BLOCK_SIZE * 6 && i < BLOCK_SIZE * 9 ? 0 : (rnd() * 256) | 0;
  disks.set(key, out);
  return out;
}
const gzipped = (bytes: Uint8Array) => memorySource(gzipSync(bytes, { level: 1 }));

describe('streamedRawImage: a raw disk read front to back out of its decompressor', () => {
  it('reads in order from one stream, skips forward by decoding, and starts again for a read behind it', async () => {
    const disk = diskOf(12, 1000);
    const file = gzipped(disk);
    const image = streamedRawImage(() => openSteps(file, [{ op: 'decode', codec: 'gzip' }]), disk.length);
    expect(image.blockCount).toBe(13);
    expect(same(await image.readBlocks(0, 2), disk.subarray(0, 2 * BLOCK_SIZE))).toBe(true);
    // Blocks 2–4 already acknowledged: decoded and dropped, not read back to the caller.
    expect(same(await image.readBlocks(5, 3), disk.subarray(5 * BLOCK_SIZE, 8 * BLOCK_SIZE))).toBe(true);
    expect(image.opened).toBe(1);
    // A read behind the stream (a resumed or paused pass) opens it again from the start.
    expect(same(await image.readBlocks(3, 1), disk.subarray(3 * BLOCK_SIZE, 4 * BLOCK_SIZE))).toBe(true);
    expect(image.opened).toBe(2);
    // The last block is zero-padded past the disk's end, and the stream is checked to end there.
    const tail = new Uint8Array(BLOCK_SIZE);
    tail.set(disk.subarray(12 * BLOCK_SIZE));
    const into = await image.readBlocksInto!(12, 1, new Uint8Array(BLOCK_SIZE).fill(9));
    expect(same(into, tail)).toBe(true);
    expect(image.opened).toBe(2);
  });

  it('holds at most one decoded piece ahead of what it was asked for, whatever the disk size', async () => {
    // 256 MiB made on the fly, 1 MiB at a time: the disk never exists whole in memory, here or in the reader.
    const size = 256 * 2 ** 20;
    const piece = 2 ** 20;
    let pulled = 0;
    const made = createHash('sha256');
    const source: ByteStream = {
      async next() {
        if (pulled >= size) return null;
        const c = new Uint8Array(piece);
        new DataView(c.buffer).setUint32(0, pulled / piece);
        c.fill(pulled / piece, 4);
        made.update(c);
        pulled += piece;
        return c;
      },
      async cancel() {},
    };
    const image = streamedRawImage(() => source, size);
    const read = createHash('sha256');
    let worstAhead = 0;
    const target = new Uint8Array(8 * BLOCK_SIZE);
    for (let first = 0; first < image.blockCount; first += 8) {
      const got = await image.readBlocksInto!(first, 8, target);
      read.update(got);
      worstAhead = Math.max(worstAhead, pulled - (first + 8) * BLOCK_SIZE);
    }
    expect(read.digest('hex')).toBe(made.digest('hex'));
    expect(worstAhead).toBeLessThanOrEqual(piece);
    expect(image.opened).toBe(1);
  });

  it('refuses a stream that ends before the size planned, or runs past it, with a sentence', async () => {
    const disk = diskOf(4);
    const short = streamedRawImage(() => memoryStream(disk), disk.length + BLOCK_SIZE, 'gzip file');
    const e1 = await short.readBlocks(0, 5).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ImageFormatError);
    expect((e1 as Error).message).toMatch(/The disk inside this gzip file is shorter than the 2621440 bytes planned, so the file changed/);
    const long = streamedRawImage(() => memoryStream(disk), disk.length - BLOCK_SIZE);
    const e2 = await long.readBlocks(0, 3).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/is longer than the 1572864 bytes planned/);
  });
});

describe('an xz of several blocks seeks where a resume begins', () => {
  // The fastest LZMA2 settings: what is tested is the block structure, and preset 1 spends seconds on random bytes.
  const xzOf = (bytes: Uint8Array, blockSize: string) =>
    new Uint8Array(execFileSync('xz', ['-c', '-T1', '--lzma2=preset=0,mode=fast,mf=hc3,nice=5,depth=1', `--block-size=${blockSize}`], { input: Buffer.from(bytes), maxBuffer: 1 << 28 }));
  /** A source that counts the bytes read from it. */
  const counted = (bytes: Uint8Array) => {
    const src = memorySource(bytes);
    const counter = { read: 0 };
    return { counter, source: { size: src.size, read: async (o: number, n: number) => { const b = await src.read(o, n); counter.read += b.length; return b; } } };
  };

  it('a read far into the disk starts at the block holding it (reading a quarter of the file), with the same bytes', async () => {
    const disk = diskOf(32);
    const { counter, source } = counted(xzOf(disk, '1MiB'));
    const steps = [{ op: 'decode', codec: 'xz', size: disk.length } as const];
    const image = streamedRawImage((from) => openSteps(source, steps, from), disk.length);
    const got = await image.readBlocks(24, 8);
    expect(same(got, disk.subarray(24 * BLOCK_SIZE))).toBe(true);
    expect(counter.read).toBeLessThan(source.size * 0.3);
    await image.close();
  });

  it('a single-block xz is decoded from its start, and a changed later block is still refused', async () => {
    const disk = diskOf(16);
    const one = counted(xzOf(disk, '64MiB'));
    const image = streamedRawImage((from) => openSteps(one.source, [{ op: 'decode', codec: 'xz', size: disk.length }], from), disk.length);
    expect(same(await image.readBlocks(12, 4), disk.subarray(12 * BLOCK_SIZE))).toBe(true);
    expect(one.counter.read).toBeGreaterThanOrEqual(one.source.size);
    await image.close();
    const bad = xzOf(disk, '1MiB');
    bad[Math.floor(bad.length * 0.8)]! ^= 0x40;
    const broken = streamedRawImage((from) => openSteps(memorySource(bad), [{ op: 'decode', codec: 'xz', size: disk.length }], from), disk.length);
    const err = await broken.readBlocks(12, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as Error).message).toMatch(/This xz file is damaged/);
    await broken.close();
  });
});

describe('a zstd file with a seek table (the seekable format) seeks where a resume begins', () => {
  const zstdOf = (bytes: Uint8Array) => new Uint8Array(execFileSync('zstd', ['-q', '-1', '-c'], { input: Buffer.from(bytes), maxBuffer: 1 << 28 }));
  /** Each `frame` bytes of the disk compressed as a frame of its own by the zstd CLI, then a seek table written here. */
  function seekable(disk: Uint8Array, frame: number, lie?: (entries: [number, number][]) => void): Uint8Array {
    const frames: Uint8Array[] = [];
    const entries: [number, number][] = [];
    for (let at = 0; at < disk.length; at += frame) {
      const z = zstdOf(disk.subarray(at, at + frame));
      frames.push(z);
      entries.push([z.length, Math.min(frame, disk.length - at)]);
    }
    lie?.(entries);
    // Skippable frame 0x184D2A5E: its size, an entry (compressed, decompressed) per frame, then the number of frames,
    // a descriptor with no checksums, and the seekable magic 0x8F92EAB1.
    const table = new DataView(new ArrayBuffer(8 + entries.length * 8 + 9));
    table.setUint32(0, 0x184d2a5e, true);
    table.setUint32(4, entries.length * 8 + 9, true);
    entries.forEach(([c, d], i) => (table.setUint32(8 + i * 8, c, true), table.setUint32(12 + i * 8, d, true)));
    table.setUint32(8 + entries.length * 8, entries.length, true);
    table.setUint8(12 + entries.length * 8, 0);
    table.setUint32(13 + entries.length * 8, 0x8f92eab1, true);
    return new Uint8Array(Buffer.concat([...frames, new Uint8Array(table.buffer)]));
  }
  const counted = (bytes: Uint8Array) => {
    const src = memorySource(bytes);
    const counter = { read: 0 };
    return { counter, source: { size: src.size, read: async (o: number, n: number) => { const b = await src.read(o, n); counter.read += b.length; return b; } } };
  };
  const steps = [{ op: 'decode', codec: 'zstd' } as const];

  it('a resume at block 24 of 32 decodes from the frame holding it (a quarter of the file read), with the bytes of the unpacked disk', async () => {
    const disk = diskOf(32);
    const file = seekable(disk, 2 ** 20);
    // The file is still one zstd stream the CLI reads whole, to the disk.
    expect(same(new Uint8Array(execFileSync('zstd', ['-d', '-q', '-c'], { input: Buffer.from(file), maxBuffer: 1 << 28 })), disk)).toBe(true);
    const { counter, source } = counted(file);
    const image = streamedRawImage((from) => openSteps(source, steps, from, disk.length), disk.length);
    const got = await image.readBlocks(24, 8);
    expect(same(got, disk.subarray(24 * BLOCK_SIZE))).toBe(true);
    expect(counter.read).toBeLessThan(file.length * 0.3);
    expect(image.opened).toBe(1);
    // A read from the start (a new pass) decodes everything, to the same disk.
    const all = await image.readBlocks(0, 32);
    expect(same(all, disk)).toBe(true);
    expect(counter.read).toBeGreaterThan(file.length);
    await image.close();
  });

  it('a mid-frame resume starts at that frame and drops what comes before the block asked for', async () => {
    const disk = diskOf(16, 1000);
    const { counter, source } = counted(seekable(disk, 3 * 2 ** 20));
    const image = streamedRawImage((from) => openSteps(source, steps, from, disk.length), disk.length);
    const tail = new Uint8Array(5 * BLOCK_SIZE);
    tail.set(disk.subarray(12 * BLOCK_SIZE));
    // Block 12 begins 1 MiB into the third frame (bytes 6–9 MiB).
    expect(same(await image.readBlocks(12, 5), tail)).toBe(true);
    expect(counter.read).toBeLessThan(source.size * 0.6);
    await image.close();
  });

  it('the route takes the disk size from the table instead of measuring, and a file that unpacks to another size is refused', async () => {
    const disk = diskOf(16);
    const route = await routeDisk(memorySource(seekable(disk, 2 ** 20)));
    expect(route).toMatchObject({ path: 'streamed', size: disk.length, measured: false });
    const lying = await routeDisk(memorySource(seekable(disk, 2 ** 20, (e) => (e.at(-1)![1] -= 4096))));
    expect(lying).toMatchObject({ path: 'streamed', size: disk.length - 4096, measured: false });
    const image = streamedImage(memorySource(seekable(disk, 2 ** 20, (e) => (e.at(-1)![1] -= 4096))), (lying as { steps: StreamStep[] }).steps, disk.length - 4096, 'zstd file');
    const err = await image.readBlocks(0, 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as Error).message).toMatch(/This zstd file is damaged/);
    await image.close();
  });

  it('a table that does not add up to the disk is ignored (decoded from the start), and one that lies about what its frames unpack to is refused', async () => {
    const disk = diskOf(16);
    const short = counted(seekable(disk, 2 ** 20, (e) => e.pop()));
    const image = streamedRawImage((from) => openSteps(short.source, steps, from, disk.length), disk.length);
    expect(same(await image.readBlocks(12, 4), disk.subarray(12 * BLOCK_SIZE))).toBe(true);
    expect(short.counter.read).toBeGreaterThanOrEqual(short.source.size - 200);
    await image.close();
    // The same total, but the first frame said to unpack to 512 KiB less and the last to 512 KiB more: a resume at
    // block 8 takes the frame that begins there for one that begins 512 KiB before. What follows unpacks to less than
    // the rest of the disk, and the pass is refused at its end (before the snapshot could be completed).
    const lying = seekable(disk, 2 ** 20, (e) => ((e[0]![1] -= 2 ** 19), (e.at(-1)![1] += 2 ** 19)));
    const misled = streamedRawImage((from) => openSteps(memorySource(lying), steps, from, disk.length), disk.length, 'zstd file');
    const err = await misled.readBlocks(8, 8).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as Error).message).toMatch(/zstd/);
    expect(misled.opened).toBe(1);
    await misled.close();
  });
});
