// Runs in the page (served by Vite): the job ledger and the emulator's EC2 view, read through the app's own modules and the SDK.
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { openBrowserEmulator } from '../../src/emulator/index.ts';
import { completionPending } from '../../src/engine/job-record.ts';
import { idbLedgerStore } from '../../src/engine/browser/ledger-idb.ts';
import type { Connection, JobRecord } from '../../src/engine/upload-types.ts';

/** A snapshot's EC2 state through DescribeSnapshots (the real SDK), or 'not-found' when EC2 answers InvalidSnapshot.NotFound. */
export async function describeSnapshot(snapshotId: string, dbName = 'blockport-emulator'): Promise<{ state: string; message?: string }> {
  const { ec2 } = await openBrowserEmulator(dbName);
  try {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    const s = out.Snapshots?.[0];
    return s ? { state: s.State ?? 'unknown', ...(s.StateMessage ? { message: s.StateMessage } : {}) } : { state: 'not-found' };
  } catch (e) {
    if ((e as Error).name === 'InvalidSnapshot.NotFound') return { state: 'not-found' };
    throw e;
  }
}

/** The jobs in the ledger, as the page stores them (handles and connection summarised). */
export async function storedJobs(): Promise<
  { id: string; state: string; snapshotId?: string; completionPending: boolean; hasHandle: boolean; handleName?: string; parentCompare?: string; connection: Connection }[]
> {
  return (await idbLedgerStore().listJobs()).map((j: JobRecord) => ({
    id: j.id,
    state: j.state,
    ...(j.snapshotId ? { snapshotId: j.snapshotId } : {}),
    completionPending: completionPending(j),
    hasHandle: !!j.fileHandle,
    ...(j.fileHandle ? { handleName: j.fileHandle.name } : {}),
    ...(j.parentCompare ? { parentCompare: j.parentCompare } : {}),
    connection: j.connection,
  }));
}

/** Points a stored job at another connection (e.g. an endpoint that cannot be reached), as if it had been started there. */
export async function moveJob(jobId: string, connection: Connection): Promise<void> {
  const store = idbLedgerStore();
  const job = await store.getJob(jobId);
  if (!job) throw new Error(`no job ${jobId}`);
  await store.putJob({ ...job, connection });
}

/** Rewrites fields of a stored job (to put it in a state a test cannot reach through the service, e.g. a failed delete). */
export async function patchJob(jobId: string, patch: Partial<JobRecord>): Promise<void> {
  const store = idbLedgerStore();
  const job = await store.getJob(jobId);
  if (!job) throw new Error(`no job ${jobId}`);
  await store.putJob({ ...job, ...patch });
}
