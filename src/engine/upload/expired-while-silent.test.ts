import { describe, expect, it } from 'vitest';
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createEmulatorHandler, createMemoryEmulator, EMULATOR_CREDENTIALS, handleEbsRequest, handleEc2Request } from '../../emulator/index.ts';
import type { EmuRequest, EmuResponse } from '../../emulator/index.ts';
import { tuneEbsClient } from '../../aws/clients.ts';
import { applyDeadlines, type DeadlineStats } from '../../aws/request-deadline.ts';
import { memoryLedgerStore } from '../ledger.ts';
import { UploadError } from '../upload-types.ts';
import { memorySource, syntheticImage } from '../testing/upload-test-kit.ts';
import { uploadInProcess } from './upload-image.ts';

/**
 * An in-process emulator behind request deadlines of at most 1 s, whose service can go silent (every request accepted
 * and never answered, as with a closed lid or a lost network) and whose clock can be moved on.
 */
function silenceableService() {
  let ahead = 0;
  const emu = createMemoryEmulator({ completionDelayMs: 20, clock: () => Date.now() + ahead });
  const state = { silent: false, unanswered: 0 };
  const target = (handle: (req: EmuRequest) => Promise<EmuResponse>) => async (req: EmuRequest) => {
    if (state.silent) {
      state.unanswered++;
      // Never answered: the client's deadline abandons it (the handler gives up on its abort signal).
      return new Promise<EmuResponse>(() => undefined);
    }
    // A little latency, so the upload is still going when the service goes silent.
    if (req.method === 'PUT') await new Promise((r) => setTimeout(r, 10));
    return handle(req);
  };
  const common = { region: 'us-east-1', credentials: EMULATOR_CREDENTIALS, maxAttempts: 1 };
  const ebs = tuneEbsClient(new EBSClient({ ...common, requestHandler: createEmulatorHandler(target((r) => handleEbsRequest(emu.model, r))) }));
  const ec2 = new EC2Client({ ...common, requestHandler: createEmulatorHandler(target((r) => handleEc2Request(emu.model, r))) });
  const stats: DeadlineStats = { aborted: 0, lateIgnored: 0 };
  const deadlines = { floorMs: 200, ceilingMs: 1000, initialMs: 1000 };
  applyDeadlines(ebs, deadlines, stats);
  applyDeadlines(ec2, deadlines, stats);
  return { emu, ebs, ec2, state, stats, advance: (ms: number) => void (ahead += ms) };
}

describe('an upload whose snapshot expired while the service was silent', () => {
  it('waits for the network, then says the snapshot timed out and how to go on (start again), and records it on the job', { timeout: 60_000 }, async () => {
    const svc = silenceableService();
    const store = memoryLedgerStore();
    const image = syntheticImage([['random', 64]]);
    const session = await uploadInProcess({
      source: memorySource(image),
      name: 'silent.raw',
      lastModified: 1,
      connection: { kind: 'emulator' },
      clients: { ebs: svc.ebs, ec2: svc.ec2 },
      store,
      options: { timeoutMinutes: 10, concurrency: 2, minConcurrency: 1, sliceBytes: 4 * 1048576 },
    });
    const seen = { waiting: false, writtenWhenSilenced: 0 };
    const silenced = new Promise<void>((resolve) => {
      session.onProgress((p) => {
        if (!svc.state.silent && p.writtenBlocks >= 8 && !seen.writtenWhenSilenced) {
          seen.writtenWhenSilenced = p.writtenBlocks;
          svc.state.silent = true;
        }
        if (svc.state.silent && p.waitingForNetwork) {
          seen.waiting = true;
          resolve();
        }
      });
    });
    await silenced;
    expect(svc.state.unanswered).toBeGreaterThan(0);
    // While nobody answers, the service's clock runs past the snapshot's 10-minute Timeout; then it answers again.
    svc.advance(11 * 60_000);
    svc.state.silent = false;
    const failure = await session.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(UploadError);
    const err = failure as UploadError;
    expect(err.code).toBe('snapshot-expired');
    expect(err.action).toBe('restart');
    expect(err.message).toMatch(/^The snapshot snap-\w+ timed out: nothing was written to it for more than 10 minutes\. Start the upload again/);
    expect(seen.waiting).toBe(true);
    // Requests were abandoned at their deadline, not held open.
    expect(svc.stats.aborted).toBeGreaterThan(0);
    const job = (await store.listJobs())[0]!;
    expect(job.state).toBe('error');
    expect(job.error).toBe(err.message);
    expect(job.counters.writtenBlocks).toBeGreaterThanOrEqual(seen.writtenWhenSilenced);
    expect(job.counters.writtenBlocks).toBeLessThan(64);
  });
});
