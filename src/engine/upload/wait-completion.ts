// After CompleteSnapshot: wait until the snapshot is really `completed` (EC2 state, or its blocks readable).
import { ListSnapshotBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { classifyFailure, sleep } from '../retry.ts';

/** The service's verdict on a completed-requested snapshot. */
export interface CompletionVerdict {
  state: 'completed' | 'error';
  /** The service's StateMessage on error, or our sentence when waiting gave up. */
  message?: string;
}

/** Polls EC2 DescribeSnapshots (falls back to ListSnapshotBlocks when EC2 is not reachable) until completed or error. */
export async function waitForCompletion(args: { ebs: EBSClient; ec2?: EC2Client; snapshotId: string; maxWaitMs?: number }): Promise<CompletionVerdict> {
  const deadline = Date.now() + (args.maxWaitMs ?? 60 * 60_000);
  let useEc2 = !!args.ec2;
  let delay = 100;
  for (;;) {
    if (useEc2) {
      try {
        const out = await args.ec2!.send(new DescribeSnapshotsCommand({ SnapshotIds: [args.snapshotId] }));
        const s = out.Snapshots?.[0];
        if (s?.State === 'completed') return { state: 'completed' };
        if (s?.State === 'error') return { state: 'error', message: s.StateMessage || 'The snapshot went to state error.' };
      } catch (err) {
        // No EC2 permission or endpoint: readable blocks are the other proof of completion.
        const cls = classifyFailure(err);
        if (cls !== 'retry' && cls !== 'throttle' && cls !== 'lag') useEc2 = false;
      }
    } else {
      try {
        await args.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: args.snapshotId, MaxResults: 100 }));
        return { state: 'completed' };
      } catch (err) {
        const cls = classifyFailure(err);
        if (cls !== 'retry' && cls !== 'throttle' && cls !== 'lag') return { state: 'error', message: (err as Error).message };
      }
    }
    if (Date.now() > deadline)
      return {
        state: 'error',
        message: `The snapshot ${args.snapshotId} did not reach 'completed' in time; check it later in the snapshot list (it may still complete).`,
      };
    await sleep(delay);
    delay = Math.min(2000, delay * 1.5);
  }
}
