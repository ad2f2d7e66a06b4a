// `blockport upload --register-image` against `npm run emulator`, then boto3 and the AWS CLI read the image like EC2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { copyFileSync, rmSync } from 'node:fs';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { awsEnv, has, run } from './testing/tools.ts';
import { bootFixture } from '../src/images/testing/boot-fixtures.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const env = awsEnv();
const boto3 = has('python3', ['-c', 'import boto3']);
const runHere = (cmd: string, args: string[]) => run(cmd, args, { env, cwd: root });

describe.skipIf(!boto3)('AMIs from an upload, read by boto3', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '300']);
  });
  afterAll(async () => {
    expect(await emu.stop()).toBe(0);
  });

  it('upload --register-image reports an ImageId; boto3 sees it available with the detected values', { timeout: 300_000 }, async () => {
    const image = join(dirname(bootFixture('gpt-arm64')), `register-${process.pid}.raw`);
    copyFileSync(bootFixture('gpt-arm64'), image);
    const up = await runHere(process.execPath, [join(root, 'cli', 'blockport.mjs'), 'upload', image, '--endpoint', emu.url, '--register-image', 'blockport-arm64-test', '--json', '--no-progress']);
    rmSync(image, { force: true });
    if (up.code !== 0) console.error(up.err);
    expect(up.code).toBe(0);
    const report = JSON.parse(up.out) as { SnapshotId: string; ImageId: string; Architecture: string; BootMode: string; State: string };
    expect(report).toMatchObject({ Architecture: 'arm64', BootMode: 'uefi', State: 'available' });
    expect(report.ImageId).toMatch(/^ami-[0-9a-f]+$/);

    const again = await runHere(process.execPath, [join(root, 'cli', 'blockport.mjs'), 'register-image', report.SnapshotId, '--name', 'blockport-arm64-test', '--architecture', 'arm64', '--boot-mode', 'uefi', '--endpoint', emu.url]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/An AMI named “blockport-arm64-test” already exists/);

    const r = await runHere('python3', [join(here, 'conformance', 'test_images_boto3.py'), emu.url, report.ImageId, report.SnapshotId]);
    if (r.code !== 0) console.error(r.out, r.err);
    expect(r.out).toMatch(/\n8 passed, 0 failed/);

    if (has('aws', ['--version'])) {
      const cli = await runHere('aws', ['ec2', 'describe-images', '--image-ids', report.ImageId, '--endpoint-url', emu.url, '--region', 'us-east-1', '--output', 'json']);
      expect(cli.code).toBe(0);
      const img = (JSON.parse(cli.out) as { Images: { State: string; Architecture: string; BlockDeviceMappings: { Ebs: { SnapshotId: string } }[] }[] }).Images[0]!;
      expect(img).toMatchObject({ State: 'available', Architecture: 'arm64' });
      expect(img.BlockDeviceMappings[0]!.Ebs.SnapshotId).toBe(report.SnapshotId);
    }
  });
});
