// What the HTTP emulator's tests share: the default keys, blocks and their checksums, SDK clients, errors as data,
// completed snapshots and admin calls.
import { createHash } from 'node:crypto';
import { CompleteSnapshotCommand, EBSClient, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { SpawnedEmulator } from '../spawn-emulator.ts';

export const BLOCK = 524288;
export const region = 'us-east-1';
/** The emulator's default key pair. */
export const testCreds = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A 512 KiB block marked with `fill` every 4 KiB. */
export function block(fill: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i += 4096) b[i] = fill;
  b[0] = fill;
  return b;
}

/** Raw SHA-256 digest. */
export const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
/** base64 SHA-256, as x-amz-Checksum wants it. */
export const b64 = (b: Uint8Array): string => sha(b).toString('base64');
/** LINEAR aggregate of blocks in ascending index order. */
export const aggregate = (blocks: Uint8Array[]): string => createHash('sha256').update(Buffer.concat(blocks.map(sha))).digest('base64');

/** EBS and EC2 clients for `url` that never retry. */
export function clients(url: string, credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>) = testCreds, extra: Record<string, unknown> = {}) {
  const ebs = new EBSClient({ endpoint: url, region, credentials, maxAttempts: 1, ...extra });
  const ec2 = new EC2Client({ endpoint: url, region, credentials, maxAttempts: 1 });
  return { ebs, ec2 };
}

/** Sends PutSnapshotBlock as an unsigned-body operation: the signer does not hash the block. */
export function unsignedPuts(ebs: EBSClient): EBSClient {
  ebs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutSnapshotBlockCommand') {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'unsignedPayload' },
  );
  return ebs;
}

/** The service error `p` rejects with, as data; throws if `p` succeeds. */
export async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string; reason?: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; Reason?: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message, reason: err.Reason };
  }
  throw new Error('expected a failure');
}

/** Polls DescribeSnapshots until the snapshot is in state `want`. */
export async function waitState(ec2: EC2Client, id: string, want: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const r = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
    const s = r.Snapshots?.[0];
    if (s?.State === want) return s as Record<string, unknown>;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${id} never reached ${want}`);
}

/** Start, put blocks, complete with the right aggregate, wait until completed. */
export async function makeSnapshot(ebs: EBSClient, ec2: EC2Client, blocks: Record<number, Uint8Array>, parent?: string): Promise<string> {
  const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: parent }));
  const id = s.SnapshotId!;
  const indices = Object.keys(blocks).map(Number).sort((a, b) => a - b);
  for (const i of indices) {
    await ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: i, BlockData: blocks[i], DataLength: BLOCK, Checksum: b64(blocks[i]!), ChecksumAlgorithm: 'SHA256' }));
  }
  await ebs.send(
    new CompleteSnapshotCommand({
      SnapshotId: id,
      ChangedBlocksCount: indices.length,
      Checksum: aggregate(indices.map((i) => blocks[i]!)),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  await waitState(ec2, id, 'completed');
  return id;
}

/** An admin call (GET, or POST with `body`): its HTTP status and its JSON answer. */
export async function admin(emu: SpawnedEmulator, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await emu.admin(path, body);
  return { status: r.status, ...((await r.json()) as Record<string, unknown>) };
}
