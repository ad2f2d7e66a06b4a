// A read-only FAT12/16/32 reader: enough to list directories and read files of an EFI system partition.
import { le, type DiskReader } from './disk-reader.ts';

/** One directory entry (short 8.3 name, or the long name when one precedes it). */
export interface FatEntry {
  name: string;
  directory: boolean;
  size: number;
  cluster: number;
}

/** An opened FAT volume. */
export interface FatVolume {
  type: 'FAT12' | 'FAT16' | 'FAT32';
  /** Entries of the directory at `path` ('/' or 'EFI/BOOT'), matched case-insensitively; undefined when absent. */
  list(path: string): Promise<FatEntry[] | undefined>;
  /** The first `limit` bytes of the file at `path`, or undefined when absent. */
  readFile(path: string, limit?: number): Promise<Uint8Array | undefined>;
}

/** Opens a FAT volume, or undefined when the boot sector is not FAT's. */
export async function openFat(part: DiskReader): Promise<FatVolume | undefined> {
  const bs = await part.read(0, 512);
  const bps = le.u16(bs, 11);
  const spc = bs[13]!;
  const reserved = le.u16(bs, 14);
  const fats = bs[16]!;
  const rootEntries = le.u16(bs, 17);
  const total = le.u16(bs, 19) || le.u32(bs, 32);
  const fatSize = le.u16(bs, 22) || le.u32(bs, 36);
  if (![512, 1024, 2048, 4096].includes(bps) || !spc || (spc & (spc - 1)) !== 0 || !reserved || !fats || !fatSize || !total) return undefined;
  if (bs[510] !== 0x55 || bs[511] !== 0xaa) return undefined;
  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const dataStart = reserved + fats * fatSize + rootSectors;
  const clusters = Math.floor((total - dataStart) / spc);
  const type = clusters < 4085 ? 'FAT12' : clusters < 65525 ? 'FAT16' : 'FAT32';
  const clusterBytes = spc * bps;
  const fatOffset = reserved * bps;
  const rootCluster = type === 'FAT32' ? le.u32(bs, 44) : 0;
  const eoc = type === 'FAT12' ? 0xff8 : type === 'FAT16' ? 0xfff8 : 0x0ffffff8;

  const next = async (c: number): Promise<number> => {
    if (type === 'FAT12') {
      const o = fatOffset + Math.floor(c * 1.5);
      const v = le.u16(await part.read(o, 2), 0);
      return c & 1 ? v >> 4 : v & 0xfff;
    }
    if (type === 'FAT16') return le.u16(await part.read(fatOffset + c * 2, 2), 0);
    return le.u32(await part.read(fatOffset + c * 4, 4), 0) & 0x0fffffff;
  };
  /** Bytes of a cluster chain, up to `limit`. */
  const chain = async (first: number, limit: number): Promise<Uint8Array> => {
    const parts: Uint8Array[] = [];
    let got = 0;
    const seen = new Set<number>();
    for (let c = first; c >= 2 && c < eoc && c < clusters + 2 && got < limit && !seen.has(c); c = await next(c)) {
      seen.add(c);
      const b = await part.read((dataStart + (c - 2) * spc) * bps, clusterBytes);
      parts.push(b);
      got += b.length;
    }
    const out = new Uint8Array(Math.min(got, limit));
    let at = 0;
    for (const p of parts) {
      const n = Math.min(p.length, out.length - at);
      out.set(p.subarray(0, n), at);
      at += n;
    }
    return out;
  };
  const parse = (b: Uint8Array): FatEntry[] => {
    const out: FatEntry[] = [];
    let long: string[] = [];
    for (let o = 0; o + 32 <= b.length; o += 32) {
      const first = b[o]!;
      if (first === 0) break;
      if (first === 0xe5) {
        long = [];
        continue;
      }
      const attr = b[o + 11]!;
      if (attr === 0x0f) {
        // Long-name pieces come last-first; each holds 13 UTF-16 units.
        const units = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30].map((k) => le.u16(b, o + k));
        const text = String.fromCharCode(...units.filter((u) => u !== 0 && u !== 0xffff));
        long.unshift(text);
        continue;
      }
      if (attr & 0x08) {
        long = [];
        continue;
      }
      // Byte 12 marks short names stored in lower case (Windows NT and mtools write it instead of a long name).
      const lower = (s: string, bit: number) => (b[o + 12]! & bit ? s.toLowerCase() : s);
      const base = lower(new TextDecoder('latin1').decode(b.subarray(o, o + 8)).trimEnd(), 0x08);
      const ext = lower(new TextDecoder('latin1').decode(b.subarray(o + 8, o + 11)).trimEnd(), 0x10);
      const short = ext ? `${base}.${ext}` : base;
      const cluster = (le.u16(b, o + 20) << 16) | le.u16(b, o + 26);
      out.push({ name: long.length ? long.join('') : short, directory: (attr & 0x10) !== 0, size: le.u32(b, o + 28), cluster: type === 'FAT32' ? cluster : cluster & 0xffff });
      long = [];
    }
    return out;
  };
  const rootDir = async (): Promise<FatEntry[]> =>
    parse(type === 'FAT32' ? await chain(rootCluster, 4 * 1024 * 1024) : await part.read((reserved + fats * fatSize) * bps, rootSectors * bps));
  const find = async (path: string): Promise<FatEntry | 'root' | undefined> => {
    const names = path.split('/').filter(Boolean);
    if (!names.length) return 'root';
    let entries = await rootDir();
    for (let i = 0; i < names.length; i++) {
      const e = entries.find((x) => x.name.toUpperCase() === names[i]!.toUpperCase() && x.name !== '.' && x.name !== '..');
      if (!e) return undefined;
      if (i === names.length - 1) return e;
      if (!e.directory) return undefined;
      entries = parse(await chain(e.cluster, 4 * 1024 * 1024));
    }
    return undefined;
  };
  return {
    type,
    async list(path) {
      const e = await find(path);
      if (e === 'root') return rootDir();
      if (!e?.directory) return undefined;
      return parse(await chain(e.cluster, 4 * 1024 * 1024)).filter((x) => x.name !== '.' && x.name !== '..');
    },
    async readFile(path, limit = Number.MAX_SAFE_INTEGER) {
      const e = await find(path);
      if (!e || e === 'root' || e.directory) return undefined;
      return chain(e.cluster, Math.min(e.size, limit));
    },
  };
}
