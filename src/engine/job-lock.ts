// One tab per job: Web Locks for ownership, BroadcastChannel for progress and take-over.
import type { JobBroadcast } from './api.ts';

/** Listens to broadcasts about a job from other tabs; returns the unsubscribe function. */
export function watchJob(jobId: string, cb: (e: JobBroadcast) => void): () => void {
  throw new Error('not implemented yet');
}

/** Asks the tab running the job to pause and release it; resolves when released (or timeout). */
export async function requestTakeover(jobId: string): Promise<boolean> {
  throw new Error('not implemented yet');
}

/** True when another tab (or this one) holds the job's lock. */
export async function isJobBusy(jobId: string): Promise<boolean> {
  throw new Error('not implemented yet');
}
