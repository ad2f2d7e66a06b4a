// Deleting an abandoned pending snapshot through EC2 (Discard, Cancel): one path, one sentence when it fails.
import type { EC2Client } from '@aws-sdk/client-ec2';
import { deleteSnapshot, snapshotState } from '../../aws/snapshots.ts';
import { classifyFailure } from '../retry.ts';
import { UploadError, type JobRecord } from '../upload-types.ts';

/** What discarding (or cancelling) did to the job's snapshot. */
export type DiscardOutcome =
  /** The abandoned pending (or failed) snapshot was deleted. */
  | 'deleted'
  /** The service no longer knew the snapshot (deleted elsewhere, or never visible). */
  | 'already-gone'
  /** The snapshot completed meanwhile: it is the result, so it was kept. */
  | 'kept-completed'
  /** Nothing to delete: no snapshot was started, the job finished, or keeping it was asked for. */
  | 'none';

const notFound = (e: unknown) => /^InvalidSnapshot\.NotFound$/.test((e as { name?: string })?.name ?? '');

/** The sentence for a failed delete: what happened, and that the pending snapshot still counts until it times out. */
export function deleteFailure(job: Pick<JobRecord, 'snapshotId' | 'params'>, err: unknown): UploadError {
  const id = job.snapshotId!;
  const detail = ((err as Error)?.message || String(err)).replace(/\.$/, '');
  const name = (err as { name?: string })?.name ?? '';
  const why =
    // "Credential is missing" (no keys at all) is a plain Error from the SDK: it is the same way forward.
    classifyFailure(err) === 'credentials' || /credential/i.test(`${name} ${detail}`) ? `the credentials do not work (${detail}); reconnect, then delete it again`
    : name === 'UnauthorizedOperation' || /AccessDenied|not authorized/i.test(`${name} ${detail}`)
      ? `this connection may not delete it (${detail}); delete it in the EC2 console, or ask for ec2:DeleteSnapshot`
    : `the service could not be reached or refused (${detail}); try again when you are back online`;
  return new UploadError(
    `The pending snapshot ${id} could not be deleted: ${why}. Until it is deleted or times out (${job.params.timeoutMinutes} minutes after the last write) it counts against the limit of 100 pending snapshots.`,
    'delete-failed',
  );
}

/** Deletes a job's snapshot through EC2 unless it completed; a snapshot already gone is fine. Throws UploadError 'delete-failed'. */
export async function deleteAbandonedSnapshot(ec2: EC2Client, job: Pick<JobRecord, 'snapshotId' | 'params'>): Promise<DiscardOutcome> {
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
