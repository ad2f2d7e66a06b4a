import { BlockState, ImageFormatError, type ByteSource, type DiskImage } from './types.ts';
import { checkVirtualSize, corrupt, readExact, truncated } from './byte-source.ts';
import { crc32c } from './crc32c.ts';
import { mappedImage, PieceList, type Piece } from './mapped-image.ts';
import { TableCache } from './table-cache.ts';
import { FileClaims } from './file-claims.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const BAT_GUID = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const METADATA_GUID = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
const KNOWN_METADATA = new Set([
  FILE_PARAMETERS,
  VIRTUAL_DISK_SIZE,
  LOGICAL_SECTOR_SIZE,
  'BECA12AB-B2E6-4523-93EF-C309E000C746', // page 83 data
  'CDA348C7-445D-4471-9CC9-E9885251C556', // physical sector size
]);
// BAT read per page of this many bytes (8192 entries), so a huge BAT is never read at once.
const BAT_PAGE = 64 * KiB;

/** Detects VHDX by its file type identifier `vhdxfile`. */
export function isVhdx(head: Uint8Array): boolean {
  return head.length >= 8 && new TextDecoder('latin1').decode(head.subarray(0, 8)) === 'vhdxfile';
}

/** A GUID in its usual text form (first three fields little-endian). */
export function guid(b: Uint8Array): string {
  const h = (i: number): string => b[i]!.toString(16).padStart(2, '0');
  return [
    h(3) + h(2) + h(1) + h(0),
    h(5) + h(4),
    h(7) + h(6),
    h(8) + h(9),
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15),
  ]
    .join('-')
    .toUpperCase();
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
}

function checksummed(block: Uint8Array): boolean {
  const copy = block.slice();
  const stored = new DataView(copy.buffer).getUint32(4, true);
  copy.fill(0, 4, 8);
  return crc32c(copy) === stored;
}

/** Opens a VHDX: fixed or dynamic; refuses differencing disks, a log to replay, partially present blocks. */
export async function openVhdx(source: ByteSource): Promise<DiskImage> {
  const fileSize = source.size;
  // Two headers; the valid one with the higher sequence number is current.
  let header: DataView | undefined;
  let seq = -1;
  for (const at of [64 * KiB, 128 * KiB]) {
    if (at + 4 * KiB > fileSize) continue;
    const b = await readExact(source, at, 4 * KiB, 'vhdx', 'header');
    if (new TextDecoder('latin1').decode(b.subarray(0, 4)) !== 'head' || !checksummed(b)) continue;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const s = u64(dv, 8);
    if (s > seq) {
      seq = s;
      header = dv;
    }
  }
  if (!header) throw fileSize < 192 * KiB ? truncated('vhdx', 'headers') : corrupt('vhdx', 'neither of its two headers has a valid checksum');
  const logGuid = new Uint8Array(header.buffer, header.byteOffset + 48, 16);
  if (logGuid.some((x) => x !== 0)) {
    const logOffset = u64(header, 72);
    const logLength = header.getUint32(68, true);
    // The log needs replay when its first entry belongs to this LogGuid (qemu refuses such files read-only too).
    const entry = logLength >= 4096 && logOffset + 48 <= fileSize ? await source.read(logOffset, 48) : new Uint8Array(0);
    if (entry.length === 48 && new TextDecoder('latin1').decode(entry.subarray(0, 4)) === 'loge' && entry.subarray(32, 48).every((b, i) => b === logGuid[i])) {
      throw new ImageFormatError(
        'This VHDX has a log that was never replayed (the disk was not closed cleanly), so its tables may be out of date. Run `qemu-img check -r all IMAGE.vhdx`, or attach and detach it once in Hyper-V (Mount-VHD / Dismount-VHD), then pick it again.',
        'vhdx',
        'log-replay',
      );
    }
  }
  if (header.getUint16(66, true) !== 1) throw corrupt('vhdx', `its header version is ${header.getUint16(66, true)} (1 expected)`);

  // Region tables: use the first valid copy.
  let regions: DataView | undefined;
  for (const at of [192 * KiB, 256 * KiB]) {
    if (at + 64 * KiB > fileSize) continue;
    const b = await readExact(source, at, 64 * KiB, 'vhdx', 'region table');
    if (new TextDecoder('latin1').decode(b.subarray(0, 4)) === 'regi' && checksummed(b)) {
      regions = new DataView(b.buffer, b.byteOffset, b.byteLength);
      break;
    }
  }
  if (!regions) throw fileSize < 320 * KiB ? truncated('vhdx', 'region table') : corrupt('vhdx', 'neither copy of its region table has a valid checksum');
  const count = regions.getUint32(8, true);
  if (count > 2047) throw corrupt('vhdx', `its region table claims ${count} entries`);
  let bat: { offset: number; length: number } | undefined;
  let meta: { offset: number; length: number } | undefined;
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    const id = guid(new Uint8Array(regions.buffer, regions.byteOffset + at, 16));
    const r = { offset: u64(regions, at + 16), length: regions.getUint32(at + 24, true) };
    const required = regions.getUint32(at + 28, true) & 1;
    if (r.offset % MiB !== 0 || r.offset < MiB || r.offset + r.length > fileSize) throw corrupt('vhdx', `its ${id} region lies outside the file`);
    if (id === BAT_GUID) bat = r;
    else if (id === METADATA_GUID) meta = r;
    else if (required) {
      throw new ImageFormatError(
        `This VHDX requires a region Blockport does not know (${id}), so it cannot be read safely. Convert it with \`qemu-img convert -O vhdx in.vhdx out.vhdx\` and pick the result.`,
        'vhdx',
        'unsupported',
      );
    }
  }
  if (!bat || !meta) throw corrupt('vhdx', 'its region table lacks the block table or the metadata region');
  if (meta.length > 1 * MiB * 16 || meta.length < 64 * KiB) throw corrupt('vhdx', `its metadata region is ${meta.length} bytes`);
  const mb = await readExact(source, meta.offset, meta.length, 'vhdx', 'metadata region');
  const mv = new DataView(mb.buffer, mb.byteOffset, mb.byteLength);
  if (new TextDecoder('latin1').decode(mb.subarray(0, 8)) !== 'metadata') throw corrupt('vhdx', 'its metadata table signature is missing');
  const entries = mv.getUint16(10, true);
  if (entries > 2047) throw corrupt('vhdx', `its metadata table claims ${entries} entries`);
  const items = new Map<string, DataView>();
  for (let i = 0; i < entries; i++) {
    const at = 32 + i * 32;
    const id = guid(mb.subarray(at, at + 16));
    const off = mv.getUint32(at + 16, true);
    const len = mv.getUint32(at + 20, true);
    const flags = mv.getUint32(at + 24, true);
    if (len > 0 && (off < 64 * KiB || off + len > mb.length)) throw corrupt('vhdx', `a metadata item (${id}) lies outside the metadata region`);
    if (!KNOWN_METADATA.has(id) && flags & 4) {
      if (id === 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C') continue; // parent locator: the has-parent flag refuses below
      throw new ImageFormatError(
        `This VHDX requires a metadata item Blockport does not know (${id}), so it cannot be read safely. Convert it with \`qemu-img convert -O vhdx in.vhdx out.vhdx\` and pick the result.`,
        'vhdx',
        'unsupported',
      );
    }
    items.set(id, new DataView(mb.buffer, mb.byteOffset + off, len));
  }
  const need = (id: string, len: number, what: string): DataView => {
    const v = items.get(id);
    if (!v || v.byteLength < len) throw corrupt('vhdx', `its ${what} metadata is missing`);
    return v;
  };
  const params = need(FILE_PARAMETERS, 8, 'file parameters');
  const blockSize = params.getUint32(0, true);
  if (params.getUint32(4, true) & 2) {
    throw new ImageFormatError(
      'This VHDX is a differencing disk: it holds only the changes on top of a parent disk, so it is not a whole disk. Merge it into its parent in Hyper-V (Edit Disk → Merge) or with `qemu-img convert -O vhdx child.vhdx whole.vhdx`, and pick the result.',
      'vhdx',
      'backing-file',
    );
  }
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) throw corrupt('vhdx', `its block size is ${blockSize} bytes`);
  const virtualSize = u64(need(VIRTUAL_DISK_SIZE, 8, 'virtual disk size'), 0);
  checkVirtualSize('vhdx', virtualSize);
  const sectorSize = need(LOGICAL_SECTOR_SIZE, 4, 'logical sector size').getUint32(0, true);
  if (sectorSize !== 512 && sectorSize !== 4096) throw corrupt('vhdx', `its logical sector size is ${sectorSize}`);
  const chunkRatio = (2 ** 23 * sectorSize) / blockSize;
  const payloadBlocks = Math.ceil(virtualSize / blockSize);
  const batEntries = payloadBlocks + Math.floor((payloadBlocks - 1) / chunkRatio);
  if (batEntries * 8 > bat.length) throw corrupt('vhdx', `its block table holds ${Math.floor(bat.length / 8)} entries but the disk needs ${batEntries}`);
  const batCache = new TableCache(source, 'vhdx', 'block allocation table');
  // Each MiB of the file is handed out once: headers, log, block table and metadata now, a BAT page's blocks when it is
  // first read. A block shared by many entries would let a small file claim terabytes, so it is refused.
  const claims = new FileClaims('vhdx', MiB);
  claims.claim(0, MiB, 'the headers');
  const logOffset = u64(header, 72);
  const logLength = header.getUint32(68, true);
  if (logLength > 0 && logOffset >= MiB) claims.claim(logOffset, logLength, 'the log');
  claims.claim(bat.offset, bat.length, 'the block table');
  claims.claim(meta.offset, meta.length, 'the metadata region');
  const checkedPages = new Set<number>();
  const claimPage = (v: DataView, p: number): void => {
    const first = p / 8;
    const n = Math.min(v.byteLength / 8, batEntries - first);
    for (let k = first; k < first + n; k++) {
      // Every (chunkRatio+1)th entry describes a sector bitmap, not a payload block.
      if ((k + 1) % (chunkRatio + 1) === 0) continue;
      const lo = v.getUint32((k - first) * 8, true);
      if ((lo & 7) !== 6) continue;
      const block = k - Math.floor(k / (chunkRatio + 1));
      const off = (v.getUint32((k - first) * 8 + 4, true) * 4096 + (lo >>> 20)) * MiB;
      claims.claim(off, Math.min(blockSize, virtualSize - block * blockSize), 'a data block');
    }
  };

  async function map(start: number, end: number): Promise<Piece[]> {
    const list = new PieceList();
    let page = -1;
    let v: DataView | undefined;
    for (let n = Math.floor(start / blockSize); n * blockSize < end; n++) {
      const bs = n * blockSize;
      const a = Math.max(start, bs);
      const b = Math.min(end, bs + blockSize);
      const byte = (n + Math.floor(n / chunkRatio)) * 8;
      const p = Math.floor(byte / BAT_PAGE) * BAT_PAGE;
      if (p !== page || !v) {
        v = await batCache.get(bat!.offset + p, Math.min(BAT_PAGE, bat!.length - p));
        page = p;
        if (!checkedPages.has(p)) {
          claimPage(v, p);
          checkedPages.add(p);
        }
      }
      const lo = v.getUint32(byte - p, true);
      const state = lo & 7;
      if (state <= 3) {
        list.zero(a, b, state === 2 ? BlockState.Zero : BlockState.Unallocated);
        continue;
      }
      if (state === 7) {
        throw new ImageFormatError(
          'This VHDX has partially present blocks, which only differencing disks use; it cannot be read as a whole disk. Convert it with `qemu-img convert -O vhdx in.vhdx out.vhdx` and pick the result.',
          'vhdx',
          'backing-file',
        );
      }
      if (state !== 6) throw corrupt('vhdx', `a block table entry has the reserved state ${state}`);
      const off = (v.getUint32(byte - p + 4, true) * 4096 + (lo >>> 20)) * MiB;
      if (off < MiB) throw corrupt('vhdx', 'a data block overlaps the file header');
      if (off + (b - bs) > fileSize) throw truncated('vhdx', 'data blocks');
      list.data(a, b, off + (a - bs));
    }
    return list.items;
  }
  const params0 = params.getUint32(4, true);
  return mappedImage({ format: 'vhdx', subformat: params0 & 1 ? 'fixed' : 'dynamic', virtualSize, notices: [], source, map });
}
