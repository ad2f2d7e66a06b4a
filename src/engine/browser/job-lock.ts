// One tab per job: Web Locks for ownership, BroadcastChannel for progress and take-over.
import type { JobBroadcast } from '../upload-types.ts';

/** The BroadcastChannel that carries job events between tabs. */
export const JOBS_CHANNEL = 'blockport-jobs';

function lockName(jobId: string): string {
  return `blockport-job:${jobId}`;
}

function jobOf(e: JobBroadcast): string {
  return e.type === 'progress' ? e.progress.jobId : e.jobId;
}

/** Takes the job's lock if free; returns its release function, or null when another holder has it. */
export async function holdJobLock(jobId: string): Promise<(() => void) | null> {
  if (typeof navigator === 'undefined' || !navigator.locks) return () => undefined;
  return new Promise((resolve) => {
    void navigator.locks.request(lockName(jobId), { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(null);
        return undefined;
      }
      // The lock is held until release() resolves this promise (or the tab closes).
      return new Promise<void>((release) => resolve(release));
    });
  });
}

/** Listens to broadcasts about a job from other tabs; returns the unsubscribe function. */
export function watchJob(jobId: string, cb: (e: JobBroadcast) => void): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => undefined;
  const ch = new BroadcastChannel(JOBS_CHANNEL);
  ch.onmessage = (m: MessageEvent<JobBroadcast>) => {
    if (m.data && jobOf(m.data) === jobId) cb(m.data);
  };
  return () => ch.close();
}

/** Sends an event about a job to other tabs. */
export function broadcastJob(e: JobBroadcast, channel?: BroadcastChannel): void {
  if (typeof BroadcastChannel === 'undefined') return;
  const ch = channel ?? new BroadcastChannel(JOBS_CHANNEL);
  ch.postMessage(e);
  if (!channel) ch.close();
}

/** Asks the tab running the job to pause and release it; resolves true once the lock is free (false after timeoutMs). */
export async function requestTakeover(jobId: string, timeoutMs = 15_000): Promise<boolean> {
  broadcastJob({ type: 'takeover', jobId });
  if (typeof navigator === 'undefined' || !navigator.locks) return true;
  try {
    await navigator.locks.request(lockName(jobId), { signal: AbortSignal.timeout(timeoutMs) }, async () => undefined);
    return true;
  } catch {
    return false;
  }
}

/** True when a tab (this one included) holds the job's lock. */
export async function isJobBusy(jobId: string): Promise<boolean> {
  if (typeof navigator === 'undefined' || !navigator.locks) return false;
  const q = await navigator.locks.query();
  return (q.held ?? []).some((l) => l.name === lockName(jobId));
}
