import { BlockState, ImageFormatError, type ByteSource, type DiskImage } from './types.ts';
import { checkVirtualSize, corrupt, readExact, truncated } from './byte-source.ts';
import { mappedImage, PieceList, type Piece } from './mapped-image.ts';
import { TableCache } from './table-cache.ts';
import { FileClaims } from './file-claims.ts';
import { parseVmdkDescriptor, refuseVmdkDescriptor } from './vmdk-descriptor.ts';

const MAX_GD_BYTES = 32 * 1024 * 1024;
const MAX_DESCRIPTOR_BYTES = 1024 * 1024;
const FLAG_ZEROED_GRAIN = 1 << 2;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;

/** Detects a VMDK sparse extent by its magic `KDMV`. */
export function isVmdk(head: Uint8Array): boolean {
  return head[0] === 0x4b && head[1] === 0x44 && head[2] === 0x4d && head[3] === 0x56;
}

/** Detects the hosted-sparse formats Blockport refuses: COWD (ESX sparse) and seSparse. */
export function isOtherVmdkSparse(head: Uint8Array): string | undefined {
  if (head[0] === 0x43 && head[1] === 0x4f && head[2] === 0x57 && head[3] === 0x44) return 'COWD (vmfsSparse)';
  if (head[0] === 0xbe && head[1] === 0xba && head[2] === 0xfe && head[3] === 0xca && head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0) return 'seSparse';
  return undefined;
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
}

/** Opens a VMDK sparse extent: monolithicSparse or streamOptimized (qemu layout, or VMware's with footer). */
export async function openVmdk(source: ByteSource): Promise<DiskImage> {
  const head = await readExact(source, 0, 512, 'vmdk', 'header');
  let dv = new DataView(head.buffer, head.byteOffset, 512);
  const version = dv.getUint32(4, true);
  if (version < 1 || version > 3) {
    throw new ImageFormatError(
      `This VMDK uses sparse format version ${version}; Blockport reads versions 1 to 3. Convert it with \`qemu-img convert -O vmdk -o subformat=streamOptimized in.vmdk out.vmdk\` and pick the result.`,
      'vmdk',
      'unsupported',
    );
  }
  const flags = dv.getUint32(8, true);
  const capacity = u64(dv, 12);
  const grainSize = u64(dv, 20);
  const descOffset = u64(dv, 28);
  const descSize = u64(dv, 36);
  const gtes = dv.getUint32(44, true);
  let gdOffset = u64(dv, 56);
  const compressAlgorithm = dv.getUint16(77, true);
  const notices: string[] = [];

  let createType: string | undefined;
  if (descOffset > 0 && descSize > 0) {
    if (descSize * 512 > MAX_DESCRIPTOR_BYTES) throw corrupt('vmdk', `its embedded descriptor claims ${descSize} sectors`);
    const text = new TextDecoder('latin1').decode(await readExact(source, descOffset * 512, descSize * 512, 'vmdk', 'embedded descriptor'));
    if (text.replace(/\0/g, '').trim()) {
      const d = parseVmdkDescriptor(text);
      refuseVmdkDescriptor(d, false);
      createType = d.createType;
    }
  }
  if (!createType) {
    notices.push('This VMDK extent has no descriptor; if it is one part of a disk split across several files, only this part is read.');
  }

  const markers = (flags & FLAG_MARKERS) !== 0;
  const compressed = (flags & FLAG_COMPRESSED) !== 0;
  if (compressed && compressAlgorithm !== 1) {
    throw new ImageFormatError(
      `This VMDK uses compression algorithm ${compressAlgorithm}; Blockport reads deflate (1). Convert it with \`qemu-img convert -O vmdk in.vmdk out.vmdk\` and pick the result.`,
      'vmdk',
      'unsupported',
    );
  }
  if (gdOffset === 2 ** 64 - 1 || (dv.getUint32(56, true) === 0xffffffff && dv.getUint32(60, true) === 0xffffffff)) {
    // VMware's stream layout: the grain directory is written last and the footer (a header copy) says where.
    if (source.size < 1536 + 512) throw truncated('vmdk', 'footer');
    const tail = await readExact(source, source.size - 1536, 1536, 'vmdk', 'footer');
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    if (tv.getUint32(12, true) !== 3 || !isVmdk(tail.subarray(512))) {
      throw corrupt('vmdk', 'its header says the grain directory is at the end, but there is no footer before the end-of-stream marker');
    }
    dv = new DataView(tail.buffer, tail.byteOffset + 512, 512);
    gdOffset = u64(dv, 56);
  }

  if (grainSize < 1 || grainSize > 2048) throw corrupt('vmdk', `its grain size is ${grainSize} sectors (Blockport reads 1 to 2048)`);
  if (gtes < 1 || gtes > 65536) throw corrupt('vmdk', `it declares ${gtes} entries per grain table`);
  const virtualSize = capacity * 512;
  checkVirtualSize('vmdk', virtualSize);
  const grainBytes = grainSize * 512;
  const gtBytes = gtes * 4;
  const grains = Math.ceil(capacity / grainSize);
  const gdEntries = Math.ceil(grains / gtes);
  if (gdEntries * 4 > MAX_GD_BYTES) throw corrupt('vmdk', `its grain directory would need ${gdEntries * 4} bytes`);
  if (gdOffset < 1) throw corrupt('vmdk', 'its grain directory offset overlaps the header');
  const gdBytes = await readExact(source, gdOffset * 512, gdEntries * 4, 'vmdk', 'grain directory');
  const gd = new DataView(gdBytes.buffer, gdBytes.byteOffset, gdBytes.byteLength);
  const gtCache = new TableCache(source, 'vmdk', 'grain tables');
  const fileSize = source.size;
  const zeroedGrain = (flags & FLAG_ZEROED_GRAIN) !== 0;
  const compressedBound = grainBytes + 4096 + (markers ? 12 : 0);

  // Each sector is handed out once: header, descriptor, grain directory and grain tables now, a table's grains when it
  // is first read. Grain tables or grains used twice would let a small file claim terabytes, so they are refused.
  const claims = new FileClaims('vmdk', 512);
  claims.claim(0, 512, 'the header');
  if (descOffset > 0 && descSize > 0) claims.claim(descOffset * 512, descSize * 512, 'the descriptor');
  claims.claim(gdOffset * 512, gdEntries * 4, 'the grain directory');
  for (let t = 0; t < gdEntries; t++) {
    const gtSector = gd.getUint32(t * 4, true);
    if (gtSector === 0) continue;
    if (gtSector * 512 + gtBytes > fileSize) throw truncated('vmdk', 'grain tables');
    claims.claim(gtSector * 512, gtBytes, 'a grain table');
  }
  const checkedGt = new Set<number>();

  /** Claims the grains a grain table hands out, the first time the table is read. */
  function claimGrains(gt: DataView, t: number): void {
    const n = Math.min(gtes, grains - t * gtes);
    for (let j = 0; j < n; j++) {
      const entry = gt.getUint32(j * 4, true);
      if (entry === 0 || (entry === 1 && zeroedGrain)) continue;
      // A compressed grain's length is known only from its data: its first sector is its own.
      claims.claim(entry * 512, compressed ? 512 : grainBytes, 'a grain');
    }
  }

  async function map(start: number, end: number): Promise<Piece[]> {
    const list = new PieceList();
    let g = Math.floor(start / grainBytes);
    while (g * grainBytes < end) {
      const t = Math.floor(g / gtes);
      const gtSector = gd.getUint32(t * 4, true);
      const lastInTable = Math.min((t + 1) * gtes, Math.ceil(end / grainBytes));
      if (gtSector === 0) {
        // No grain table: the whole range it would map is unallocated.
        list.zero(Math.max(start, g * grainBytes), Math.min(end, lastInTable * grainBytes));
        g = lastInTable;
        continue;
      }
      if (gtSector * 512 + gtBytes > fileSize) throw truncated('vmdk', 'grain tables');
      const gt = await gtCache.get(gtSector * 512, gtBytes);
      if (!checkedGt.has(gtSector)) {
        claimGrains(gt, t);
        checkedGt.add(gtSector);
      }
      for (; g < lastInTable; g++) {
        const gs = g * grainBytes;
        const a = Math.max(start, gs);
        const b = Math.min(end, gs + grainBytes);
        const entry = gt.getUint32((g % gtes) * 4, true);
        if (entry === 0) {
          list.zero(a, b);
          continue;
        }
        if (entry === 1 && zeroedGrain) {
          list.zero(a, b, BlockState.Zero);
          continue;
        }
        const off = entry * 512;
        if (entry < 1 || off >= fileSize) throw truncated('vmdk', 'grains');
        if (compressed) {
          list.push({
            kind: 'compressed',
            start: a,
            end: b,
            unitStart: gs,
            unitSize: grainBytes,
            fileOffset: off,
            fileLength: compressedBound,
            codec: markers ? 'vmdk-marker' : 'zlib',
            expectLba: g * grainSize,
          });
          continue;
        }
        if (off + grainBytes > fileSize) throw truncated('vmdk', 'grains');
        list.data(a, b, off + (a - gs));
      }
    }
    return list.items;
  }

  const subformat = createType ?? (markers ? 'streamOptimized' : 'monolithicSparse');
  return mappedImage({ format: 'vmdk', subformat, virtualSize, notices, source, map });
}
