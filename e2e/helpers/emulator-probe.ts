// Runs in the page (served by Vite): reads a snapshot back through the real SDK and the in-browser emulator.
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { openBrowserEmulator } from '../../src/emulator/index.ts';

const BLOCK_SIZE = 524288;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let s = '';
  for (const b of d) s += String.fromCharCode(b);
  return btoa(s);
}

/** What the probe reports about one snapshot. */
export interface SnapshotReadBack {
  state: string;
  stateMessage?: string;
  volumeSizeGiB: number;
  /** base64 SHA-256 per block index as read back (holes read as zeros). */
  digests: string[];
  /** Indices listed (written) in the snapshot. */
  listed: number[];
}

/** Lists and reads every block of a snapshot through the SDK; `blockCount` blocks are compared. */
export async function readBack(snapshotId: string, blockCount: number, dbName = 'blockport-emulator'): Promise<SnapshotReadBack> {
  const { ebs, ec2 } = await openBrowserEmulator(dbName);
  const described = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  const snap = described.Snapshots?.[0];
  const tokens = new Map<number, string>();
  let volumeSizeGiB = snap?.VolumeSize ?? 0;
  if (snap?.State === 'completed') {
    let NextToken: string | undefined;
    do {
      const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken, MaxResults: 10000 }));
      for (const b of page.Blocks ?? []) tokens.set(b.BlockIndex!, b.BlockToken!);
      volumeSizeGiB = page.VolumeSize ?? volumeSizeGiB;
      NextToken = page.NextToken ?? undefined;
    } while (NextToken);
  }
  const zero = await sha256(new Uint8Array(BLOCK_SIZE));
  const digests: string[] = [];
  for (let i = 0; i < blockCount; i++) {
    const token = tokens.get(i);
    if (!token) {
      digests.push(zero);
      continue;
    }
    const out = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: i, BlockToken: token }));
    const bytes = await out.BlockData!.transformToByteArray();
    digests.push(await sha256(bytes));
  }
  return { state: snap?.State ?? 'missing', stateMessage: snap?.StateMessage, volumeSizeGiB, digests, listed: [...tokens.keys()].sort((a, b) => a - b) };
}

/** How often each block of a snapshot was put (the emulator counts every PutSnapshotBlock). */
export async function putCounts(snapshotId: string, dbName = 'blockport-emulator'): Promise<Record<string, number>> {
  const { model } = await openBrowserEmulator(dbName);
  return model.putCounts(snapshotId);
}

/** Every snapshot's id and state, and the total number of puts the emulator has seen. */
export async function emulatorSummary(dbName = 'blockport-emulator'): Promise<{ snapshots: { id: string; state: string }[]; totalPuts: number }> {
  const { model } = await openBrowserEmulator(dbName);
  const dump = await model.dump();
  let totalPuts = 0;
  for (const s of dump.snapshots) for (const n of Object.values(s.putsByIndex)) totalPuts += n;
  return { snapshots: dump.snapshots.map((s) => ({ id: s.id, state: s.state })), totalPuts };
}

/** Deletes a snapshot as EC2 DeleteSnapshot would (the "snapshot vanished" case). */
export async function deleteSnapshot(snapshotId: string, dbName = 'blockport-emulator'): Promise<boolean> {
  const { model } = await openBrowserEmulator(dbName);
  return model.deleteSnapshot(snapshotId);
}
