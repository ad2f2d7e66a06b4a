// Before resuming: is the job's snapshot still pending? Each other answer gets a sentence and a way forward.
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ResumeError, type JobRecord } from '../upload-types.ts';
import { classifyFailure } from '../retry.ts';

/**
 * Throws ResumeError when the job's own record rules a resume out (it completed, or was cancelled); asks no service
 * and touches nothing, so call it before anything else of a resume.
 */
export function refuseFinishedJob(job: Pick<JobRecord, 'state' | 'snapshotId' | 'snapshotDeleted' | 'fingerprint'>): void {
  const id = job.snapshotId;
  if (job.state === 'completed') throw new ResumeError(`This upload already completed as ${id}.`, 'discard', 'finished');
  if (job.state === 'cancelled') {
    const snapshot = !id ? 'no snapshot had been started' : job.snapshotDeleted ? `its snapshot ${id} was deleted` : `its snapshot ${id} was abandoned with it`;
    throw new ResumeError(`This upload was cancelled, so it cannot be resumed (${snapshot}). Start a new upload of "${job.fingerprint.name}".`, 'restart', 'cancelled');
  }
}

/**
 * Throws ResumeError when the job's snapshot timed out, vanished, completed, or the credentials fail; passes when pending
 * or EC2 is unreachable. `completionPending` (every block sent): a completed snapshot passes too, since resuming then only
 * completes it (CompleteSnapshot on a completed snapshot answers `completed`) and records the result.
 */
export async function checkResumableSnapshot(ec2: EC2Client, job: Pick<JobRecord, 'snapshotId' | 'params'>, opts: { completionPending?: boolean } = {}): Promise<void> {
  const id = job.snapshotId;
  if (!id) return;
  let out;
  try {
    out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  } catch (err) {
    const name = (err as Error).name;
    if (/NotFound/.test(name)) throw new ResumeError(`The snapshot ${id} no longer exists. Start the upload again.`, 'restart', 'snapshot-gone');
    if (classifyFailure(err) === 'credentials') throw new ResumeError(`The credentials no longer work (${(err as Error).message}). Reconnect, then resume.`, 'reconnect', 'credentials');
    // EC2 not reachable (permissions, CORS): the pipeline finds out on its first put.
    return;
  }
  const s = out.Snapshots?.[0];
  if (!s) throw new ResumeError(`The snapshot ${id} no longer exists. Start the upload again.`, 'restart', 'snapshot-gone');
  if (s.State === 'error') {
    const timedOut = /timed out/i.test(s.StateMessage ?? '');
    throw new ResumeError(
      timedOut
        ? `The snapshot ${id} timed out: nothing was written to it for more than ${job.params.timeoutMinutes} minutes. Start the upload again (a longer timeout keeps a paused upload alive longer).`
        : `The snapshot ${id} failed (${s.StateMessage || 'error'}). Start the upload again.`,
      'restart',
      timedOut ? 'snapshot-expired' : 'snapshot-failed',
    );
  }
  if (s.State === 'completed' && !opts.completionPending) throw new ResumeError(`The snapshot ${id} is already completed; nothing is left to upload.`, 'discard', 'finished');
}
