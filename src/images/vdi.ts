import { BlockState, ImageFormatError, type ByteSource, type DiskImage } from './types.ts';
import { checkVirtualSize, corrupt, readExact, truncated } from './byte-source.ts';
import { mappedImage, PieceList, type Piece } from './mapped-image.ts';
import { TableCache } from './table-cache.ts';
import { FileClaims } from './file-claims.ts';

const SIGNATURE = 0xbeda107f;
// Block map read per page of 16384 entries, so a huge map is never read at once.
const MAP_PAGE = 64 * 1024;

/** Detects VirtualBox VDI by the signature at 0x40 (the text at 0 varies). */
export function isVdi(head: Uint8Array): boolean {
  return head.length >= 0x48 && new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0x40, true) === SIGNATURE;
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
}

/** Opens a VirtualBox VDI 1.1: dynamic or static; refuses differencing and undo images. */
export async function openVdi(source: ByteSource): Promise<DiskImage> {
  const head = await readExact(source, 0, 512, 'vdi', 'header');
  const dv = new DataView(head.buffer, head.byteOffset, 512);
  const version = dv.getUint32(0x44, true);
  if (version !== 0x00010001) {
    throw new ImageFormatError(
      `This VDI has header version ${version >>> 16}.${version & 0xffff}; Blockport reads version 1.1. Convert it with \`VBoxManage clonemedium in.vdi out.vdi\` or \`qemu-img convert -O vdi in.vdi out.vdi\` and pick the result.`,
      'vdi',
      'unsupported',
    );
  }
  const type = dv.getUint32(0x4c, true);
  const parent = head.subarray(0x1b8, 0x1c8);
  if (type === 3 || type === 4 || parent.some((b) => b !== 0)) {
    throw new ImageFormatError(
      `This VDI is ${type === 3 ? 'an undo' : 'a differencing'} image: it holds only the changes on top of a parent disk (a VirtualBox snapshot), so it is not a whole disk. Clone the current state with \`VBoxManage clonemedium disk SNAPSHOT.vdi whole.vdi\` and pick the result.`,
      'vdi',
      'backing-file',
    );
  }
  if (type !== 1 && type !== 2) throw corrupt('vdi', `its image type is ${type} (1 dynamic, 2 fixed)`);
  const mapOffset = dv.getUint32(0x154, true);
  const dataOffset = dv.getUint32(0x158, true);
  const virtualSize = u64(dv, 0x170);
  const blockSize = dv.getUint32(0x178, true);
  const extra = dv.getUint32(0x17c, true);
  const blocks = dv.getUint32(0x180, true);
  checkVirtualSize('vdi', virtualSize);
  if (extra !== 0) {
    throw new ImageFormatError(
      `This VDI stores ${extra} extra bytes per block, a layout Blockport does not read. Convert it with \`qemu-img convert -O vdi in.vdi out.vdi\` and pick the result.`,
      'vdi',
      'unsupported',
    );
  }
  if (blockSize < 512 || blockSize > 64 * 1024 * 1024 || blockSize % 512 !== 0) throw corrupt('vdi', `its block size is ${blockSize} bytes`);
  const needed = Math.ceil(virtualSize / blockSize);
  if (blocks < needed) throw corrupt('vdi', `its block map has ${blocks} entries but the disk needs ${needed}`);
  if (mapOffset < 512 || mapOffset + needed * 4 > source.size) throw truncated('vdi', 'block map');
  if (dataOffset < mapOffset + needed * 4 && dataOffset + blockSize > mapOffset) throw corrupt('vdi', 'its data area overlaps its block map');
  const cache = new TableCache(source, 'vdi', 'block map');
  const mapBytes = needed * 4;
  const fileSize = source.size;
  // Each data block is handed out once, checked per page of the map when it is first read: a block shared by many
  // entries would let a small file claim terabytes.
  const claims = new FileClaims('vdi', blockSize, dataOffset);
  const checkedPages = new Set<number>();
  const claimPage = (v: DataView, p: number): void => {
    const n = Math.min(v.byteLength, mapBytes - p) / 4;
    for (let k = 0; k < n; k++) {
      const e = v.getUint32(k * 4, true);
      if (e < 0xfffffffe) claims.claim(dataOffset + e * blockSize, blockSize, 'a data block');
    }
  };

  async function map(start: number, end: number): Promise<Piece[]> {
    const list = new PieceList();
    let page = -1;
    let v: DataView | undefined;
    for (let i = Math.floor(start / blockSize); i * blockSize < end; i++) {
      const bs = i * blockSize;
      const a = Math.max(start, bs);
      const b = Math.min(end, bs + blockSize);
      const byte = i * 4;
      const p = Math.floor(byte / MAP_PAGE) * MAP_PAGE;
      if (p !== page || !v) {
        v = await cache.get(mapOffset + p, Math.min(MAP_PAGE, mapBytes - p));
        page = p;
        if (!checkedPages.has(p)) {
          claimPage(v, p);
          checkedPages.add(p);
        }
      }
      const e = v.getUint32(byte - p, true);
      if (e === 0xffffffff) list.zero(a, b);
      else if (e === 0xfffffffe) list.zero(a, b, BlockState.Zero);
      else {
        const off = dataOffset + e * blockSize;
        if (off + (b - bs) > fileSize) throw truncated('vdi', 'data blocks');
        list.data(a, b, off + (a - bs));
      }
    }
    return list.items;
  }
  return mappedImage({ format: 'vdi', subformat: type === 2 ? 'static' : 'dynamic', virtualSize, notices: [], source, map });
}
