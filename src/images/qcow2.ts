import { BlockState, ImageFormatError, type ByteSource, type DiskImage } from './types.ts';
import { checkVirtualSize, corrupt, readExact, truncated } from './byte-source.ts';
import { mappedImage, PieceList, type Piece } from './mapped-image.ts';
import { TableCache } from './table-cache.ts';
import { FileClaims, shared } from './file-claims.ts';

// L1 tables above this are refused: 32 MiB of L1 already maps 2 EiB with 64 KiB clusters.
const MAX_L1_BYTES = 32 * 1024 * 1024;
const EXT_DATA_FILE = 0x44415441;
const KNOWN_INCOMPATIBLE = 0b11111;

/** Detects qcow2 by its magic `QFI\xfb`. */
export function isQcow2(head: Uint8Array): boolean {
  return head[0] === 0x51 && head[1] === 0x46 && head[2] === 0x49 && head[3] === 0xfb;
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at) * 2 ** 32 + dv.getUint32(at + 4);
}

/** Opens a qcow2 v2/v3 image: plain, zero-flag, extended L2, deflate or zstd compressed clusters. */
export async function openQcow2(source: ByteSource): Promise<DiskImage> {
  const head = await readExact(source, 0, Math.min(source.size, 4096), 'qcow2', 'header');
  if (head.length < 72) throw truncated('qcow2', 'header');
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) {
    throw new ImageFormatError(
      `This is a qcow version ${version} image; Blockport reads qcow2 versions 2 and 3. Convert it with \`qemu-img convert -O qcow2 in.img out.qcow2\` and pick the result.`,
      'qcow2',
      'unsupported',
    );
  }
  if (u64(dv, 8) !== 0 || dv.getUint32(16) !== 0) {
    throw new ImageFormatError(
      'This qcow2 image has a backing file: it holds only the changes on top of another image, so it is not a whole disk. Merge it first with `qemu-img convert -O qcow2 child.qcow2 whole.qcow2` (or `qemu-img rebase -b "" child.qcow2`) and pick the result.',
      'qcow2',
      'backing-file',
    );
  }
  const clusterBits = dv.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) throw corrupt('qcow2', `its cluster size is 2^${clusterBits} bytes (qcow2 allows 2^9 to 2^21)`);
  const clusterSize = 2 ** clusterBits;
  const virtualSize = u64(dv, 24);
  checkVirtualSize('qcow2', virtualSize);
  if (dv.getUint32(32) !== 0) {
    throw new ImageFormatError(
      'This qcow2 image is encrypted; Blockport cannot read encrypted images. Decrypt it with `qemu-img convert --object secret,id=s,data=PASSPHRASE --image-opts driver=qcow2,file.filename=in.qcow2,encrypt.key-secret=s -O qcow2 out.qcow2` and pick the result.',
      'qcow2',
      'encrypted',
    );
  }
  const l1Size = dv.getUint32(36);
  const l1Offset = u64(dv, 40);
  const nbSnapshots = dv.getUint32(60);
  let headerLength = 72;
  let extendedL2 = false;
  let zstd = false;
  if (version === 3) {
    if (head.length < 104) throw truncated('qcow2', 'header');
    const incHi = dv.getUint32(72);
    const inc = dv.getUint32(76);
    headerLength = dv.getUint32(100);
    if (headerLength < 104 || headerLength > head.length || headerLength % 8 !== 0) throw corrupt('qcow2', `its header length is ${headerLength}`);
    if (inc & 2) {
      throw new ImageFormatError(
        'This qcow2 image is marked corrupt by QEMU. Repair it with `qemu-img check -r all IMAGE` and pick it again.',
        'qcow2',
        'corrupt',
      );
    }
    if (inc & 4) {
      throw new ImageFormatError(
        'This qcow2 image keeps its data in a separate external data file, which a browser cannot open alongside it. Make a self-contained copy with `qemu-img convert -O qcow2 in.qcow2 whole.qcow2` and pick the result.',
        'qcow2',
        'external-data-file',
      );
    }
    if (incHi !== 0 || (inc & ~KNOWN_INCOMPATIBLE) !== 0) {
      throw new ImageFormatError(
        `This qcow2 image uses an incompatible feature Blockport does not know (bits 0x${incHi.toString(16)}${inc.toString(16).padStart(8, '0')}), so it cannot be read safely. Convert it with \`qemu-img convert -O qcow2 -o compat=1.1 in.qcow2 out.qcow2\` and pick the result.`,
        'qcow2',
        'unsupported',
      );
    }
    extendedL2 = (inc & 16) !== 0;
    if (inc & 8) {
      if (headerLength < 105) throw corrupt('qcow2', 'it declares a compression type but its header is too short to hold it');
      const ct = head[104]!;
      if (ct > 1) {
        throw new ImageFormatError(
          `This qcow2 image uses compression type ${ct}; Blockport reads deflate and zstd. Convert it with \`qemu-img convert -O qcow2 in.qcow2 out.qcow2\` and pick the result.`,
          'qcow2',
          'unsupported',
        );
      }
      zstd = ct === 1;
    }
    if (extendedL2 && clusterBits < 14) throw corrupt('qcow2', 'it uses extended L2 entries with clusters smaller than 16 KiB');
  }
  // Header extensions: refuse an external data file, however it is flagged.
  for (let at = headerLength, n = 0; at + 8 <= head.length && n < 256; n++) {
    const type = dv.getUint32(at);
    const len = dv.getUint32(at + 4);
    if (type === 0) break;
    if (type === EXT_DATA_FILE) {
      throw new ImageFormatError(
        'This qcow2 image names an external data file, which a browser cannot open alongside it. Make a self-contained copy with `qemu-img convert -O qcow2 in.qcow2 whole.qcow2` and pick the result.',
        'qcow2',
        'external-data-file',
      );
    }
    at += 8 + Math.ceil(len / 8) * 8;
  }

  const entryBytes = extendedL2 ? 16 : 8;
  const l2Entries = clusterSize / entryBytes;
  const clusters = Math.ceil(virtualSize / clusterSize);
  const l1Needed = Math.ceil(clusters / l2Entries);
  if (l1Size < l1Needed) throw corrupt('qcow2', `its L1 table has ${l1Size} entries but the ${virtualSize}-byte disk needs ${l1Needed}`);
  if (l1Needed * 8 > MAX_L1_BYTES) throw corrupt('qcow2', `its L1 table would need ${l1Needed * 8} bytes`);
  if (l1Offset % clusterSize !== 0 || l1Offset < clusterSize) throw corrupt('qcow2', `its L1 table offset ${l1Offset} is misaligned or overlaps the header`);
  if (l1Offset + l1Needed * 8 > source.size) throw truncated('qcow2', 'L1 table');
  const l1Bytes = await readExact(source, l1Offset, l1Needed * 8, 'qcow2', 'L1 table');
  const l1 = new DataView(l1Bytes.buffer, l1Bytes.byteOffset, l1Bytes.byteLength);
  // At most 32 MiB of L2 tables cached, whatever the cluster size.
  const l2Cache = new TableCache(source, 'qcow2', 'L2 table', Math.max(4, Math.floor((32 * 1024 * 1024) / clusterSize)));
  const l1End = l1Offset + l1Needed * 8;
  const fileSize = source.size;

  const x = 70 - clusterBits; // bit where the compressed sector count starts
  const offHiMask = 2 ** (x - 32) - 1;
  const sectorsMask = 2 ** (clusterBits - 8) - 1;
  const subSize = clusterSize / 32;

  function l2Offset(l1Index: number): number {
    const hi = l1.getUint32(l1Index * 8) & 0x00ffffff;
    const lo = l1.getUint32(l1Index * 8 + 4) & 0xfffffe00;
    const off = hi * 2 ** 32 + (lo >>> 0);
    if (off === 0) return 0;
    if (off % clusterSize !== 0) throw corrupt('qcow2', `an L2 table offset (${off}) is not cluster-aligned`);
    if (off < clusterSize || (off < l1End && off + clusterSize > l1Offset)) throw corrupt('qcow2', `an L2 table at ${off} overlaps the header or the L1 table`);
    if (off + clusterSize > fileSize) throw truncated('qcow2', 'L2 tables');
    return off;
  }

  // Every place the active image uses is claimed once: the header, L1, refcount structures and L2 tables now, each
  // L2 table's clusters when it is first read. A table or cluster used twice is refused, so a small file cannot claim
  // terabytes by pointing many entries at one table or one cluster.
  const claims = new FileClaims('qcow2', clusterSize);
  claims.claim(0, clusterSize, 'the header');
  claims.claim(l1Offset, l1Needed * 8, 'the L1 table');
  await claimRefcounts(source, dv, clusterSize, claims);
  for (let i = 0; i < l1Needed; i++) {
    const off = l2Offset(i);
    if (off) claims.claim(off, clusterSize, 'an L2 table');
  }
  const compressedHosts = new FileClaims('qcow2', clusterSize);
  const compressedStarts = new Set<number>();
  const checkedL2 = new Set<number>();

  /** Claims the clusters an L2 table hands out, the first time the table is read. */
  function claimL2(l2: DataView, l1Index: number): void {
    const n = Math.min(l2Entries, clusters - l1Index * l2Entries);
    for (let j = 0; j < n; j++) {
      const at = j * entryBytes;
      const hi = l2.getUint32(at);
      const lo = l2.getUint32(at + 4);
      if (hi & 0x40000000) {
        const off = (hi & offHiMask) * 2 ** 32 + lo;
        if (compressedStarts.has(off) || claims.has(off)) throw shared('qcow2', 'a compressed cluster', off);
        compressedStarts.add(off);
        compressedHosts.mark(off);
        continue;
      }
      const off = (hi & 0x00ffffff) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);
      if (off === 0) continue;
      if (extendedL2 ? l2.getUint32(at + 12) === 0 : version === 3 && lo & 1) continue;
      if (compressedHosts.has(off)) throw shared('qcow2', 'a data cluster', off);
      claims.claim(off, clusterSize, 'a data cluster');
    }
  }

  async function l2For(l1Index: number): Promise<DataView | undefined> {
    const off = l2Offset(l1Index);
    if (off === 0) return undefined;
    const l2 = await l2Cache.get(off, clusterSize);
    if (!checkedL2.has(off)) {
      claimL2(l2, l1Index);
      checkedL2.add(off);
    }
    return l2;
  }

  function checkData(off: number, length = clusterSize): void {
    if (off % clusterSize !== 0) throw corrupt('qcow2', `a data cluster offset (${off}) is not cluster-aligned`);
    if (off < clusterSize || (off < l1End && off + clusterSize > l1Offset)) throw corrupt('qcow2', `a data cluster at ${off} overlaps the header or the L1 table`);
    if (off + length > fileSize) throw truncated('qcow2', 'data clusters');
  }

  async function map(start: number, end: number): Promise<Piece[]> {
    const list = new PieceList();
    let c = Math.floor(start / clusterSize);
    while (c * clusterSize < end) {
      const l1i = Math.floor(c / l2Entries);
      const l2 = await l2For(l1i);
      const lastInTable = Math.min((l1i + 1) * l2Entries, Math.ceil(end / clusterSize));
      if (!l2) {
        // No L2 table: the whole range it would map is unallocated.
        list.zero(Math.max(start, c * clusterSize), Math.min(end, lastInTable * clusterSize));
        c = lastInTable;
        continue;
      }
      for (; c < lastInTable; c++) {
        const cs = c * clusterSize;
        const a = Math.max(start, cs);
        const b = Math.min(end, cs + clusterSize);
        const at = (c % l2Entries) * entryBytes;
        const hi = l2.getUint32(at);
        const lo = l2.getUint32(at + 4);
        if (hi & 0x40000000) {
          const off = (hi & offHiMask) * 2 ** 32 + lo;
          const sectors = ((hi >>> (x - 32)) & sectorsMask) + 1;
          const len = sectors * 512 - (off % 512);
          if (off < clusterSize || off >= fileSize) throw corrupt('qcow2', `a compressed cluster points outside the file (offset ${off})`);
          list.push({ kind: 'compressed', start: a, end: b, unitStart: cs, unitSize: clusterSize, fileOffset: off, fileLength: len, codec: zstd ? 'zstd' : 'deflate-raw' });
          continue;
        }
        const off = (hi & 0x00ffffff) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);
        if (extendedL2) {
          const alloc = l2.getUint32(at + 12);
          const zero = l2.getUint32(at + 8);
          if (alloc !== 0) {
            if (off === 0) throw corrupt('qcow2', 'an extended L2 entry marks subclusters allocated but has no cluster offset');
            // Only allocated subclusters are written: the file may end inside the cluster.
            checkData(off, (32 - Math.clz32(alloc)) * subSize);
          }
          for (let s = 0; s < 32; s++) {
            const ss = cs + s * subSize;
            const sa = Math.max(a, ss);
            const sb = Math.min(b, ss + subSize);
            if (sb <= sa) continue;
            if (alloc & (1 << s)) list.data(sa, sb, off + (sa - cs));
            else list.zero(sa, sb, zero & (1 << s) ? BlockState.Zero : BlockState.Unallocated);
          }
          continue;
        }
        if (version === 3 && lo & 1) {
          list.zero(a, b, BlockState.Zero);
          continue;
        }
        if (off === 0) {
          list.zero(a, b);
          continue;
        }
        checkData(off);
        list.data(a, b, off + (a - cs));
      }
    }
    return list.items;
  }

  const notices: string[] = [];
  if (nbSnapshots > 0) {
    notices.push(
      `This qcow2 image holds ${nbSnapshots} internal snapshot${nbSnapshots === 1 ? '' : 's'}; only the current state of the disk is uploaded.`,
    );
  }
  return mappedImage({ format: 'qcow2', subformat: version === 2 ? 'v2' : 'v3', virtualSize, notices, source, map });
}

/** Claims the refcount table and its blocks (header fields 48 and 56), where they lie inside the file. */
async function claimRefcounts(source: ByteSource, dv: DataView, clusterSize: number, claims: FileClaims): Promise<void> {
  const tableOffset = u64(dv, 48);
  const tableBytes = dv.getUint32(56) * clusterSize;
  if (tableOffset === 0 || tableBytes === 0 || tableOffset % clusterSize !== 0) return;
  claims.claim(tableOffset, tableBytes, 'the refcount table');
  if (tableBytes > MAX_L1_BYTES || tableOffset + tableBytes > source.size) return;
  const t = await readExact(source, tableOffset, tableBytes, 'qcow2', 'refcount table');
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  for (let at = 0; at + 8 <= tableBytes; at += 8) {
    const off = (tv.getUint32(at) & 0x00ffffff) * 2 ** 32 + ((tv.getUint32(at + 4) & 0xfffffe00) >>> 0);
    if (off !== 0) claims.claim(off, clusterSize, 'a refcount block');
  }
}
