// Will the image start on a Nitro instance? Warnings read from an ext root file system: NVMe and ENA drivers,
// /etc/fstab device names, cloud-init. Never refusals: other file systems are reported as not checked.
import type { DiskImage } from '../types.ts';
import { diskReader, le, partitionReader, type DiskReader } from './disk-reader.ts';
import { openExt, type ExtFs } from './ext4.ts';
import { readPartitionTable } from './partition-table.ts';

/** One finding: ok, a warning with what to do, or a file system that was not checked. */
export interface NitroFinding {
  check: 'nvme' | 'ena' | 'fstab' | 'cloud-init' | 'filesystem';
  level: 'ok' | 'warning' | 'not-checked';
  text: string;
}

/** The file system found at the start of a partition, by its magic. */
async function fsKind(part: DiskReader): Promise<'ext' | 'xfs' | 'btrfs' | 'ntfs' | undefined> {
  const head = await part.read(0, 4096);
  if (le.u16(head, 1080) === 0xef53) return 'ext';
  if (new TextDecoder().decode(head.subarray(0, 4)) === 'XFSB') return 'xfs';
  if (new TextDecoder('latin1').decode(head.subarray(3, 11)) === 'NTFS    ') return 'ntfs';
  if (part.size > 0x10048 && new TextDecoder().decode(await part.read(0x10040, 8)) === '_BHRfS_M') return 'btrfs';
  return undefined;
}

/** A root file system: an ext volume holding /etc. */
async function isRoot(fs: ExtFs): Promise<boolean> {
  return (await fs.list('/etc')) !== undefined;
}

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** How a kernel option is set in a config file: 'y', 'm' or undefined. */
function option(config: string, name: string): 'y' | 'm' | undefined {
  const m = new RegExp(`^${name}=([ym])$`, 'm').exec(config);
  return m?.[1] as 'y' | 'm' | undefined;
}

async function hasModule(fs: ExtFs, version: string, dir: string, name: string): Promise<boolean> {
  const files = (await fs.list(`/lib/modules/${version}/kernel/${dir}`)) ?? [];
  return files.some((f) => f === `${name}.ko` || f.startsWith(`${name}.ko.`));
}

async function driverFindings(fs: ExtFs): Promise<NitroFinding[]> {
  const versions = new Set<string>();
  for (const f of (await fs.list('/boot')) ?? []) if (f.startsWith('config-')) versions.add(f.slice(7));
  for (const v of (await fs.list('/lib/modules')) ?? []) versions.add(v);
  if (!versions.size) {
    const t = 'No kernel found under /boot or /lib/modules, so NVMe and ENA support were not checked (a kernel outside the root file system, or a unified kernel image).';
    return [
      { check: 'nvme', level: 'not-checked', text: t },
      { check: 'ena', level: 'not-checked', text: t },
    ];
  }
  const version = [...versions].sort().at(-1)!;
  const config = text(await fs.readFile(`/boot/config-${version}`)) ?? '';
  const builtin = text(await fs.readFile(`/lib/modules/${version}/modules.builtin`)) ?? '';
  const drivers = [
    { check: 'nvme' as const, option: 'CONFIG_BLK_DEV_NVME', dir: 'drivers/nvme/host', module: 'nvme', what: 'NVMe', why: 'EBS volumes are NVMe devices on Nitro instances, so the root disk would not be found', fix: 'use a kernel with CONFIG_BLK_DEV_NVME=y, or install the nvme module and include it in the initramfs' },
    { check: 'ena' as const, option: 'CONFIG_ENA_ETHERNET', dir: 'drivers/net/ethernet/amazon/ena', module: 'ena', what: 'ENA', why: 'Nitro instances have only ENA network interfaces, so the instance would have no network', fix: 'use a kernel with CONFIG_ENA_ETHERNET=y or =m and its ena module (Linux 4.9 and later include it)' },
  ];
  const out: NitroFinding[] = [];
  for (const d of drivers) {
    const set = option(config, d.option);
    const mod = await hasModule(fs, version, d.dir, d.module);
    const inBuiltin = builtin.includes(`/${d.module}.ko`);
    if (set === 'y' || inBuiltin) out.push({ check: d.check, level: 'ok', text: `Kernel ${version} has ${d.what} support built in.` });
    else if (mod) out.push({ check: d.check, level: 'ok', text: `Kernel ${version} has ${d.what} support as a module (${d.module}).` });
    else if (set === 'm') out.push({ check: d.check, level: 'warning', text: `Kernel ${version} builds ${d.what} as a module, but ${d.module}.ko is not under /lib/modules/${version}: ${d.why}. Install the module (and add it to the initramfs).` });
    else out.push({ check: d.check, level: 'warning', text: `Kernel ${version} has no ${d.what} driver: ${d.why}. To fix it, ${d.fix}.` });
  }
  return out;
}

async function fstabFinding(fs: ExtFs): Promise<NitroFinding> {
  const fstab = text(await fs.readFile('/etc/fstab'));
  if (fstab === undefined) return { check: 'fstab', level: 'ok', text: 'No /etc/fstab: nothing names a disk device.' };
  const named = fstab
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] && !f[0].startsWith('#') && /^\/dev\/(sd|xvd|hd)[a-z]+\d*$/.test(f[0]))
    .map((f) => `${f[0]} on ${f[1] ?? '?'}`);
  if (!named.length) return { check: 'fstab', level: 'ok', text: '/etc/fstab names its file systems by UUID, label or other stable names.' };
  return {
    check: 'fstab',
    level: 'warning',
    text: `/etc/fstab mounts ${named.join(', ')}: on Nitro instances disks are /dev/nvme…n1, so these may not be found at boot. Use UUID= or LABEL= instead.`,
  };
}

async function cloudInitFinding(fs: ExtFs): Promise<NitroFinding> {
  const candidates = [
    ['/usr/bin/cloud-init', 'cloud-init'],
    ['/etc/cloud/cloud.cfg', 'cloud-init'],
    ['/usr/bin/afterburn', 'Afterburn'],
    ['/usr/bin/coreos-metadata', 'Afterburn'],
    ['/usr/share/ec2-instance-connect', 'EC2 Instance Connect'],
    ['/usr/bin/nixos-rebuild', 'NixOS (its EC2 module reads the key pair)'],
  ];
  for (const [path, name] of candidates) if (await fs.exists(path!)) return { check: 'cloud-init', level: 'ok', text: `${name} is present (${path}): a key pair given at launch reaches the instance.` };
  return {
    check: 'cloud-init',
    level: 'warning',
    text: 'Neither cloud-init nor an equivalent was found: the key pair chosen at launch will not reach the instance. Install cloud-init, or bake a login into the image.',
  };
}

/** The Nitro findings of a virtual disk: the first ext root file system found, or why nothing was checked. */
export async function checkNitroOf(disk: DiskReader): Promise<NitroFinding[]> {
  const table = await readPartitionTable(disk);
  const parts = table.kind === 'none' ? [{ index: 0, offset: 0, size: disk.size, role: 'linux' as const }] : table.partitions.filter((p) => p.role === 'linux' || p.role === 'other');
  const skipped: NitroFinding[] = [];
  for (const p of parts) {
    const part = partitionReader(disk, p.offset, p.size);
    const kind = await fsKind(part);
    const where = p.index ? `partition ${p.index}` : 'the disk';
    if (kind === 'xfs' || kind === 'btrfs' || kind === 'ntfs') {
      skipped.push({ check: 'filesystem', level: 'not-checked', text: `${where} holds ${kind === 'xfs' ? 'XFS' : kind === 'btrfs' ? 'Btrfs' : 'NTFS'}, which Blockport does not read: NVMe, ENA, fstab and cloud-init were not checked there.` });
      continue;
    }
    if (kind !== 'ext') continue;
    const fs = await openExt(part);
    if (!fs || !(await isRoot(fs))) continue;
    return [
      { check: 'filesystem', level: 'ok', text: `Root file system: ext on ${where}.` },
      ...(await driverFindings(fs)),
      await fstabFinding(fs),
      await cloudInitFinding(fs),
    ];
  }
  return skipped.length ? skipped : [{ check: 'filesystem', level: 'not-checked', text: 'No ext root file system was found, so nothing was checked for Nitro.' }];
}

/** The Nitro findings of an opened image, read through its format reader. */
export function checkNitro(image: DiskImage): Promise<NitroFinding[]> {
  return checkNitroOf(diskReader(image));
}
