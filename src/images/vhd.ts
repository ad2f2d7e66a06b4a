import { ImageFormatError, type ByteSource, type DiskImage } from './types.ts';
import { checkVirtualSize, corrupt, readExact, truncated } from './byte-source.ts';
import { mappedImage, PieceList, type Piece } from './mapped-image.ts';
import { shared } from './file-claims.ts';

const MAX_BAT_BYTES = 64 * 1024 * 1024;
const MAX_GEOMETRY = 65535 * 16 * 255;

/** True when these 512 bytes start with the VHD footer cookie `conectix`. */
export function isVhdFooter(b: Uint8Array): boolean {
  return b.length >= 8 && new TextDecoder('latin1').decode(b.subarray(0, 8)) === 'conectix';
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at) * 2 ** 32 + dv.getUint32(at + 4);
}

/** Whether a footer's checksum matches its bytes. */
function footerChecksumOk(footer: Uint8Array, dv: DataView): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  return (~sum >>> 0) === dv.getUint32(64);
}

/** The disk's size as qemu computes it: CHS geometry for Virtual PC / old qemu images, the footer's size otherwise. */
function footerVirtualSize(footer: Uint8Array, dv: DataView): number {
  const creator = new TextDecoder('latin1').decode(footer.subarray(28, 32));
  const chs = dv.getUint16(56) * footer[58]! * footer[59]!;
  const useChs = !['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'].includes(creator);
  const currentSize = u64(dv, 48);
  return !useChs || chs === MAX_GEOMETRY ? Math.floor(currentSize / 512) * 512 : chs * 512;
}

/**
 * When `tail`, the last 512 bytes of a stream of `streamSize` bytes, is the footer of a fixed VHD (cookie, checksum,
 * disk type 2, a disk that fits before it): the size of the disk in front of it. Undefined otherwise. A fixed VHD is
 * a raw disk with this footer after it; read front to back, nothing else tells it from a raw disk.
 */
export function fixedVhdDiskSize(tail: Uint8Array, streamSize: number): number | undefined {
  if (tail.length !== 512 || streamSize < 1024 || !isVhdFooter(tail)) return undefined;
  const dv = new DataView(tail.buffer, tail.byteOffset, 512);
  if (!footerChecksumOk(tail, dv) || dv.getUint32(60) !== 2) return undefined;
  const size = footerVirtualSize(tail, dv);
  return size > 0 && size <= streamSize - 512 ? size : undefined;
}

/** Opens a VHD (Virtual PC / Hyper-V): fixed or dynamic; refuses differencing disks. */
export async function openVhd(source: ByteSource): Promise<DiskImage> {
  if (source.size < 512) throw truncated('vhd', 'footer');
  // A dynamic disk starts with a footer copy; a fixed one has it only at the end.
  const first = await readExact(source, 0, 512, 'vhd', 'footer');
  const footer = isVhdFooter(first) ? first : await readExact(source, source.size - 512, 512, 'vhd', 'footer');
  if (!isVhdFooter(footer)) throw corrupt('vhd', 'its footer cookie is missing');
  const dv = new DataView(footer.buffer, footer.byteOffset, 512);
  if (!footerChecksumOk(footer, dv)) throw corrupt('vhd', 'its footer checksum does not match');
  const diskType = dv.getUint32(60);
  if (diskType === 4) {
    throw new ImageFormatError(
      'This VHD is a differencing disk: it holds only the changes on top of a parent VHD, so it is not a whole disk. Merge it into its parent in Hyper-V (Edit Disk → Merge) or with `qemu-img convert -O vpc -o subformat=dynamic child.vhd whole.vhd`, and pick the result.',
      'vhd',
      'backing-file',
    );
  }
  if (diskType !== 2 && diskType !== 3) throw corrupt('vhd', `its disk type is ${diskType} (2 fixed, 3 dynamic)`);
  const virtualSize = footerVirtualSize(footer, dv);
  checkVirtualSize('vhd', virtualSize);

  if (diskType === 2) {
    if (virtualSize > source.size - 512) throw truncated('vhd', 'data (the footer says the disk is larger than the file)');
    const map = async (start: number, end: number): Promise<Piece[]> => [{ kind: 'data', start, end, fileOffset: start }];
    return mappedImage({ format: 'vhd', subformat: 'fixed', virtualSize, notices: [], source, map });
  }

  const dataOffset = u64(dv, 16);
  const dyn = await readExact(source, dataOffset, 1024, 'vhd', 'dynamic disk header');
  const hv = new DataView(dyn.buffer, dyn.byteOffset, 1024);
  if (new TextDecoder('latin1').decode(dyn.subarray(0, 8)) !== 'cxsparse') throw corrupt('vhd', 'its dynamic disk header cookie is missing');
  const batOffset = u64(hv, 16);
  const maxEntries = hv.getUint32(28);
  const blockSize = hv.getUint32(32);
  if (blockSize < 512 || blockSize > 256 * 1024 * 1024 || blockSize % 512 !== 0) throw corrupt('vhd', `its block size is ${blockSize} bytes`);
  const blocks = Math.ceil(virtualSize / blockSize);
  if (maxEntries < blocks) throw corrupt('vhd', `its block table has ${maxEntries} entries but the disk needs ${blocks}`);
  if (blocks * 4 > MAX_BAT_BYTES) throw corrupt('vhd', `its block table would need ${blocks * 4} bytes`);
  const batBytes = await readExact(source, batOffset, blocks * 4, 'vhd', 'block allocation table');
  const bat = new DataView(batBytes.buffer, batBytes.byteOffset, batBytes.byteLength);
  const bitmapBytes = Math.ceil(blockSize / 512 / 8 / 512) * 512;
  const fileSize = source.size;
  checkBlocks(bat, blocks, bitmapBytes + blockSize, [
    [0, 512],
    [dataOffset, dataOffset + 1024],
    [batOffset, batOffset + Math.ceil((blocks * 4) / 512) * 512],
  ]);

  async function map(start: number, end: number): Promise<Piece[]> {
    const list = new PieceList();
    for (let i = Math.floor(start / blockSize); i * blockSize < end; i++) {
      const bs = i * blockSize;
      const a = Math.max(start, bs);
      const b = Math.min(end, bs + blockSize);
      const sector = bat.getUint32(i * 4);
      if (sector === 0xffffffff) {
        list.zero(a, b);
        continue;
      }
      const off = sector * 512 + bitmapBytes;
      if (sector === 0 || off + Math.min(blockSize, virtualSize - bs) > fileSize) throw truncated('vhd', 'data blocks');
      list.data(a, b, off + (a - bs));
    }
    return list.items;
  }
  return mappedImage({ format: 'vhd', subformat: 'dynamic', virtualSize, notices: [], source, map });
}

/**
 * Refuses a block table that hands out one place twice (two entries on one block, or a block over the header or the
 * table): a small file could otherwise claim terabytes. Sorting the starts keeps it O(n log n) in time and 8 bytes per block.
 */
function checkBlocks(bat: DataView, blocks: number, span: number, metadata: [number, number][]): void {
  const starts = new Float64Array(blocks);
  let n = 0;
  for (let i = 0; i < blocks; i++) {
    const sector = bat.getUint32(i * 4);
    if (sector !== 0xffffffff) starts[n++] = sector * 512;
  }
  const sorted = starts.subarray(0, n).sort();
  for (let k = 0; k < n; k++) {
    const a = sorted[k]!;
    if (k + 1 < n && sorted[k + 1]! < a + span) throw shared('vhd', 'a data block', sorted[k + 1]!);
    for (const [ms, me] of metadata) if (a < me && ms < a + span) throw shared('vhd', 'a data block', a);
  }
}
