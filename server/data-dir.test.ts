// Two emulators on one --data-dir: the second is refused with a sentence (it would lose the first's acknowledged
// writes), the first keeps serving; once it stops, the directory is free again.
import { describe, expect, it } from 'vitest';
import { StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
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
});
