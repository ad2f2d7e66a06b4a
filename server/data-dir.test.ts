// Two emulators on one --data-dir: the second is refused with a sentence (it would lose the first's acknowledged
// writes), the first keeps serving; once it stops, the directory is free again.
import { describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { spawnEmulator } from './spawn-emulator.ts';
import { clients } from './testing/sdk.ts';
import { useTempDir } from './testing/tools.ts';

describe('one emulator per --data-dir', () => {
  const tempDir = useTempDir('blockport-lock-');

  it('refuses a second server on the directory with a sentence; the first keeps its writes', async () => {
    const dir = tempDir();
    const first = await spawnEmulator(['--data-dir', dir]);
    let id: string;
    try {
      const { ebs, ec2 } = clients(first.url);
      id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
      const second = spawnEmulator(['--data-dir', dir]);
      await expect(second).rejects.toThrow(/exited with 2[\s\S]*is in use by another emulator \(process \d+\); stop that one first, or start this one with another --data-dir/);
      expect((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots!.map((s) => s.SnapshotId)).toContain(id);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const next = await spawnEmulator(['--data-dir', dir]);
    try {
      const { ec2 } = clients(next.url);
      expect((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots!.map((s) => s.SnapshotId)).toContain(id);
    } finally {
      await next.stop();
    }
  });

  it('keeps a registered image across a restart on the same directory, and forgets it once deregistered', async () => {
    const dir = tempDir();
    const first = await spawnEmulator(['--data-dir', dir, '--completion-delay-ms', '0']);
    let imageId: string;
    let snapshotId: string;
    try {
      const { ebs, ec2 } = clients(first.url);
      snapshotId = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
      await ebs.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: 0 }));
      imageId = (
        await ec2.send(
          new RegisterImageCommand({
            Name: 'kept-across-restarts',
            Architecture: 'arm64',
            BootMode: 'uefi',
            RootDeviceName: '/dev/xvda',
            VirtualizationType: 'hvm',
            BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3' } }],
          }),
        )
      ).ImageId!;
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const next = await spawnEmulator(['--data-dir', dir, '--completion-delay-ms', '0']);
    try {
      const { ec2 } = clients(next.url);
      const [img] = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!;
      expect(img).toMatchObject({ ImageId: imageId, Name: 'kept-across-restarts', Architecture: 'arm64', BootMode: 'uefi', State: 'available' });
      expect(img!.BlockDeviceMappings![0]!.Ebs!.SnapshotId).toBe(snapshotId);
      // The name stays taken after the restart.
      await expect(
        ec2.send(new RegisterImageCommand({ Name: 'kept-across-restarts', Architecture: 'arm64', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }] })),
      ).rejects.toMatchObject({ name: 'InvalidAMIName.Duplicate' });
      await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
    } finally {
      expect(await next.stop()).toBe(0);
    }
    const last = await spawnEmulator(['--data-dir', dir]);
    try {
      expect((await clients(last.url).ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images).toEqual([]);
    } finally {
      await last.stop();
    }
  });
});
