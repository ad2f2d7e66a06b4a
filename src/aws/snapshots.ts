// EC2's view of snapshots: state after completion, the library list, and deleting an abandoned pending snapshot.
import {
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  paginateDescribeSnapshots,
  type EC2Client,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { BLOCKPORT_TAG, OWNER_TAG_KEY } from './iam-policy.ts';

/** A snapshot as the library shows it. */
export interface SnapshotSummary {
  snapshotId: string;
  state: 'pending' | 'completed' | 'error' | 'recoverable' | 'recovering' | 'unknown';
  /** The service's state message (e.g. "Checksum mismatch for snapshot"), when there is one. */
  stateMessage?: string;
  progress?: string;
  volumeSizeGiB?: number;
  description?: string;
  startTime?: Date;
  /** Whether Blockport started it (only those can be deleted with the template's policy). */
  blockport: boolean;
  tags: Record<string, string>;
}

function summary(s: Snapshot): SnapshotSummary {
  const tags = Object.fromEntries((s.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  return {
    snapshotId: s.SnapshotId ?? '',
    state: (s.State as SnapshotSummary['state']) ?? 'unknown',
    ...(s.StateMessage ? { stateMessage: s.StateMessage } : {}),
    ...(s.Progress ? { progress: s.Progress } : {}),
    ...(s.VolumeSize !== undefined ? { volumeSizeGiB: s.VolumeSize } : {}),
    ...(s.Description ? { description: s.Description } : {}),
    ...(s.StartTime ? { startTime: s.StartTime } : {}),
    blockport: tags[BLOCKPORT_TAG.Key] === BLOCKPORT_TAG.Value,
    tags,
  };
}

/** The EC2 state of one snapshot (with its state message on error); undefined when EC2 does not know it. */
export async function snapshotState(ec2: EC2Client, snapshotId: string): Promise<SnapshotSummary | undefined> {
  try {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    const s = out.Snapshots?.[0];
    return s ? summary(s) : undefined;
  } catch (e) {
    if ((e as { name?: string }).name === 'InvalidSnapshot.NotFound') return undefined;
    throw e;
  }
}

/**
 * The person's own snapshots, newest first (`onlyBlockport` keeps those Blockport started; `owner` those tagged with
 * that Cognito identity: DescribeSnapshots cannot be limited by IAM, so the filter is the app's).
 */
export async function listSnapshots(ec2: EC2Client, opts: { onlyBlockport?: boolean; owner?: string; limit?: number } = {}): Promise<SnapshotSummary[]> {
  const out: SnapshotSummary[] = [];
  const all = [
    ...(opts.onlyBlockport ? [{ Name: `tag:${BLOCKPORT_TAG.Key}`, Values: [BLOCKPORT_TAG.Value] }] : []),
    ...(opts.owner ? [{ Name: `tag:${OWNER_TAG_KEY}`, Values: [opts.owner] }] : []),
  ];
  const filters = all.length ? all : undefined;
  for await (const page of paginateDescribeSnapshots({ client: ec2, pageSize: 1000 }, { OwnerIds: ['self'], ...(filters ? { Filters: filters } : {}) })) {
    for (const s of page.Snapshots ?? []) out.push(summary(s));
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  out.sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0));
  return opts.limit !== undefined ? out.slice(0, opts.limit) : out;
}

/** Deletes a snapshot (an abandoned pending upload, or one the person removes from the library). */
export async function deleteSnapshot(ec2: EC2Client, snapshotId: string): Promise<void> {
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
}
