// Job records in IndexedDB: list, get, discard (the ledger's public face for the UI).
import { createClients } from '../../aws/clients.ts';
import type { Connection, JobRecord } from '../upload-types.ts';
import { isJobBusy } from './job-lock.ts';
import { idbLedgerStore } from './ledger-idb.ts';
import { deleteAbandonedSnapshot, deleteFailure, type DiscardOutcome } from '../upload/snapshot-cleanup.ts';
import { UploadError } from '../upload-types.ts';
import { forgetUnpacked } from './packed-upload.ts';

export { deleteAbandonedSnapshot, type DiscardOutcome } from '../upload/snapshot-cleanup.ts';

/** All jobs, newest first. */
export async function listJobs(): Promise<JobRecord[]> {
  return idbLedgerStore().listJobs();
}

/** One job, or undefined. */
export async function getJob(id: string): Promise<JobRecord | undefined> {
  return idbLedgerStore().getJob(id);
}

/** Options of discardJob. */
export interface DiscardOptions {
  /** Where the job's snapshot lives, with credentials (default: the job's stored connection). */
  connection?: Connection;
  /** Forget the job without touching its snapshot (after a failed delete the person chose to forget it anyway). */
  keepSnapshot?: boolean;
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
  if (job?.snapshotId && job.state !== 'completed' && !job.snapshotDeleted && !opts.keepSnapshot) outcome = await deleteAbandoned(job, opts.connection ?? job.connection);
  await store.deleteJob(id);
  // A packed disk unpacked for this job is kept for its resume only.
  if (job) await forgetUnpacked(job);
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
