// How the disk inside a packed file will be read: in place, streamed out of its decompressor, or unpacked first.
// Decided from the containers' own headers, by content; a stream whose size nothing declares is measured once.
import { memorySource } from './byte-source.ts';
import { concat, StreamReader, type ByteStream } from './byte-stream.ts';
import { detectContainer, type ContainerKind } from './container-magic.ts';
export { chainLabel } from './container-magic.ts';
import { chooseDisk, isOva, MAX_NESTING, tooDeep, type Candidate } from './containers.ts';
import { detectFormat } from './open-image.ts';
import { isTarFile, isTarHeader, listTar, MAX_TAR_ENTRIES, parseTarHeader, tarDamaged, tarExtension } from './ova.ts';
import { openSteps, type StreamStep } from './streamed-raw.ts';
import { CODEC_LABEL } from './stream-decoders.ts';
import { corrupt, MAX_VIRTUAL_SIZE } from './byte-source.ts';
import { ImageFormatError, type ByteSource, type ImageFormat } from './types.ts';
import { xzDeclaredSize } from './xz-index.ts';
import { fixedVhdDiskSize } from './vhd.ts';
import { zstdSeekTable } from './zstd-frames.ts';
import { parseVmdkDescriptor, refuseVmdkDescriptor } from './vmdk-descriptor.ts';
import { streamVmdkHeader } from './vmdk-stream.ts';
import { listZip, zipDataOffset, zipDamaged } from './zip.ts';

const HEAD = 4096;
// A VMDK's embedded descriptor is at most this long (as openVmdk reads it).
const MAX_DESCRIPTOR = 1024 * 1024;
const MiB = 2 ** 20;

/** Where the disk of a picked file is, and how it will be read. */
export type DiskRoute =
  /** The file is the disk. */
  | { path: 'direct' }
  /** The disk lies in the file as is (a tar entry, a stored zip entry): read at random where it is. */
  | { path: 'in-place'; container: ContainerKind[]; notices: string[]; offset: number; length: number }
  /**
   * A raw disk or a streamOptimized VMDK inside a compressed stream: decoded front to back (a VMDK grain by grain),
   * blocks sent as they come.
   */
  | { path: 'streamed'; container: ContainerKind[]; notices: string[]; steps: StreamStep[]; size: number; measured: boolean; format: 'raw' | 'vmdk' }
  /**
   * A disk that must be read at random inside a compressed stream (qcow2, VHD(X), VDI, VMDK, OVA, or anything inside a
   * zip that is itself compressed): unpacked to storage first. `format` and `virtualSize` are read from the disk's
   * first bytes where they tell; `unpackedSize` is what the storage will hold, when the containers declare it.
   */
  | { path: 'unpacked'; container: ContainerKind[]; notices: string[]; format?: ImageFormat; virtualSize?: number; unpackedSize?: number };

/** The packing a job records (what resuming needs to reach the disk the same way). */
export type Packing =
  | { path: 'in-place'; container: ContainerKind[]; offset: number; length: number }
  | { path: 'streamed'; container: ContainerKind[]; steps: StreamStep[]; size: number }
  | { path: 'unpacked'; container: ContainerKind[] };

export interface RouteOptions {
  /** Told of a pass over a stream (measuring its size, listing a tar inside it): the share of the file read (0–1). */
  progress?: (fraction: number) => void;
}

/**
 * Finds the disk inside a picked file by content (nesting up to MAX_NESTING) and says how it will be read. Nothing is
 * stored; a compressed stream is decoded only to read its first bytes, or once whole when its size or its tar listing
 * is needed and no header declares it.
 */
export async function routeDisk(file: ByteSource, opts: RouteOptions = {}): Promise<DiskRoute> {
  const container: ContainerKind[] = [];
  const notices: string[] = [];
  // While nothing is compressed the disk is a range of the file; after the first decoder, a stream of steps.
  let random: ByteSource | null = file;
  let range = { offset: 0, length: file.size };
  const steps: StreamStep[] = [];
  let size: number | undefined = file.size;
  // Bytes the first decoded stream holds, when known: what unpacking it would store.
  let unpackedSize: number | undefined;
  let head: Uint8Array;
  const progress = (s: ByteStream) => () => opts.progress?.((s.consumed?.() ?? 0) / Math.max(1, range.length));
  for (;;) {
    head = random ? await random.read(0, Math.min(random.size, HEAD)) : await streamHead(openSteps(file, steps));
    const kind = detectContainer(head);
    if (!kind) break;
    if (kind === 'tar' && random && (await isOva(random))) break;
    if (container.length >= MAX_NESTING) throw tooDeep(container, kind);
    container.push(kind);
    if (random) {
      const src: ByteSource = random;
      if (kind === 'tar') {
        const entries = await listTar(src, true);
        const pick = await chooseEntry(
          entries.map((e) => ({ name: e.name, size: e.size, head: () => src.read(e.offset, Math.min(e.size, HEAD)), offset: e.offset })),
          'tar',
          notices,
        );
        range = { offset: range.offset + pick.offset, length: pick.size };
        size = pick.size;
        random = { size: pick.size, read: (o, n) => src.read(pick.offset + o, Math.min(n, pick.size - o)) };
      } else if (kind === 'zip') {
        const entries = await listZip(src);
        const pick = await chooseEntry(
          entries.map((e) => ({ name: e.name, size: e.size, entry: e, ...(e.method === 0 ? { head: async () => src.read(await zipDataOffset(src, e), Math.min(e.size, HEAD)) } : {}) })),
          'zip',
          notices,
        );
        const e = pick.entry;
        const data = await zipDataOffset(src, e);
        if (e.method === 0) {
          if (e.compressedSize !== e.size) throw zipDamaged(`the stored file "${e.name}" gives two different sizes`);
          range = { offset: range.offset + data, length: e.size };
          size = e.size;
          random = { size: e.size, read: (o, n) => src.read(data + o, Math.min(n, e.size - o)) };
        } else if (e.method === 8) {
          steps.push({ op: 'range', offset: range.offset + data, length: e.compressedSize }, { op: 'decode', codec: 'deflate', crc: e.crc, size: e.size, name: `"${e.name}"` });
          range = { offset: range.offset + data, length: e.compressedSize };
          size = unpackedSize = e.size;
          random = null;
        } else {
          throw new ImageFormatError(
            `This zip archive compresses "${e.name}" with method ${e.method}; Blockport unpacks stored and deflate entries. Extract it with \`unzip\` or 7-Zip and pick the disk file.`,
            undefined,
            'unsupported',
          );
        }
      } else {
        // xz says in its index what it unpacks to, a zstd file in the seekable format in its seek table (the decoder
        // is held to either); the others are measured if their size is needed.
        size = kind === 'xz' ? await xzDeclaredSize(src) : kind === 'zstd' ? (await zstdSeekTable(src).catch(() => undefined))?.total : undefined;
        unpackedSize = size;
        steps.push({ op: 'range', ...range }, { op: 'decode', codec: kind, ...(size !== undefined ? { size } : {}) });
        random = null;
      }
    } else if (kind === 'zip') {
      // A zip's directory is at its end: a zip inside a compressed stream is unpacked to be read.
      return { path: 'unpacked', container, notices, ...(unpackedSize !== undefined ? { unpackedSize } : {}) };
    } else if (kind === 'tar') {
      const stream = openSteps(file, steps);
      const listing = await surveyTar(stream, progress(stream));
      unpackedSize ??= listing.total;
      if (listing.entries.some((e) => /\.ovf$/i.test(e.name))) return { path: 'unpacked', container, notices, format: 'ova', unpackedSize };
      const pick = await chooseEntry(listing.entries, 'tar', notices);
      steps.push({ op: 'range', offset: pick.offset, length: pick.size, name: pick.name });
      size = pick.size;
    } else {
      steps.push({ op: 'decode', codec: kind });
      size = undefined;
    }
  }
  if (random) return container.length ? { path: 'in-place', container, notices, ...range } : { path: 'direct' };
  // Refusals by content (LUKS, 7-Zip, unreadable VMDK layouts) come before anything is unpacked.
  const format = await detectFormat(memorySource(head));
  const vmdk = format === 'vmdk' ? streamVmdkHeader(head) : undefined;
  if (vmdk) {
    // Its markers say where each grain goes, so it is read in order too; its descriptor is judged before anything starts.
    if (vmdk.descriptor.length > MAX_DESCRIPTOR) throw corrupt('vmdk', `its embedded descriptor claims ${vmdk.descriptor.length / 512} sectors`);
    if (vmdk.descriptor.length > 0) {
      const d = (await streamHead(openSteps(file, steps), vmdk.descriptor.offset + vmdk.descriptor.length)).subarray(vmdk.descriptor.offset);
      const text = new TextDecoder('latin1').decode(d);
      if (text.replace(/\0/g, '').trim()) refuseVmdkDescriptor(parseVmdkDescriptor(text), false);
    }
    steps.push({ op: 'vmdk' });
    return { path: 'streamed', container, notices, steps, size: vmdk.capacity, measured: false, format: 'vmdk' };
  }
  if (format !== 'raw') {
    const virtualSize = headerVirtualSize(format, head);
    return { path: 'unpacked', container, notices, format, ...(virtualSize !== undefined ? { virtualSize } : {}), ...(unpackedSize !== undefined ? { unpackedSize } : {}) };
  }
  let measured = false;
  let tail: Uint8Array | undefined;
  if (size === undefined) {
    const stream = openSteps(file, steps);
    const codec = steps.findLast((st) => st.op === 'decode')!;
    const whole = await measure(stream, progress(stream), codec.op === 'decode' ? CODEC_LABEL[codec.codec] : 'packed');
    size = whole.size;
    tail = whole.tail;
    measured = true;
  } else {
    tail = await streamTail(file, steps, size);
  }
  // A fixed VHD is a raw disk with a 512-byte footer after it, which only the stream's end shows: when the end was
  // seen (the pass that measured the stream, or a seek to its last block), the footer is left out, as when the .vhd
  // is picked unpacked.
  const disk = tail && fixedVhdDiskSize(tail, size);
  if (disk !== undefined) {
    steps.push({ op: 'range', offset: 0, length: disk, name: 'the fixed VHD' });
    notices.push(`The disk is a fixed VHD: its ${size - disk} bytes after the disk (the VHD footer) are not part of it and are not sent.`);
    size = disk;
  }
  return { path: 'streamed', container, notices, steps, size, measured, format: 'raw' };
}

/** Decoded at most this far to read a stream's last bytes (about one xz block of `xz -T0`, a few zstd frames). */
const TAIL_REACH = 64 * MiB;

/**
 * The last 512 bytes of a stream of `size` bytes, when they can be reached by decoding at most TAIL_REACH: the stream
 * is small, or it seeks (an xz file of several blocks, a zstd file with a seek table). Undefined otherwise; a damaged
 * stream is left for the upload to refuse.
 */
async function streamTail(file: ByteSource, steps: readonly StreamStep[], size: number): Promise<Uint8Array | undefined> {
  if (size < 1024) return undefined;
  const stream = openSteps(file, steps, size - 512, size);
  try {
    const begin = stream.start ? await stream.start() : 0;
    if (size - begin > TAIL_REACH) return undefined;
    const tail = new Uint8Array(512);
    let at = begin;
    for (let c = await stream.next(); c && at < size; c = await stream.next()) {
      keepTail(tail, c.subarray(0, size - at));
      at += c.length;
    }
    return at >= size ? tail : undefined;
  } catch {
    return undefined;
  } finally {
    await stream.cancel().catch(() => undefined);
  }
}

/** The packing to record for a route (undefined for a bare disk). */
export function packingOf(route: DiskRoute): Packing | undefined {
  switch (route.path) {
    case 'direct':
      return undefined;
    case 'in-place':
      return { path: 'in-place', container: route.container, offset: route.offset, length: route.length };
    case 'streamed':
      return { path: 'streamed', container: route.container, steps: route.steps, size: route.size };
    case 'unpacked':
      return { path: 'unpacked', container: route.container };
  }
}

/** chooseDisk over entries that carry what the route needs of the one chosen; its notice joins `notices`. */
async function chooseEntry<T extends Omit<Candidate, 'open'>>(entries: T[], kind: 'tar' | 'zip', notices: string[]): Promise<T> {
  let chosen: T | undefined;
  const pick = await chooseDisk(
    entries.map((e) => ({ ...e, open: async () => ((chosen = e), memorySource(new Uint8Array(0))) })),
    kind,
  );
  await pick.open();
  if (pick.notice) notices.push(pick.notice);
  return chosen!;
}

/** The first `n` bytes of a stream (fewer if it is shorter); the stream is stopped after. */
async function streamHead(stream: ByteStream, n = HEAD): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let have = 0;
  try {
    while (have < n) {
      const c = await stream.next();
      if (!c) break;
      parts.push(c.slice(0, n - have));
      have += Math.min(c.length, n - have);
    }
  } finally {
    await stream.cancel().catch(() => undefined);
  }
  return concat(parts, have);
}

/** Decodes a whole stream to count its bytes (nothing is kept), bounded by the 64 TiB disk limit. */
async function measure(stream: ByteStream, progress: () => void, label: string): Promise<{ size: number; tail: Uint8Array }> {
  let n = 0;
  // The last 512 bytes seen (where a fixed VHD keeps its footer).
  const tail = new Uint8Array(512);
  try {
    for (let c = await stream.next(); c; c = await stream.next()) {
      n += c.length;
      keepTail(tail, c);
      if (n > MAX_VIRTUAL_SIZE) {
        throw new ImageFormatError(
          `This ${label} file unpacks to more than 64 TiB, more than any EBS snapshot can hold; it is not a disk image Blockport can upload (or it is a decompression bomb). Pick the disk image itself.`,
          undefined,
          'too-large',
        );
      }
      progress();
    }
  } finally {
    await stream.cancel().catch(() => undefined);
  }
  return { size: n, tail: n >= 512 ? tail : tail.subarray(512 - n) };
}

/** Rolls `chunk` into `tail`, which then holds the last tail.length bytes seen. */
function keepTail(tail: Uint8Array, chunk: Uint8Array): void {
  if (chunk.length >= tail.length) {
    tail.set(chunk.subarray(chunk.length - tail.length));
  } else {
    tail.copyWithin(0, chunk.length);
    tail.set(chunk, tail.length - chunk.length);
  }
}

/** A file in a tar read as a stream: where its data starts in the stream, and its first bytes. */
interface StreamTarEntry {
  name: string;
  offset: number;
  size: number;
  head?: () => Promise<Uint8Array>;
}

/**
 * Lists a tar archive read once as a stream (inside a compressed stream): every regular file with where its data starts
 * in the stream, and the first bytes of the entries chooseDisk may look at (those under 1 MiB) and of the largest.
 * Returns the stream's total length too.
 */
export async function surveyTar(stream: ByteStream, progress: () => void = () => {}): Promise<{ entries: StreamTarEntry[]; total: number }> {
  const cur = new StreamReader(stream, progress);
  const entries: StreamTarEntry[] = [];
  let largest: StreamTarEntry | undefined;
  let longName: string | undefined;
  let paxSize: number | undefined;
  try {
    for (;;) {
      const at = cur.pos;
      const h = await cur.take(512);
      if (h.length === 0) break;
      if (h.length < 512) throw tarDamaged('it ends inside an entry header', 'truncated');
      if (h.every((b) => b === 0)) break;
      if (!isTarHeader(h)) throw tarDamaged(`the archive entry at byte ${at} has a bad header checksum`);
      const header = parseTarHeader(h);
      const size = paxSize ?? header.size;
      paxSize = undefined;
      if (!Number.isSafeInteger(size) || size < 0) throw tarDamaged(`the entry "${header.name}" gives an impossible size`);
      const padded = Math.ceil(size / 512) * 512;
      let read = 0;
      const name = header.type === 'L' || header.type === 'x' ? header.name : (longName ?? header.name);
      if (header.type === 'L' || header.type === 'x') {
        const body = await cur.take(Math.min(size, 65536));
        read = body.length;
        const ext = tarExtension(header.type, body);
        if (ext.name !== undefined) longName = ext.name;
        if (ext.size !== undefined) paxSize = ext.size;
      } else {
        longName = undefined;
        if (isTarFile(header.type)) {
          if (entries.length >= MAX_TAR_ENTRIES) throw tarDamaged(`it holds more than ${MAX_TAR_ENTRIES} entries`);
          const e: StreamTarEntry = { name, offset: cur.pos, size };
          entries.push(e);
          if (size > 0 && (size < MiB || !largest || size > largest.size)) {
            const head = await cur.take(Math.min(size, HEAD));
            read = head.length;
            e.head = async () => head;
            if (size >= MiB) {
              if (largest) delete largest.head;
              largest = e;
            }
          }
        }
      }
      // The padding after the last entry may be missing; its data may not.
      if (read + (await cur.skip(padded - read)) < size) throw tarDamaged(`it ends inside the file "${name}"`, 'truncated');
    }
    // What follows the archive's end (zero blocks, padding) still counts to the stream's length.
    while ((await cur.skip(2 ** 30)) > 0);
  } finally {
    await stream.cancel().catch(() => undefined);
  }
  return { entries, total: cur.pos };
}

/** The virtual disk size a format's header gives in its first bytes, where it does (undefined: known once unpacked). */
export function headerVirtualSize(format: ImageFormat, head: Uint8Array): number | undefined {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const be64 = (at: number) => (at + 8 <= head.length ? dv.getUint32(at) * 2 ** 32 + dv.getUint32(at + 4) : NaN);
  const le64 = (at: number) => (at + 8 <= head.length ? dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32 : NaN);
  const size = format === 'qcow2' ? be64(24) : format === 'vmdk' ? le64(12) * 512 : format === 'vhd' ? be64(48) : format === 'vdi' ? le64(0x170) : NaN;
  return Number.isSafeInteger(size) && size > 0 && size <= MAX_VIRTUAL_SIZE ? size : undefined;
}
