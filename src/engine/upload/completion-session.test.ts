import { describe, expect, it, vi } from 'vitest';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { bestSha256 } from '../block-digest.ts';
import { completionSession, recordsEveryBlock } from './completion-session.ts';
import { completionPending } from '../job-record.ts';
import { memoryLedgerStore } from '../ledger.ts';
import { ResumeError } from '../upload-types.ts';
import { faultyEmulator, readSnapshot, syntheticImage } from '../testing/upload-test-kit.ts';
import { stalledAtCompletion } from '../testing/stalled-completion.ts';


describe('completionSession', () => {
  it('completes a job whose every block is recorded with CompleteSnapshot alone: no image, no pipeline, no block sent again', async () => {
    const image = syntheticImage([['random', 12], ['zero', 4], ['text', 4]]);
    const emu = faultyEmulator();
    const store = memoryLedgerStore();
    const job = await stalledAtCompletion(image, emu, store);
    const pending = await emu.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [job.snapshotId!] }));
    expect(pending.Snapshots?.[0]?.State).toBe('pending');
    const putsBefore = emu.counts.puts;
    expect(putsBefore).toBe(16);
    expect(await recordsEveryBlock(store, job)).toBe(true);

    const manifests: string[] = [];
    let ended = false;
    const { sha256 } = await bestSha256();
    // Nothing here can read the image: the session only has the ledger.
    const session = await completionSession(job, { store, ebs: emu.ebs, ec2: emu.ec2, sha256, manifest: async (m) => void manifests.push(m.snapshotId), onEnd: () => (ended = true) }).start();
    const report = await session.done;
    expect(report).toMatchObject({ state: 'completed', snapshotId: job.snapshotId, blocksWritten: 16, blocksSkipped: 4, changedBlocksCount: 16 });
    expect(emu.counts.puts).toBe(putsBefore);
    expect(manifests).toEqual([job.snapshotId]);
    // The session ends (locks released, clients closed) just after `done` settles.
    await vi.waitFor(() => expect(ended).toBe(true));
    expect((await store.getJob(job.id))!.state).toBe('completed');
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
  });

  it('tells a ledger missing a block apart (counters alone do not make a job complete), and refuses a cancelled job', async () => {
    const image = syntheticImage([['random', 6]]);
    const emu = faultyEmulator();
    const store = memoryLedgerStore();
    const job = await stalledAtCompletion(image, emu, store);
    // The record's counters say every block is sent, but the ledger has lost a page: the file is needed after all.
    const partial = memoryLedgerStore();
    await partial.putJob(job);
    expect(completionPending(job)).toBe(true);
    expect(await recordsEveryBlock(partial, job)).toBe(false);

    const { sha256 } = await bestSha256();
    const cancelled = { ...job, state: 'cancelled' as const };
    expect(() => completionSession(cancelled, { store, ebs: emu.ebs, ec2: emu.ec2, sha256 })).toThrow(ResumeError);
    expect((await store.getJob(job.id))!.state).toBe('completing');
  });
});
