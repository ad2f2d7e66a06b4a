// MBR and GPT partition tables, read from the first and last sectors of the virtual disk.
import { le, type DiskReader } from './disk-reader.ts';

/** What a partition is for, as far as booting goes. */
export type PartitionRole = 'efi-system' | 'bios-boot' | 'linux' | 'other';

/** One partition: where it is and what its type says. */
export interface Partition {
  index: number;
  /** Byte offset and length on the virtual disk. */
  offset: number;
  size: number;
  role: PartitionRole;
  /** GPT type GUID (upper case) or MBR type byte as `0xNN`. */
  type: string;
  active?: boolean;
}

/** A disk's partition table as read. */
export interface PartitionTable {
  kind: 'gpt' | 'mbr' | 'none';
  sectorSize: number;
  partitions: Partition[];
  /** The first 440 bytes of sector 0 hold code (not all zeros): something a BIOS can run. */
  mbrBootCode: boolean;
  /** Facts worth telling (a damaged backup GPT header, a GPT read from its backup). */
  notes: string[];
}

const GUID_ROLE: Record<string, PartitionRole> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'efi-system',
  '21686148-6449-6E6F-744E-656564454649': 'bios-boot',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'linux',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'linux',
  'B921B045-1DF0-41C3-AF44-4C6F280D3FAE': 'linux',
};

function guid(b: Uint8Array, o: number): string {
  const h = (i: number) => b[o + i]!.toString(16).padStart(2, '0');
  const s = (idx: number[]) => idx.map(h).join('');
  return `${s([3, 2, 1, 0])}-${s([5, 4])}-${s([7, 6])}-${s([8, 9])}-${s([10, 11, 12, 13, 14, 15])}`.toUpperCase();
}

let CRC_TABLE: Uint32Array | undefined;
/** CRC-32 (IEEE), as GPT headers and entry arrays carry it. */
export function crc32(b: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface GptHeader {
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

/** A GPT header at `lba` whose signature and header CRC hold, or undefined. */
async function gptHeader(disk: DiskReader, lba: number, sector: number): Promise<GptHeader | undefined> {
  if (lba < 1 || (lba + 1) * sector > disk.size) return undefined;
  const h = await disk.read(lba * sector, sector);
  if (new TextDecoder().decode(h.subarray(0, 8)) !== 'EFI PART') return undefined;
  const headerSize = le.u32(h, 12);
  if (headerSize < 92 || headerSize > sector) return undefined;
  const copy = h.slice(0, headerSize);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== le.u32(h, 16)) return undefined;
  if (le.u64(h, 24) !== lba) return undefined;
  return { entriesLba: le.u64(h, 72), entryCount: le.u32(h, 80), entrySize: le.u32(h, 84), entriesCrc: le.u32(h, 88) };
}

async function gptEntries(disk: DiskReader, h: GptHeader, sector: number): Promise<Partition[] | undefined> {
  if (h.entrySize < 128 || h.entryCount > 16384) return undefined;
  const bytes = await disk.read(h.entriesLba * sector, h.entryCount * h.entrySize);
  if (crc32(bytes) !== h.entriesCrc) return undefined;
  const out: Partition[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const o = i * h.entrySize;
    const type = guid(bytes, o);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = le.u64(bytes, o + 32);
    const last = le.u64(bytes, o + 40);
    out.push({ index: i + 1, offset: first * sector, size: (last - first + 1) * sector, role: GUID_ROLE[type] ?? 'other', type });
  }
  return out;
}

/** Reads the partition table: GPT (primary, checked against its backup), else MBR, else none. */
export async function readPartitionTable(disk: DiskReader): Promise<PartitionTable> {
  const s0 = await disk.read(0, 512);
  const mbrBootCode = s0.subarray(0, 440).some((x) => x !== 0);
  const signed = s0[510] === 0x55 && s0[511] === 0xaa;
  const mbrParts: Partition[] = [];
  let protective = false;
  if (signed) {
    for (let i = 0; i < 4; i++) {
      const o = 446 + i * 16;
      const type = s0[o + 4]!;
      const start = le.u32(s0, o + 8);
      const count = le.u32(s0, o + 12);
      if (type === 0 || count === 0) continue;
      if (type === 0xee) protective = true;
      const role: PartitionRole = type === 0xef ? 'efi-system' : type === 0x83 ? 'linux' : 'other';
      mbrParts.push({ index: i + 1, offset: start * 512, size: count * 512, role, type: `0x${type.toString(16).padStart(2, '0')}`, active: s0[o] === 0x80 });
    }
  }
  for (const sector of [512, 4096]) {
    const lastLba = Math.floor(disk.size / sector) - 1;
    const primary = await gptHeader(disk, 1, sector);
    const backup = await gptHeader(disk, lastLba, sector);
    if (!primary && !backup) continue;
    const notes: string[] = [];
    let parts = primary ? await gptEntries(disk, primary, sector) : undefined;
    if (!primary || !parts) {
      parts = backup ? await gptEntries(disk, backup, sector) : undefined;
      if (parts) notes.push('the primary GPT header or its entries are damaged; the partitions were read from the backup header at the end of the disk');
    } else if (!backup) {
      notes.push('the backup GPT header at the end of the disk is missing or damaged (was the image truncated or grown without moving it?)');
    }
    if (parts) return { kind: 'gpt', sectorSize: sector, partitions: parts, mbrBootCode, notes };
  }
  if (signed && mbrParts.length && !protective) return { kind: 'mbr', sectorSize: 512, partitions: mbrParts, mbrBootCode, notes: [] };
  return { kind: 'none', sectorSize: 512, partitions: [], mbrBootCode: signed && mbrBootCode, notes: [] };
}
