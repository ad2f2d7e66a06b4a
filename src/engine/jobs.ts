// Job records in IndexedDB: list, get, discard (the ledger's public face for the UI).
import type { EC2Client } from '@aws-sdk/client-ec2';
import { createClients } from '../aws/clients.ts';
import { deleteSnapshot, snapshotState } from '../aws/snapshots.ts';
import type { Connection, JobRecord } from './upload-types.ts';
import { isJobBusy } from './job-lock.ts';
import { idbLedgerStore } from './ledger-idb.ts';
import { classifyFailure } from './retry.ts';
import { UploadError } from './upload-types.ts';

/** All jobs, newest first. */
export async function listJobs(): Promise<JobRecord[]> {
  return idbLedgerStore().listJobs();
}

/** One job, or undefined. */
export async function getJob(id: string): Promise<JobRecord | undefined> {
  return idbLedgerStore().getJob(id);
}

/** What discarding did to the job's snapshot. */
export type DiscardOutcome =
  /** The abandoned pending (or failed) snapshot was deleted. */
  | 'deleted'
  /** The service no longer knew the snapshot (deleted elsewhere, or never visible). */
  | 'already-gone'
  /** The snapshot completed meanwhile: it is the result, so it was kept. */
  | 'kept-completed'
  /** Nothing to delete: no snapshot was started, the job finished, or keeping it was asked for. */
  | 'none';

/** Options of discardJob. */
export interface DiscardOptions {
  /** Where the job's snapshot lives, with credentials (default: the job's stored connection). */
  connection?: Connection;
  /** Forget the job without touching its snapshot (after a failed delete the person chose to forget it anyway). */
  keepSnapshot?: boolean;
}

const notFound = (e: unknown) => /^InvalidSnapshot\.NotFound$/.test((e as { name?: string })?.name ?? '');

/** The sentence for a failed delete: what happened, and that the pending snapshot still counts until it times out. */
function deleteFailure(job: JobRecord, err: unknown): UploadError {
  const id = job.snapshotId!;
  const detail = ((err as Error)?.message || String(err)).replace(/\.$/, '');
  const name = (err as { name?: string })?.name ?? '';
  const why =
    // "Credential is missing" (no keys at all) is a plain Error from the SDK: it is the same way forward.
    classifyFailure(err) === 'credentials' || /credential/i.test(`${name} ${detail}`) ? `the credentials do not work (${detail}); reconnect, then discard again`
    : name === 'UnauthorizedOperation' || /AccessDenied|not authorized/i.test(`${name} ${detail}`)
      ? `this connection may not delete it (${detail}); delete it in the EC2 console, or ask for ec2:DeleteSnapshot`
    : `the service could not be reached or refused (${detail}); try again when you are back online`;
  return new UploadError(
    `The pending snapshot ${id} could not be deleted: ${why}. Until it is deleted or times out (${job.params.timeoutMinutes} minutes after the last write) it counts against the limit of 100 pending snapshots.`,
    'delete-failed',
  );
}

/**
 * Deletes an unfinished job's abandoned snapshot (unless it completed meanwhile), then forgets the job and its
 * block ledger. Throws UploadError 'delete-failed' with a sentence, and keeps the job, when the delete fails.
 * Refused while a tab runs the job.
 */
export async function discardJob(id: string, opts: DiscardOptions = {}): Promise<DiscardOutcome> {
  if (await isJobBusy(id)) throw new UploadError('This upload is running in a tab; pause or take it over there before discarding it.', 'busy');
  const store = idbLedgerStore();
  const job = await store.getJob(id);
  let outcome: DiscardOutcome = 'none';
  if (job?.snapshotId && job.state !== 'completed' && !opts.keepSnapshot) outcome = await deleteAbandoned(job, opts.connection ?? job.connection);
  await store.deleteJob(id);
  return outcome;
}

async function deleteAbandoned(job: JobRecord, connection: Connection): Promise<DiscardOutcome> {
  let clients;
  try {
    clients = await createClients(connection);
  } catch (err) {
    throw deleteFailure(job, err);
  }
  try {
    return await deleteAbandonedSnapshot(clients.ec2, job);
  } finally {
    clients.close();
  }
}

/** Deletes a job's snapshot through EC2 unless it completed; a snapshot already gone is fine. Throws UploadError 'delete-failed'. */
export async function deleteAbandonedSnapshot(ec2: EC2Client, job: JobRecord): Promise<DiscardOutcome> {
  const snapshotId = job.snapshotId;
  if (!snapshotId) return 'none';
  try {
    // A job stopped while completing may have produced its snapshot after all: that one is the result, not litter.
    const s = await snapshotState(ec2, snapshotId);
    if (!s) return 'already-gone';
    if (s.state === 'completed') return 'kept-completed';
    await deleteSnapshot(ec2, snapshotId);
    return 'deleted';
  } catch (err) {
    if (notFound(err)) return 'already-gone';
    throw deleteFailure(job, err);
  }
}
