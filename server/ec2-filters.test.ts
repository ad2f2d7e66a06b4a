// EC2 filters under hostile input, over HTTP: a glob that makes a backtracking regex explode returns (the answer is
// checked, not the time), and thousands of filters or values are refused with EC2's FilterLimitExceeded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { clients, errorOf } from './testing/sdk.ts';

describe('EC2 DescribeSnapshots filters under hostile input', () => {
  let emu: SpawnedEmulator;
  let ec2: EC2Client;
  let id: string;
  beforeAll(async () => {
    emu = await spawnEmulator([]);
    const c = clients(emu.url);
    ec2 = c.ec2;
    id = (await c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'a'.repeat(255), Tags: [{ Key: 'k', Value: 'a'.repeat(255) }] }))).SnapshotId!;
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('answers *a*a*a*a*a*a*b against a long description and tag value (no match), and *a*a*a*a*a*a* (a match)', async () => {
    const none = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'description', Values: ['*a*a*a*a*a*a*b'] }] }));
    expect(none.Snapshots).toEqual([]);
    const tag = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:k', Values: ['*a*a*a*a*a*a*b'] }] }));
    expect(tag.Snapshots).toEqual([]);
    const some = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'description', Values: ['*a*a*a*a*a*a*'] }] }));
    expect(some.Snapshots!.map((s) => s.SnapshotId)).toEqual([id]);
  });

  it('refuses 8000 filters, and 201 values in one filter, with FilterLimitExceeded; 50 filters of 200 values pass', async () => {
    const many = Array.from({ length: 8000 }, (_, i) => ({ Name: 'description', Values: [`*${i}*`] }));
    const e = await errorOf(ec2.send(new DescribeSnapshotsCommand({ Filters: many })));
    expect(e).toMatchObject({ name: 'FilterLimitExceeded', status: 400 });
    expect(e.message).toMatch(/at most 50/);
    const wide = await errorOf(ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'description', Values: Array.from({ length: 201 }, (_, i) => `v${i}`) }] })));
    expect(wide).toMatchObject({ name: 'FilterLimitExceeded', status: 400 });
    const fifty = Array.from({ length: 50 }, () => ({ Name: 'description', Values: ['a*', ...Array.from({ length: 199 }, (_, i) => `v${i}`)] }));
    expect((await ec2.send(new DescribeSnapshotsCommand({ Filters: fifty }))).Snapshots!.map((s) => s.SnapshotId)).toEqual([id]);
  });
});
