// Two accounts on one emulator (--account): the second can neither see, read, build on nor delete the first's
// snapshot; each call answers as the service does for a snapshot that is not there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartSnapshotCommand, ListSnapshotBlocksCommand, GetSnapshotBlockCommand, ListChangedBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, DeleteSnapshotCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { BLOCK, clients, errorOf, makeSnapshot } from './testing/sdk.ts';

describe('accounts on one emulator', () => {
  let emu: SpawnedEmulator;
  let a: { ebs: EBSClient; ec2: EC2Client };
  let b: { ebs: EBSClient; ec2: EC2Client };
  let id: string;
  let token: string;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '0', '--account', 'AKIDOTHER:othersecret:444455556666']);
    a = clients(emu.url, { accessKeyId: 'test', secretAccessKey: 'test' });
    b = clients(emu.url, { accessKeyId: 'AKIDOTHER', secretAccessKey: 'othersecret' });
    id = await makeSnapshot(a.ebs, a.ec2, { 0: new Uint8Array(BLOCK).fill(9) });
    token = (await a.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }))).Blocks![0]!.BlockToken!;
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('the second account cannot list, read or diff the first account\'s blocks (ResourceNotFoundException)', async () => {
    const notFound = { name: 'ResourceNotFoundException', status: 404 };
    expect(await errorOf(b.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })))).toMatchObject(notFound);
    expect(await errorOf(b.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockToken: token })))).toMatchObject(notFound);
    expect(await errorOf(b.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: id, SecondSnapshotId: id })))).toMatchObject(notFound);
    expect(await errorOf(b.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: id })))).toMatchObject(notFound);
  });

  it('the second account does not see it in DescribeSnapshots and cannot delete it (InvalidSnapshot.NotFound)', async () => {
    expect(((await b.ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).map((s) => s.SnapshotId)).not.toContain(id);
    expect(await errorOf(b.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })))).toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
    expect(await errorOf(b.ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
  });

  it('the owner still sees, reads and can delete it', async () => {
    expect(((await a.ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).map((s) => s.SnapshotId)).toContain(id);
    const got = await a.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockToken: token }));
    expect((await got.BlockData!.transformToByteArray())[0]).toBe(9);
    await a.ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
    expect(((await a.ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).map((s) => s.SnapshotId)).not.toContain(id);
  });
});
