// Disk image readers: MiB of virtual disk per second through openImage in Node, against the raw reader on the same content.
import { openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import type { BenchRow } from './types.ts';
import { fileSource } from '../cli/node-source.ts';
import { openImage } from '../src/images/open-image.ts';
import { cached, prng, qemu } from '../fixtures/files.ts';
import { packStep, type PackStep } from '../fixtures/packing.ts';
import { CODEC_LABEL, decodeStream, type StreamCodec } from '../src/images/stream-decoders.ts';
import { sourceStream } from '../src/images/byte-stream.ts';
import { routeDisk } from '../src/images/disk-route.ts';
import { streamedImage } from '../src/images/streamed-raw.ts';
import { listZip, zipDataOffset } from '../src/images/zip.ts';
import { subSource } from '../src/images/byte-source.ts';

const MiB = 1024 * 1024;
const VIRTUAL_MIB = 256;
const BATCH = 16;

/** 256 MiB in 8 MiB stripes: a quarter random, half text of random words (compresses ~3:1), a quarter zeros. */
function mixedRaw(): string {
  return cached(`bench-mixed2-${VIRTUAL_MIB}.raw`, (p) => {
    const rnd = prng(256);
    const words = 'disk image block snapshot volume cluster grain sector table header footer upload worker browser bytes'.split(' ');
    const fd = openSync(p, 'w');
    try {
      ftruncateSync(fd, VIRTUAL_MIB * MiB);
      const stripe = Buffer.alloc(8 * MiB);
      for (let s = 0; s < VIRTUAL_MIB / 8; s++) {
        const kind = s % 4;
        if (kind === 3) continue;
        if (kind === 0) for (let i = 0; i < stripe.length; i += 4) stripe.writeUInt32LE(Math.floor(rnd() * 2 ** 32) >>> 0, i);
        else {
          let at = 0;
          while (at < stripe.length) at += stripe.write(`${words[Math.floor(rnd() * words.length)]}${rnd() < 0.1 ? '\n' : ' '}${Math.floor(rnd() * 1000)} `, at);
        }
        writeSync(fd, stripe, 0, stripe.length, s * 8 * MiB);
      }
    } finally {
      closeSync(fd);
    }
  });
}

async function readOnce(path: string): Promise<{ mibps: number; format: string }> {
  const src = await fileSource(path);
  try {
    const t0 = performance.now();
    const image = await openImage(src);
    for (let b = 0; b < image.blockCount; b += BATCH) await image.readBlocks(b, Math.min(BATCH, image.blockCount - b));
    const s = (performance.now() - t0) / 1000;
    return { mibps: image.virtualSize / MiB / s, format: image.subformat ? `${image.format} ${image.subformat}` : image.format };
  } finally {
    await src.close();
  }
}

// Decoders are timed on the first 64 MiB they give: bzip2 at a few MiB/s would otherwise dominate the run.
const DECODE_MIB = 64;

/** MiB of output per second a decoder gives reading the compressed file front to back, until DECODE_MIB. */
async function decodeOnce(path: string, codec: StreamCodec): Promise<number> {
  const src = await fileSource(path);
  try {
    const t0 = performance.now();
    // A zip's deflate entry is decoded where its data lies, as the route cuts it.
    let input = sourceStream(src);
    if (codec === 'deflate') {
      const e = (await listZip(src)).find((z) => z.method === 8)!;
      input = sourceStream(subSource(src, await zipDataOffset(src, e), e.compressedSize));
    }
    const out = decodeStream(codec, input);
    let n = 0;
    for (let c = await out.next(); c && n < DECODE_MIB * MiB; c = await out.next()) n += c.length;
    await out.cancel();
    return n / MiB / ((performance.now() - t0) / 1000);
  } finally {
    await src.close();
  }
}

/**
 * MiB of disk per second an upload worker reads out of a packed file (routed, then decoded front to back into blocks),
 * from block `from` to the end; a resume at half way decodes and drops the first half.
 */
async function streamOnce(path: string, half = false): Promise<number> {
  const src = await fileSource(path);
  try {
    const route = await routeDisk(src);
    if (route.path !== 'streamed') throw new Error(`${path} is ${route.path}, not streamed`);
    const t0 = performance.now();
    const image = streamedImage(src, route.steps, route.size);
    const from = half ? Math.floor(image.blockCount / 2) : 0;
    for (let b = from; b < image.blockCount; b += BATCH) await image.readBlocks(b, Math.min(BATCH, image.blockCount - b));
    await image.close();
    return ((image.blockCount - from) * 524288) / MiB / ((performance.now() - t0) / 1000);
  } finally {
    await src.close();
  }
}

export default async (): Promise<BenchRow[]> => {
  const raw = mixedRaw();
  const make = (name: string, args: string[]): string => cached(`bench-${VIRTUAL_MIB}-${name}`, (p) => qemu('qemu-img', ['convert', '-f', 'raw', raw, ...args, p]));
  const images: [string, string][] = [
    ['raw', raw],
    ['qcow2 (uncompressed)', make('plain.qcow2', ['-O', 'qcow2'])],
    ['qcow2 deflate', make('deflate.qcow2', ['-O', 'qcow2', '-c'])],
    ['qcow2 zstd', make('zstd.qcow2', ['-O', 'qcow2', '-c', '-o', 'compression_type=zstd'])],
    ['VMDK streamOptimized', make('stream.vmdk', ['-O', 'vmdk', '-o', 'subformat=streamOptimized'])],
  ];
  // Round 0 warms the page cache; rounds interleave the images so machine noise hits them alike; best round counts.
  const best = new Map<string, number>();
  for (let round = 0; round < 4; round++) {
    for (const [name, path] of images) {
      const r = await readOnce(path);
      if (round > 0) best.set(name, Math.max(best.get(name) ?? 0, r.mibps));
    }
  }
  const ceiling = best.get('raw')!;
  const packed: [StreamCodec, PackStep][] = [['gzip', 'gz'], ['xz', 'xz'], ['zstd', 'zst'], ['bzip2', 'bz2'], ['deflate', 'zip-deflate']];
  const decoded = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    for (const [codec, step] of packed) {
      const path = cached(`bench-${VIRTUAL_MIB}-mixed.${step}`, (p) => packStep(step, raw, p));
      const v = await decodeOnce(path, codec);
      if (round > 0) decoded.set(codec, Math.max(decoded.get(codec) ?? 0, v));
    }
  }
  const decoderRows: BenchRow[] = packed.map(([codec]) => ({
    group: 'images',
    name: `${CODEC_LABEL[codec]} decode, first ${DECODE_MIB} MiB of the same content`,
    value: decoded.get(codec)!,
    unit: 'MiB/s',
    ceiling: { name: 'raw read', value: ceiling },
    note: 'MiB of disk out per second, in Node',
  }));
  // What an upload worker does with a packed file: the raw disk (or a streamOptimized VMDK) decoded front to back into
  // blocks; and a resume at half way, which decodes the first half again to skip it, or for an xz of several blocks
  // starts at the block through its index (its figure counts only the half sent).
  const streamed: [string, string, boolean][] = [
    ['.raw.xz streamed into blocks', cached(`bench-${VIRTUAL_MIB}-mixed.xz`, (p) => packStep('xz', raw, p)), false],
    ['.raw.gz streamed into blocks', cached(`bench-${VIRTUAL_MIB}-mixed.gz`, (p) => packStep('gz', raw, p)), false],
    ['.raw.zst streamed into blocks', cached(`bench-${VIRTUAL_MIB}-mixed.zst`, (p) => packStep('zst', raw, p)), false],
    ['streamOptimized .vmdk.xz streamed into blocks', cached(`bench-${VIRTUAL_MIB}-stream.vmdk.xz`, (p) => packStep('xz', make('stream.vmdk', ['-O', 'vmdk', '-o', 'subformat=streamOptimized']), p)), false],
    ['.raw.gz resumed at half way (the first half decoded and dropped)', cached(`bench-${VIRTUAL_MIB}-mixed.gz`, (p) => packStep('gz', raw, p)), true],
    ['.raw.xz resumed at half way (4 MiB xz blocks: starts at the block through the index)', cached(`bench-${VIRTUAL_MIB}-mixed.xz`, (p) => packStep('xz', raw, p)), true],
  ];
  const streamedBest = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    for (const [name, path, half] of streamed) {
      const v = await streamOnce(path, half);
      if (round > 0) streamedBest.set(name, Math.max(streamedBest.get(name) ?? 0, v));
    }
  }
  // A resume's figure is against the same file streamed whole.
  const whole = (name: string): { name: string; value: number } => {
    const kind = name.slice(0, 7);
    const w = streamed.find(([n, , half]) => !half && n.startsWith(kind))![0];
    return { name: `${kind} streamed whole`, value: streamedBest.get(w)! };
  };
  const streamRows: BenchRow[] = streamed.map(([name, , half]) => ({
    group: 'images',
    name,
    value: streamedBest.get(name)!,
    unit: 'MiB/s',
    ceiling: half ? whole(name) : { name: 'raw read', value: ceiling },
    note: half ? 'MiB sent per second of the resumed run' : 'routed, then read in 16-block reads as an upload worker does, in Node',
  }));
  return [...images.map(([name]): BenchRow =>
    name === 'raw'
      ? { group: 'images', name: `raw read, ${VIRTUAL_MIB} MiB virtual, mixed content`, value: ceiling, unit: 'MiB/s', note: `${BATCH}-block reads` }
      : {
          group: 'images',
          name: `${name} read (same content)`,
          value: best.get(name)!,
          unit: 'MiB/s',
          ceiling: { name: 'raw read', value: ceiling },
          aim: name.includes('uncompressed') ? '≥ 0.8' : '≥ 0.1',
        },
  ), ...decoderRows, ...streamRows];
};
