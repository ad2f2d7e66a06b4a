// A read-only ext2/3/4 reader: superblock, group descriptors, inodes (extents and direct blocks), directories and
// symlinks. Enough to read a few configuration files of a root file system.
import { le, type DiskReader } from './disk-reader.ts';

/** An opened ext file system. */
export interface ExtFs {
  /** Bytes of the file at an absolute path (symlinks followed), or undefined when absent or not a regular file. */
  readFile(path: string, limit?: number): Promise<Uint8Array | undefined>;
  /** Names in the directory at an absolute path, or undefined when it is not a directory. */
  list(path: string): Promise<string[] | undefined>;
  /** Whether anything (file, directory, link) exists at the path. */
  exists(path: string): Promise<boolean>;
}

interface Inode {
  mode: number;
  size: number;
  flags: number;
  block: Uint8Array;
}

const S_IFMT = 0xf000;
const S_IFDIR = 0x4000;
const S_IFREG = 0x8000;
const S_IFLNK = 0xa000;
const EXTENTS_FL = 0x80000;
const INLINE_DATA_FL = 0x10000000;

/** Opens an ext file system, or undefined when the superblock is not ext's. */
export async function openExt(part: DiskReader): Promise<ExtFs | undefined> {
  const sb = await part.read(1024, 1024);
  if (le.u16(sb, 56) !== 0xef53) return undefined;
  const bs = 1024 << le.u32(sb, 24);
  const inodesPerGroup = le.u32(sb, 40);
  const revLevel = le.u32(sb, 76);
  const inodeSize = revLevel === 0 ? 128 : le.u16(sb, 88);
  const incompat = le.u32(sb, 96);
  const is64 = (incompat & 0x80) !== 0;
  const descSize = is64 ? Math.max(32, le.u16(sb, 254)) : 32;
  const gdtBlock = bs === 1024 ? 2 : 1;
  if (bs > 65536 || !inodesPerGroup || inodeSize < 128) return undefined;

  const inode = async (n: number): Promise<Inode> => {
    const group = Math.floor((n - 1) / inodesPerGroup);
    const d = await part.read(gdtBlock * bs + group * descSize, descSize);
    const table = le.u32(d, 8) + (is64 && descSize >= 64 ? le.u32(d, 0x28) * 2 ** 32 : 0);
    const b = await part.read(table * bs + ((n - 1) % inodesPerGroup) * inodeSize, inodeSize);
    return { mode: le.u16(b, 0), size: le.u32(b, 4) + le.u32(b, 108) * 2 ** 32, flags: le.u32(b, 32), block: b.slice(40, 100) };
  };
  /** Physical blocks of an extent tree node, as [logical, physical, count] runs. */
  const extents = async (node: Uint8Array, depthLimit = 8): Promise<[number, number, number][]> => {
    if (le.u16(node, 0) !== 0xf30a || depthLimit < 0) return [];
    const entries = le.u16(node, 2);
    const depth = le.u16(node, 6);
    const out: [number, number, number][] = [];
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      if (depth === 0) {
        let len = le.u16(node, o + 4);
        if (len > 32768) len -= 32768;
        out.push([le.u32(node, o), le.u16(node, o + 6) * 2 ** 32 + le.u32(node, o + 8), len]);
      } else {
        const leaf = le.u32(node, o + 4) + le.u16(node, o + 8) * 2 ** 32;
        out.push(...(await extents(await part.read(leaf * bs, bs), depthLimit - 1)));
      }
    }
    return out;
  };
  const content = async (ino: Inode, limit: number): Promise<Uint8Array> => {
    const size = Math.min(ino.size, limit);
    const out = new Uint8Array(size);
    if (ino.flags & INLINE_DATA_FL) {
      out.set(ino.block.subarray(0, Math.min(size, 60)));
      return out;
    }
    let runs: [number, number, number][];
    if (ino.flags & EXTENTS_FL) runs = await extents(ino.block);
    else runs = Array.from({ length: 12 }, (_, i) => [i, le.u32(ino.block, i * 4), 1] as [number, number, number]).filter((r) => r[1] !== 0);
    for (const [logical, physical, count] of runs) {
      const at = logical * bs;
      if (at >= size) continue;
      const n = Math.min(count * bs, size - at);
      out.set(await part.read(physical * bs, n), at);
    }
    return out;
  };
  const entries = async (ino: Inode): Promise<Map<string, number>> => {
    const b = await content(ino, 16 * 1024 * 1024);
    const out = new Map<string, number>();
    for (let o = 0; o + 8 <= b.length; ) {
      const n = le.u32(b, o);
      const rec = le.u16(b, o + 4);
      const len = b[o + 6]!;
      if (rec < 8) break;
      if (n) out.set(new TextDecoder().decode(b.subarray(o + 8, o + 8 + len)), n);
      o += rec;
    }
    return out;
  };
  /** The inode at a path, symlinks followed (at most 16). */
  const resolve = async (path: string, hops = 16): Promise<Inode | undefined> => {
    const parts = path.split('/').filter((p) => p && p !== '.');
    let dir: string[] = [];
    let cur = await inode(2);
    for (let i = 0; i < parts.length; i++) {
      if ((cur.mode & S_IFMT) !== S_IFDIR) return undefined;
      if (parts[i] === '..') {
        dir.pop();
        cur = await resolveDir(dir);
        continue;
      }
      const n = (await entries(cur)).get(parts[i]!);
      if (!n) return undefined;
      const next = await inode(n);
      if ((next.mode & S_IFMT) === S_IFLNK) {
        if (hops <= 0) return undefined;
        const target = new TextDecoder().decode(next.size < 60 && !(next.flags & EXTENTS_FL) ? next.block.subarray(0, next.size) : await content(next, 4096));
        const rest = parts.slice(i + 1).join('/');
        const base = target.startsWith('/') ? target : `/${[...dir, target].join('/')}`;
        return resolve(`${base}/${rest}`, hops - 1);
      }
      dir = [...dir, parts[i]!];
      cur = next;
    }
    return cur;
  };
  const resolveDir = async (dir: string[]): Promise<Inode> => (await resolve(`/${dir.join('/')}`)) ?? (await inode(2));
  return {
    async readFile(path, limit = 16 * 1024 * 1024) {
      const ino = await resolve(path);
      return ino && (ino.mode & S_IFMT) === S_IFREG ? content(ino, limit) : undefined;
    },
    async list(path) {
      const ino = await resolve(path);
      if (!ino || (ino.mode & S_IFMT) !== S_IFDIR) return undefined;
      return [...(await entries(ino)).keys()].filter((n) => n !== '.' && n !== '..');
    },
    async exists(path) {
      return (await resolve(path)) !== undefined;
    },
  };
}
