import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { memorySource } from '../byte-source.ts';
import { openImage } from '../open-image.ts';
import { BOOT_FIXTURES, bootFixture, type BootFixture } from '../testing/boot-fixtures.ts';
import { detectBoot, detectBootOf } from './detect-boot.ts';
import { memoryDisk } from './disk-reader.ts';

async function detectFile(path: string) {
  return detectBoot(await openImage(memorySource(new Uint8Array(readFileSync(path)))));
}

function converted(raw: string, format: 'qcow2' | 'vmdk'): string {
  const out = `${raw}.${format}`;
  if (!existsSync(out)) execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, raw, out]);
  return out;
}

describe('boot detection from the disk itself', () => {
  it.each(Object.entries(BOOT_FIXTURES))('%s → its architecture and boot mode', async (name, want) => {
    const got = await detectFile(bootFixture(name as BootFixture));
    expect({ partitionTable: got.partitionTable, architecture: got.architecture, bootMode: got.bootMode }).toEqual(want);
    expect(got.evidence.length).toBeGreaterThan(0);
  });

  it.each(['gpt-arm64', 'gpt-x64-bios', 'mbr-bios', 'blank'] as const)('%s reads the same as qcow2 and VMDK', async (name) => {
    const raw = await detectFile(bootFixture(name));
    expect(await detectFile(converted(bootFixture(name), 'qcow2'))).toEqual(raw);
    expect(await detectFile(converted(bootFixture(name), 'vmdk'))).toEqual(raw);
  });

  it('says in words what it found', async () => {
    const got = await detectFile(bootFixture('gpt-arm64'));
    expect(got.evidence.join(' ')).toMatch(/GPT.*EFI\/BOOT\/BOOTAA64\.EFI built for arm64 → arm64, UEFI/);
    const vendor = await detectFile(bootFixture('mbr-esp-fat12-vendor'));
    expect(vendor.evidence.join(' ')).toMatch(/FAT12\) has EFI\/debian\/shimx64\.efi built for x86_64/);
    expect((await detectFile(bootFixture('blank'))).evidence.join(' ')).toMatch(/choose the architecture and boot mode yourself/);
  });

  it('checks the backup GPT header and reads from it when the primary is damaged', async () => {
    const bytes = new Uint8Array(readFileSync(bootFixture('gpt-arm64')));
    const noBackup = bytes.slice();
    noBackup.fill(0, noBackup.length - 512);
    const a = await detectBootOf(memoryDisk(noBackup));
    expect(a.architecture).toBe('arm64');
    expect(a.evidence.join(' ')).toMatch(/backup GPT header at the end of the disk is missing or damaged/);
    const noPrimary = bytes.slice();
    noPrimary[512 + 20] ^= 0xff;
    const b = await detectBootOf(memoryDisk(noPrimary));
    expect(b.architecture).toBe('arm64');
    expect(b.evidence.join(' ')).toMatch(/read from the backup header/);
  });
});
