// Two accounts on one emulator (--account): the second can neither see, read, build on nor delete the first's
// snapshot; each call answers as the service does for a snapshot that is not there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  EBSClient,
  StartSnapshotCommand,
  PutSnapshotBlockCommand,
  CompleteSnapshotCommand,
  ListSnapshotBlocksCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
} from '@aws-sdk/client-ebs';
import { EC2Client, DescribeSnapshotsCommand, DeleteSnapshotCommand } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';

const BLOCK = 524288;
const region = 'us-east-1';

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected a failure');
}

describe('accounts on one emulator', () => {
  let emu: SpawnedEmulator;
  let a: { ebs: EBSClient; ec2: EC2Client };
  let b: { ebs: EBSClient; ec2: EC2Client };
  let id: string;
  let token: string;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '0', '--account', 'AKIDOTHER:othersecret:444455556666']);
    const make = (accessKeyId: string, secretAccessKey: string) => ({
      ebs: new EBSClient({ endpoint: emu.url, region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 }),
      ec2: new EC2Client({ endpoint: emu.url, region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 }),
    });
    a = make('test', 'test');
    b = make('AKIDOTHER', 'othersecret');
    id = (await a.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    const data = new Uint8Array(BLOCK).fill(9);
    const sum = createHash('sha256').update(data).digest();
    await a.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: data, DataLength: BLOCK, Checksum: sum.toString('base64'), ChecksumAlgorithm: 'SHA256' }));
    await a.ebs.send(
      new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1, Checksum: createHash('sha256').update(sum).digest('base64'), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
    );
    for (let i = 0; i < 50; i++) {
      const s = (await a.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }))).Snapshots?.[0];
      if (s?.State === 'completed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
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
