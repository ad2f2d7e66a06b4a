// Node-only: bootable-looking disks made at test time with sgdisk, mkfs.vfat and mtools. Imported by tests only.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync, existsSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 1024 * 1024;
const dir = join(tmpdir(), 'blockport-boot-fixtures-v1');

/** A minimal PE/COFF header for `machine` (0x8664 x86_64, 0xaa64 arm64). */
export function peStub(machine: number): Uint8Array {
  const b = new Uint8Array(1024);
  b.set([0x4d, 0x5a]);
  new DataView(b.buffer).setUint32(0x3c, 0x80, true);
  b.set([0x50, 0x45, 0, 0], 0x80);
  new DataView(b.buffer).setUint16(0x84, machine, true);
  return b;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' });
}

/** A FAT volume image of `mib` MiB with `files` (path under the volume → bytes). */
function fatImage(path: string, mib: number, fatBits: 12 | 16 | 32, files: Record<string, Uint8Array>): void {
  run('truncate', ['-s', `${mib}M`, path]);
  run('mkfs.vfat', ['-F', String(fatBits), ...(fatBits === 32 ? ['-s', '1'] : []), path]);
  const made = new Set<string>();
  for (const [name, bytes] of Object.entries(files)) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!made.has(d)) run('mmd', ['-i', path, `::/${d}`]);
      made.add(d);
    }
    const src = `${path}.${parts.at(-1)}`;
    writeFileSync(src, bytes);
    run('mcopy', ['-i', path, src, `::/${name}`]);
  }
}

function place(disk: string, at: number, partImage: string): void {
  run('dd', [`if=${partImage}`, `of=${disk}`, 'bs=1M', `seek=${at / MiB}`, 'conv=notrunc', 'status=none']);
}

/** An MBR sector: some x86 boot code (or none) and one partition entry. */
function mbr(disk: string, bootCode: boolean, type: number, startLba: number, sectors: number): void {
  const s = new Uint8Array(512);
  if (bootCode) s.set([0xfa, 0x31, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xfb, 0xeb, 0xfe]);
  const e = 446;
  s[e] = 0x80;
  s[e + 4] = type;
  new DataView(s.buffer).setUint32(e + 8, startLba, true);
  new DataView(s.buffer).setUint32(e + 12, sectors, true);
  s[510] = 0x55;
  s[511] = 0xaa;
  const fd = openSync(disk, 'r+');
  writeSync(fd, s, 0, 512, 0);
  closeSync(fd);
}

/** The boot fixtures by name, as raw disk paths, made once per machine. */
export const BOOT_FIXTURES = {
  'gpt-arm64': { architecture: 'arm64', bootMode: 'uefi', partitionTable: 'gpt' },
  'gpt-x64-bios': { architecture: 'x86_64', bootMode: 'uefi-preferred', partitionTable: 'gpt' },
  'mbr-bios': { architecture: 'x86_64', bootMode: 'legacy-bios', partitionTable: 'mbr' },
  'mbr-esp-fat12-vendor': { architecture: 'x86_64', bootMode: 'uefi', partitionTable: 'mbr' },
  blank: { architecture: null, bootMode: null, partitionTable: 'none' },
} as const;
export type BootFixture = keyof typeof BOOT_FIXTURES;

/** Path of a raw boot fixture, made on first use. */
export function bootFixture(name: BootFixture): string {
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, `${name}.raw`);
  if (existsSync(disk)) return disk;
  // Per-process scratch names: test files running in parallel may make the same fixture at once.
  const tmp = `${disk}.${process.pid}.tmp`;
  run('truncate', ['-s', '0', tmp]);
  run('truncate', ['-s', '64M', tmp]);
  const esp = join(dir, `${name}.${process.pid}.esp`);
  if (name === 'gpt-arm64') {
    run('sgdisk', ['-n1:2048:+40M', '-t1:ef00', '-n2:0:0', '-t2:8300', tmp]);
    fatImage(esp, 40, 32, { 'EFI/BOOT/BOOTAA64.EFI': peStub(0xaa64) });
    place(tmp, MiB, esp);
  } else if (name === 'gpt-x64-bios') {
    run('sgdisk', ['-n1:2048:+1M', '-t1:ef02', '-n2:0:+32M', '-t2:ef00', '-n3:0:0', '-t3:8300', tmp]);
    fatImage(esp, 32, 16, { 'EFI/BOOT/BOOTX64.EFI': peStub(0x8664) });
    place(tmp, 2 * MiB, esp);
  } else if (name === 'mbr-bios') {
    mbr(tmp, true, 0x83, 2048, 2048 * 60);
  } else if (name === 'mbr-esp-fat12-vendor') {
    mbr(tmp, false, 0xef, 2048, 2048 * 4);
    fatImage(esp, 4, 12, { 'EFI/debian/shimx64.efi': peStub(0x8664), 'EFI/debian/grub.cfg': new TextEncoder().encode('x') });
    place(tmp, MiB, esp);
  }
  run('mv', [tmp, disk]);
  run('rm', ['-f', esp, `${esp}.BOOTAA64.EFI`, `${esp}.BOOTX64.EFI`, `${esp}.shimx64.efi`, `${esp}.grub.cfg`]);
  return disk;
}

/** A directory tree written from path → content ('->target' makes a symlink, '' with a trailing / a directory). */
function tree(root: string, files: Record<string, string>): void {
  run('rm', ['-rf', root]);
  for (const [path, body] of Object.entries(files)) {
    const full = join(root, path);
    if (path.endsWith('/')) {
      mkdirSync(full, { recursive: true });
      continue;
    }
    mkdirSync(join(full, '..'), { recursive: true });
    if (body.startsWith('->')) symlinkSync(body.slice(2), full);
    else writeFileSync(full, body);
  }
}

/** Root file systems for the Nitro checks: 'ready' passes each, 'unready' fails each. */
export function nitroFixture(name: 'ready' | 'unready'): string {
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, `nitro-${name}.raw`);
  if (existsSync(disk)) return disk;
  const root = join(dir, `nitro-${name}.${process.pid}.tree`);
  const fsImage = join(dir, `nitro-${name}.${process.pid}.ext4`);
  if (name === 'ready') {
    tree(root, {
      'boot/config-6.1.0-test': 'CONFIG_NVME_CORE=y\nCONFIG_BLK_DEV_NVME=y\nCONFIG_ENA_ETHERNET=m\n',
      'usr/lib/modules/6.1.0-test/kernel/drivers/net/ethernet/amazon/ena/ena.ko.xz': 'module',
      lib: '->usr/lib',
      'etc/fstab': '# static file system information\nUUID=0a1b2c3d-0000-4000-8000-000000000001 / ext4 defaults 0 1\nLABEL=EFI /boot/efi vfat defaults 0 2\n',
      'etc/cloud/cloud.cfg': 'users: [default]\n',
      'usr/bin/cloud-init': '#!/bin/sh\n',
    });
  } else {
    tree(root, {
      'boot/config-5.4.0-old': '# CONFIG_BLK_DEV_NVME is not set\nCONFIG_E1000=y\n',
      'lib/modules/5.4.0-old/kernel/drivers/': '',
      'etc/fstab': '/dev/xvda1 / ext4 defaults 0 1\n/dev/sdb1 /data ext4 defaults 0 2\n',
      'etc/hostname': 'old\n',
    });
  }
  rmSync(fsImage, { force: true });
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, fsImage, '24M']);
  const tmp = `${disk}.${process.pid}.tmp`;
  if (name === 'ready') {
    // Partitioned, like a real disk: GPT with the root at 1 MiB.
    run('truncate', ['-s', '0', tmp]);
    run('truncate', ['-s', '32M', tmp]);
    run('sgdisk', ['-n1:2048:+24M', '-t1:8300', tmp]);
    place(tmp, MiB, fsImage);
  } else {
    run('cp', [fsImage, tmp]);
  }
  run('mv', [tmp, disk]);
  run('rm', ['-rf', root, fsImage]);
  return disk;
}
