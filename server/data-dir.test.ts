// Two emulators on one --data-dir: the second is refused with a sentence (it would lose the first's acknowledged
// writes), the first keeps serving; once it stops, the directory is free again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { EC2Client, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { spawnEmulator } from './spawn-emulator.ts';

const creds = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('one emulator per --data-dir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blockport-lock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second server on the directory with a sentence; the first keeps its writes', async () => {
    const first = await spawnEmulator(['--data-dir', dir]);
    let id: string;
    try {
      const ebs = new EBSClient({ endpoint: first.url, region: 'us-east-1', credentials: creds });
      id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
      const second = spawnEmulator(['--data-dir', dir]);
      await expect(second).rejects.toThrow(/exited with 2[\s\S]*is in use by another emulator \(process \d+\); stop that one first, or start this one with another --data-dir/);
      const ec2 = new EC2Client({ endpoint: first.url, region: 'us-east-1', credentials: creds });
      expect((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots!.map((s) => s.SnapshotId)).toContain(id);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const next = await spawnEmulator(['--data-dir', dir]);
    try {
      const ec2 = new EC2Client({ endpoint: next.url, region: 'us-east-1', credentials: creds });
      expect((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots!.map((s) => s.SnapshotId)).toContain(id);
    } finally {
      await next.stop();
    }
  });
});
