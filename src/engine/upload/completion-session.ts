// Completing a job whose every block is recorded: only CompleteSnapshot is left, so no file is read and no pipeline runs.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { BlockState } from '../../images/types.ts';
import type { Sha256 } from '../block-digest.ts';
import { BlockLedger, type LedgerStore } from '../ledger.ts';
import { refuseFinishedJob } from './resume-check.ts';
import type { JobRecord } from '../upload-types.ts';
import { UploadSession, type ManifestSink, type PipelineRunner } from './upload-session.ts';

/** True when the job's ledger (not only its counters) marks every block written or skipped. */
export async function recordsEveryBlock(store: LedgerStore, job: JobRecord): Promise<boolean> {
  const total = job.counters.totalBlocks;
  const ledger = await BlockLedger.open(store, job, total);
  return total > 0 && ledger.writtenCount + ledger.skippedCount >= total;
}

/** Stands in for the pipelines: it has no file, so it sends nothing, and fails if the session still had a block to send. */
const nothingToSend: PipelineRunner = {
  async run(_spec, claim) {
    if (!(await claim())) return { kind: 'finished' };
    return {
      kind: 'failed',
      failure: { message: 'Some blocks of this upload are not recorded as sent after all. Pick the file again to send them.', code: 'no-file', action: 'repick' },
    };
  },
  stop() {},
};

/**
 * A session (not started) that completes a job whose ledger records every block (check with recordsEveryBlock):
 * CompleteSnapshot with the recorded digests, then the wait for `completed`, as any session ends. Refuses a finished job.
 */
export function completionSession(
  job: JobRecord,
  deps: { store: LedgerStore; ebs: EBSClient; ec2?: EC2Client; sha256: Sha256; manifest?: ManifestSink; onEnd?: () => void; completionWaitMs?: number },
): UploadSession {
  refuseFinishedJob(job);
  const blockCount = job.counters.totalBlocks;
  return new UploadSession(job, {
    store: deps.store,
    ebs: deps.ebs,
    ...(deps.ec2 ? { ec2: deps.ec2 } : {}),
    runners: [nothingToSend],
    sha256: deps.sha256,
    // Every block counts as data and none is skipped here: a block the ledger lacks reaches the runner, which refuses.
    blockStates: new Uint8Array(blockCount).fill(BlockState.Data),
    blockCount,
    skipZeros: false,
    floor: 1,
    ceiling: 1,
    sliceBlocks: 1,
    ...(deps.manifest ? { manifest: deps.manifest } : {}),
    ...(deps.onEnd ? { onEnd: deps.onEnd } : {}),
    ...(deps.completionWaitMs ? { completionWaitMs: deps.completionWaitMs } : {}),
  });
}
