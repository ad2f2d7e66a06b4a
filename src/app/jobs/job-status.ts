// What a job card says about a job at rest: its badge, and whether Resume only has the snapshot to complete.
import type { JobRecord } from '../../engine/api.ts';
import { completionPending } from '../../engine/api.ts';

/** The badge text and what Resume would do for a job card. */
export interface JobStatus {
  /** The badge: where the job runs, or why it stopped. */
  text: string;
  /** Every block is sent: Resume only completes the snapshot. */
  completionPending: boolean;
}

/** Text shown when every block is acknowledged but the snapshot was not completed (the tab closed while completing). */
export const COMPLETION_PENDING_TEXT = 'All blocks sent — completion pending';

/** The card's status for a job, given whether it runs in this tab or another one. */
export function jobStatus(job: Pick<JobRecord, 'state' | 'snapshotId' | 'counters'>, where: { runningHere: boolean; elsewhere: boolean }): JobStatus {
  const pending = completionPending(job);
  const text =
    where.runningHere ? 'Running in this tab'
    : where.elsewhere ? 'Running in another tab'
    : job.state === 'error' ? 'Stopped by an error'
    : job.state === 'new' ? 'Not started'
    : job.state === 'cancelled' ? 'Cancelled'
    : job.state === 'completed' ? 'Completed'
    : pending ? COMPLETION_PENDING_TEXT
    : 'Interrupted';
  return { text, completionPending: pending };
}
