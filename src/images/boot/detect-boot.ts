// How a disk boots, read from the disk itself: partition table, EFI system partition loaders, BIOS boot code.
import type { DiskImage } from '../types.ts';
import { diskReader, partitionReader, type DiskReader } from './disk-reader.ts';
import { openFat } from './fat.ts';
import { readPartitionTable, type Partition } from './partition-table.ts';
import { peMachine } from './pe.ts';

/** EC2 architectures a disk can be registered as. */
export type BootArchitecture = 'x86_64' | 'arm64';
/** EC2 boot modes. */
export type BootMode = 'legacy-bios' | 'uefi' | 'uefi-preferred';

/** What the disk says about booting; null where nothing on it decides (the person chooses). */
export interface BootInfo {
  partitionTable: 'gpt' | 'mbr' | 'none';
  architecture: BootArchitecture | null;
  bootMode: BootMode | null;
  /** Sentences saying what was found and what followed from it. */
  evidence: string[];
}

const FALLBACK: Record<string, BootArchitecture> = { 'BOOTX64.EFI': 'x86_64', 'BOOTAA64.EFI': 'arm64' };
const LOADER_HEAD = 4096;

/** Loaders on one EFI system partition: the removable-media path first, then every EFI/<vendor>/*.EFI. */
async function espLoaders(disk: DiskReader, p: Partition, evidence: string[]): Promise<Set<BootArchitecture>> {
  const found = new Set<BootArchitecture>();
  const fat = await openFat(partitionReader(disk, p.offset, p.size));
  if (!fat) {
    evidence.push(`Partition ${p.index} is marked as an EFI system partition but holds no FAT file system.`);
    return found;
  }
  for (const [name, fallback] of Object.entries(FALLBACK)) {
    const head = await fat.readFile(`EFI/BOOT/${name}`, LOADER_HEAD);
    if (!head) continue;
    const m = peMachine(head);
    const arch = m === 'x86_64' || m === 'arm64' ? m : m === undefined ? fallback : undefined;
    evidence.push(
      arch
        ? `EFI system partition (partition ${p.index}, ${fat.type}) has EFI/BOOT/${name}${m ? ` built for ${arch}` : ''} → ${arch}, UEFI.`
        : `EFI system partition (partition ${p.index}) has EFI/BOOT/${name}, built for a CPU EC2 does not offer.`,
    );
    if (arch) found.add(arch);
  }
  if (found.size) return found;
  for (const vendor of (await fat.list('EFI')) ?? []) {
    if (!vendor.directory || vendor.name.toUpperCase() === 'BOOT') continue;
    for (const f of (await fat.list(`EFI/${vendor.name}`)) ?? []) {
      if (f.directory || !/\.efi$/i.test(f.name)) continue;
      const m = peMachine((await fat.readFile(`EFI/${vendor.name}/${f.name}`, LOADER_HEAD)) ?? new Uint8Array());
      if (m === 'x86_64' || m === 'arm64') {
        evidence.push(`EFI system partition (partition ${p.index}, ${fat.type}) has EFI/${vendor.name}/${f.name} built for ${m} → ${m}, UEFI.`);
        found.add(m);
      }
    }
  }
  if (!found.size) evidence.push(`EFI system partition (partition ${p.index}, ${fat.type}) holds no UEFI loader EC2 can start.`);
  return found;
}

/** Detects architecture and boot mode of a virtual disk. */
export async function detectBootOf(disk: DiskReader): Promise<BootInfo> {
  const table = await readPartitionTable(disk);
  const evidence: string[] = [];
  const n = table.partitions.length;
  evidence.push(
    table.kind === 'gpt'
      ? `GPT partition table with ${n} partition${n === 1 ? '' : 's'}.`
      : table.kind === 'mbr'
        ? `MBR partition table with ${n} partition${n === 1 ? '' : 's'}.`
        : 'No partition table (neither GPT nor MBR).',
  );
  for (const note of table.notes) evidence.push(`Note: ${note}.`);
  const uefi = new Set<BootArchitecture>();
  for (const p of table.partitions.filter((x) => x.role === 'efi-system')) for (const a of await espLoaders(disk, p, evidence)) uefi.add(a);
  let legacy = false;
  const biosBoot = table.partitions.find((p) => p.role === 'bios-boot');
  if (biosBoot) {
    legacy = true;
    evidence.push(`BIOS boot partition (partition ${biosBoot.index}) holds a boot loader for BIOS → legacy BIOS on x86_64.`);
  }
  if (table.kind !== 'none' && table.mbrBootCode) {
    legacy = true;
    evidence.push(`The first sector holds boot code${table.kind === 'gpt' ? ' (in the protective MBR)' : ''} → legacy BIOS on x86_64.`);
  }
  const base = { partitionTable: table.kind, evidence };
  if (uefi.size > 1) {
    evidence.push('Loaders for both x86_64 and arm64 were found: choose the architecture yourself.');
    return { ...base, architecture: null, bootMode: 'uefi' };
  }
  const arch = [...uefi][0];
  if (arch === 'arm64') {
    if (legacy) evidence.push('BIOS boot code is ignored: arm64 instances start only through UEFI.');
    return { ...base, architecture: 'arm64', bootMode: 'uefi' };
  }
  if (arch === 'x86_64') {
    if (legacy) evidence.push('Both UEFI and BIOS paths are present → uefi-preferred (UEFI where the instance type supports it, else BIOS).');
    return { ...base, architecture: 'x86_64', bootMode: legacy ? 'uefi-preferred' : 'uefi' };
  }
  if (legacy) return { ...base, architecture: 'x86_64', bootMode: 'legacy-bios' };
  evidence.push('Nothing on the disk says how it boots: choose the architecture and boot mode yourself.');
  return { ...base, architecture: null, bootMode: null };
}

/** Detects how an opened image boots, reading through its format reader. */
export function detectBoot(image: DiskImage): Promise<BootInfo> {
  return detectBootOf(diskReader(image));
}
