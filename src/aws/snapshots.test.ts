import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, EBSClient, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { tagStartedSnapshots } from './aws-clients.ts';
import { BLOCKPORT_TAG } from './iam-policy.ts';
import { deleteSnapshot, listSnapshots, snapshotState } from './snapshots.ts';

let emu: SpawnedEmulator;
let ebs: EBSClient;
let ec2: EC2Client;
beforeAll(async () => {
  emu = await spawnEmulator([]);
  const common = { region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  ebs = new EBSClient(common);
  tagStartedSnapshots(ebs, async () => common.credentials);
  ec2 = new EC2Client(common);
});
afterAll(async () => {
  await emu?.stop();
});

async function waitFor(id: string, state: string) {
  for (;;) {
    const s = await snapshotState(ec2, id);
    if (s?.state === state) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('EC2 view of snapshots (against the emulator server)', () => {
  it('tags what Blockport starts, and reports completed and error states with the state message', async () => {
    const block = new Uint8Array(524288).fill(7);
    const sum = createHash('sha256').update(block).digest('base64');
    const good = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: 'Name', Value: 'good' }] }));
    await ebs.send(new PutSnapshotBlockCommand({ SnapshotId: good.SnapshotId, BlockIndex: 0, BlockData: block, DataLength: 524288, Checksum: sum, ChecksumAlgorithm: 'SHA256' }));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: good.SnapshotId, ChangedBlocksCount: 1 }));
    const done = await waitFor(good.SnapshotId!, 'completed');
    expect(done).toMatchObject({ blockport: true, volumeSizeGiB: 1, tags: { Name: 'good', [BLOCKPORT_TAG.Key]: BLOCKPORT_TAG.Value } });

    const bad = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: bad.SnapshotId, ChangedBlocksCount: 3 }));
    const failed = await waitFor(bad.SnapshotId!, 'error');
    expect(failed.stateMessage).toBe('Changed blocks count mismatch for snapshot');

    expect(await snapshotState(ec2, 'snap-0000000000000dead')).toBeUndefined();
  });

  it('lists the account\'s snapshots (optionally only Blockport\'s) and deletes an abandoned pending one', async () => {
    const pending = await ebs.send(new StartSnapshotCommand({ VolumeSize: 2, Description: 'abandoned' }));
    const plain = new EBSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const foreign = await plain.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'not ours' }));
    const all = await listSnapshots(ec2);
    expect(all.map((s) => s.snapshotId)).toContain(pending.SnapshotId);
    expect(all.find((s) => s.snapshotId === pending.SnapshotId)).toMatchObject({ state: 'pending', description: 'abandoned', blockport: true });
    const mine = await listSnapshots(ec2, { onlyBlockport: true });
    expect(mine.every((s) => s.blockport)).toBe(true);
    expect(mine.map((s) => s.snapshotId)).not.toContain(foreign.SnapshotId);
    expect(all.find((s) => s.snapshotId === foreign.SnapshotId)?.blockport).toBe(false);
    expect(mine.length).toBe(all.length - 1);
    await deleteSnapshot(ec2, pending.SnapshotId!);
    expect((await listSnapshots(ec2)).map((s) => s.snapshotId)).not.toContain(pending.SnapshotId);
  });
});
