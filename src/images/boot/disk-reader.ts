// Byte-addressed reads of a disk image's virtual disk, through its format reader, so boot detection sees the same
// bytes whatever the container (raw, qcow2, VMDK, VHD…).
import { BLOCK_SIZE, type DiskImage } from '../types.ts';

/** Reads virtual-disk bytes at any offset. */
export interface DiskReader {
  readonly size: number;
  /** Bytes [offset, offset+length) of the virtual disk; zeros past its end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A reader over a DiskImage that keeps the last few 512 KiB blocks (partition tables and FAT reads revisit them). */
export function diskReader(image: DiskImage, cacheBlocks = 16): DiskReader {
  const cache = new Map<number, Uint8Array>();
  const block = async (i: number): Promise<Uint8Array> => {
    const hit = cache.get(i);
    if (hit) {
      cache.delete(i);
      cache.set(i, hit);
      return hit;
    }
    const b = i < image.blockCount ? await image.readBlocks(i, 1) : new Uint8Array(BLOCK_SIZE);
    cache.set(i, b);
    if (cache.size > cacheBlocks) cache.delete(cache.keys().next().value!);
    return b;
  };
  return {
    size: image.virtualSize,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const at = offset + done;
        const i = Math.floor(at / BLOCK_SIZE);
        const within = at - i * BLOCK_SIZE;
        const n = Math.min(length - done, BLOCK_SIZE - within);
        out.set((await block(i)).subarray(within, within + n), done);
        done += n;
      }
      return out;
    },
  };
}

/** A reader over bytes in memory (tests). */
export function memoryDisk(bytes: Uint8Array): DiskReader {
  return {
    size: bytes.length,
    async read(offset, length) {
      const out = new Uint8Array(length);
      if (offset < bytes.length) out.set(bytes.subarray(offset, Math.min(bytes.length, offset + length)));
      return out;
    },
  };
}

/** A window [offset, offset+size) of another reader, e.g. one partition. */
export function partitionReader(disk: DiskReader, offset: number, size: number): DiskReader {
  return { size, read: (at, n) => disk.read(offset + at, n) };
}

/** Little-endian readers over a byte array. */
export const le = {
  u16: (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8),
  u32: (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0,
  u64: (b: Uint8Array, o: number): number => le.u32(b, o) + le.u32(b, o + 4) * 2 ** 32,
};
