// Job records in IndexedDB: list, get, discard (the ledger's public face for the UI).
import type { JobRecord } from './upload-types.ts';
import { isJobBusy } from './job-lock.ts';
import { idbLedgerStore } from './ledger-idb.ts';
import { UploadError } from './upload-types.ts';

/** All jobs, newest first. */
export async function listJobs(): Promise<JobRecord[]> {
  return idbLedgerStore().listJobs();
}

/** One job, or undefined. */
export async function getJob(id: string): Promise<JobRecord | undefined> {
  return idbLedgerStore().getJob(id);
}

/** Forgets a job and its block ledger (a pending snapshot is left to time out). Refused while a tab runs it. */
export async function discardJob(id: string): Promise<void> {
  if (await isJobBusy(id)) throw new UploadError('This upload is running in a tab; pause or take it over there before discarding it.', 'busy');
  await idbLedgerStore().deleteJob(id);
}
