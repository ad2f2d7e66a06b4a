import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { memorySource } from '../byte-source.ts';
import { openImage } from '../open-image.ts';
import { nitroFixture } from '../testing/boot-fixtures.ts';
import { memoryDisk } from './disk-reader.ts';
import { checkNitro, checkNitroOf, type NitroFinding } from './nitro-check.ts';

async function check(path: string): Promise<Record<string, NitroFinding>> {
  const found = await checkNitro(await openImage(memorySource(new Uint8Array(readFileSync(path)))));
  return Object.fromEntries(found.map((f) => [f.check, f]));
}

describe('Nitro checks from an ext4 root made with mke2fs -d', () => {
  it('a ready image passes each check (NVMe built in, ENA as a module through a /lib symlink, fstab by UUID, cloud-init)', async () => {
    const f = await check(nitroFixture('ready'));
    expect(f.filesystem!.text).toMatch(/ext on partition 1/);
    expect(f.nvme).toMatchObject({ level: 'ok', text: expect.stringMatching(/NVMe support built in/) });
    expect(f.ena).toMatchObject({ level: 'ok', text: expect.stringMatching(/ENA support as a module/) });
    expect(f.fstab!.level).toBe('ok');
    expect(f['cloud-init']).toMatchObject({ level: 'ok', text: expect.stringMatching(/cloud-init is present/) });
  });

  it('an unready image gets a warning with what to do for each', async () => {
    const f = await check(nitroFixture('unready'));
    expect(f.nvme).toMatchObject({ level: 'warning', text: expect.stringMatching(/no NVMe driver.*CONFIG_BLK_DEV_NVME=y/) });
    expect(f.ena).toMatchObject({ level: 'warning', text: expect.stringMatching(/no ENA driver/) });
    expect(f.fstab).toMatchObject({ level: 'warning', text: expect.stringMatching(/\/dev\/xvda1 on \/, \/dev\/sdb1 on \/data.*UUID= or LABEL=/) });
    expect(f['cloud-init']).toMatchObject({ level: 'warning', text: expect.stringMatching(/key pair chosen at launch will not reach/) });
  });

  it('reads the same through qcow2', async () => {
    const raw = nitroFixture('ready');
    const q = `${raw}.qcow2`;
    if (!existsSync(q)) execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, q]);
    expect(await check(q)).toEqual(await check(raw));
  });

  it('XFS is reported as not checked', async () => {
    const disk = new Uint8Array(8 * 1024 * 1024);
    disk.set(new TextEncoder().encode('XFSB'));
    const f = await checkNitroOf(memoryDisk(disk));
    expect(f).toEqual([{ check: 'filesystem', level: 'not-checked', text: expect.stringMatching(/holds XFS, which Blockport does not read/) }]);
  });
});
