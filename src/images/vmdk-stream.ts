// A streamOptimized VMDK read front to back (out of a decompressor): each grain marker names the sector its grain
// belongs to, so the raw disk is given in order as the grains come, with zeros for the grains the file leaves out.
// The grain tables and directory are skipped: the markers say all a front-to-back reader needs.
import { StreamReader, type ByteStream } from './byte-stream.ts';
import { checkVirtualSize, corrupt, truncated } from './byte-source.ts';
import { decompressUnit } from './decompress.ts';
import { ImageFormatError } from './types.ts';
import { isVmdk } from './vmdk.ts';

const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const SECTOR = 512;
// A compressed grain may exceed its grain a little (deflate's stored blocks); more than this is not a grain.
const GRAIN_SLACK = 4096;
// Zeros are given in pieces of this size (one shared buffer, never written).
const ZEROS = new Uint8Array(1 << 20);

/** What a front-to-back reader needs of a streamOptimized VMDK's header. */
export interface StreamVmdkHeader {
  /** The virtual disk's size in bytes. */
  capacity: number;
  grainBytes: number;
  /** Where the first marker is (bytes): header, descriptor and any tables written in front come before. */
  overHead: number;
  /** The embedded descriptor's place in bytes (length 0 when there is none). */
  descriptor: { offset: number; length: number };
}

const u64 = (dv: DataView, at: number): number => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;

/**
 * The header of a VMDK whose grains are compressed with deflate and carry markers (streamOptimized), which can be read
 * front to back; undefined for any other VMDK (read at random once unpacked). Impossible values are refused.
 */
export function streamVmdkHeader(head: Uint8Array): StreamVmdkHeader | undefined {
  if (head.length < SECTOR || !isVmdk(head)) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, SECTOR);
  const version = dv.getUint32(4, true);
  const flags = dv.getUint32(8, true);
  if (version < 1 || version > 3 || !(flags & FLAG_MARKERS) || !(flags & FLAG_COMPRESSED) || dv.getUint16(77, true) !== 1) return undefined;
  const capacity = u64(dv, 12) * SECTOR;
  const grainSectors = u64(dv, 20);
  const descOffset = u64(dv, 28) * SECTOR;
  const descLength = u64(dv, 36) * SECTOR;
  const overHead = u64(dv, 64) * SECTOR;
  checkVirtualSize('vmdk', capacity);
  if (grainSectors < 1 || grainSectors > 2048) throw corrupt('vmdk', `its grain size is ${grainSectors} sectors (Blockport reads 1 to 2048)`);
  if (!Number.isSafeInteger(overHead) || overHead < SECTOR) throw corrupt('vmdk', `its header says the grains start at sector ${overHead / SECTOR}, inside the header`);
  if (descLength > 0 && (descOffset < SECTOR || descOffset + descLength > overHead)) {
    throw corrupt('vmdk', 'its embedded descriptor lies outside the metadata in front of the grains');
  }
  return { capacity, grainBytes: grainSectors * SECTOR, overHead, descriptor: { offset: descLength > 0 ? descOffset : 0, length: descLength } };
}

/** The refusal of grains that do not come in disk order (a reader front to back cannot go back). */
function unordered(sector: number, passed: number): ImageFormatError {
  return new ImageFormatError(
    `This streamOptimized VMDK stores its grains out of disk order (the grain for sector ${sector} comes after sector ${passed} was passed), so it cannot be read front to back as it is decompressed. Unpack it first (e.g. \`xz -dk\`, \`gunzip -k\`, \`unzip\`) and pick the .vmdk file.`,
    'vmdk',
    'unordered',
  );
}

/**
 * The raw disk a streamOptimized VMDK holds, read from the VMDK's bytes in order. Memory: one compressed grain and one
 * inflated grain, whatever the disk's size. Grains must come in disk order (VMware's and qemu's writers do so); each
 * inflates to at most its grain, none lies past the disk's end, and the stream ends where the markers say.
 */
export function streamOptimizedRaw(input: ByteStream): ByteStream {
  const r = new StreamReader(input);
  let header: StreamVmdkHeader | undefined;
  // Disk bytes given so far; a grain waiting to be given (after the zeros before it).
  let out = 0;
  let grain: Uint8Array | null = null;
  let grainAt = 0;
  let ended = false;
  let drained = false;

  const start = async (): Promise<StreamVmdkHeader> => {
    const head = await r.take(SECTOR);
    if (head.length < SECTOR) throw truncated('vmdk', 'header');
    const h = streamVmdkHeader(head);
    if (!h) throw corrupt('vmdk', 'its header no longer describes a streamOptimized VMDK');
    if ((await r.skip(h.overHead - SECTOR)) < h.overHead - SECTOR) throw truncated('vmdk', 'first grain');
    return h;
  };

  /** Reads the next marker: a grain becomes `grain`, metadata is skipped, the end-of-stream marker ends the disk. */
  const marker = async (h: StreamVmdkHeader): Promise<void> => {
    const at = r.pos;
    const m = await r.take(12, false);
    // qemu writes no end-of-stream marker: the file ends after its last grain.
    if (m.length === 0) return void (ended = true);
    if (m.length < 12) throw truncated('vmdk', `marker at byte ${at}`);
    const dv = new DataView(m.buffer, m.byteOffset, 12);
    const val = u64(dv, 0);
    const size = dv.getUint32(8, true);
    if (size === 0) {
      const t = await r.take(4, false);
      if (t.length < 4) throw truncated('vmdk', `marker at byte ${at}`);
      const type = new DataView(t.buffer, t.byteOffset, 4).getUint32(0, true);
      if (type === 0) return void (ended = true);
      if (type > 3) throw corrupt('vmdk', `the marker at byte ${at} has the unknown type ${type}`);
      // A grain table, the grain directory or the footer: skipped, as the grain markers already say where each grain goes.
      const skip = SECTOR - 16 + val * SECTOR;
      if (!Number.isSafeInteger(skip) || (await r.skip(skip)) < skip) throw truncated('vmdk', `metadata after the marker at byte ${at}`);
      return;
    }
    const sector = val;
    const offset = sector * SECTOR;
    if (sector % (h.grainBytes / SECTOR) !== 0) throw corrupt('vmdk', `the grain at byte ${at} names sector ${sector}, which is not where a grain starts`);
    if (offset >= h.capacity) throw corrupt('vmdk', `the grain at byte ${at} names sector ${sector}, past the disk's end`);
    if (offset < out) throw unordered(sector, out / SECTOR);
    if (size > h.grainBytes + GRAIN_SLACK) throw corrupt('vmdk', `the grain at byte ${at} claims ${size} compressed bytes for a grain of ${h.grainBytes}`);
    const data = await r.take(size, false);
    if (data.length < size) throw truncated('vmdk', `grain for sector ${sector}`);
    const inflated = decompressUnit('vmdk', 'zlib', data, h.grainBytes);
    // The grain's padding to its sector may be missing only at the very end of the file.
    await r.skip(Math.ceil((12 + size) / SECTOR) * SECTOR - 12 - size);
    grain = inflated.subarray(0, Math.min(h.grainBytes, h.capacity - offset));
    grainAt = offset;
  };

  const zeros = (upTo: number): Uint8Array => {
    const n = Math.min(ZEROS.length, upTo - out);
    out += n;
    return ZEROS.subarray(0, n);
  };

  return {
    async next() {
      header ??= await start();
      for (;;) {
        if (grain) {
          if (out < grainAt) return zeros(grainAt);
          const g = grain;
          grain = null;
          out += g.length;
          return g;
        }
        if (ended) {
          if (out < header.capacity) return zeros(header.capacity);
          // What follows the end is read through, so the containers around still check the whole (CRCs, sizes).
          if (!drained) {
            drained = true;
            while ((await r.skip(2 ** 30)) > 0);
          }
          return null;
        }
        await marker(header);
      }
    },
    cancel: () => input.cancel(),
    ...(input.consumed ? { consumed: input.consumed } : {}),
  };
}
