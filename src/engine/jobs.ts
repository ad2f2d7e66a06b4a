// Job records in IndexedDB: list, get, discard (the ledger's public face).
import type { JobRecord } from './api.ts';

/** All jobs, newest first. */
export async function listJobs(): Promise<JobRecord[]> {
  throw new Error('not implemented yet');
}

/** One job, or undefined. */
export async function getJob(id: string): Promise<JobRecord | undefined> {
  throw new Error('not implemented yet');
}

/** Forgets a job and its block ledger (the pending snapshot is left to time out). */
export async function discardJob(id: string): Promise<void> {
  throw new Error('not implemented yet');
}
