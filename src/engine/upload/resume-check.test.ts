import { describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand } from '@aws-sdk/client-ec2';
import { createMemoryEmulator } from '../../emulator/index.ts';
import { ResumeError } from '../upload-types.ts';
import { checkResumableSnapshot, refuseFinishedJob } from './resume-check.ts';

describe('checkResumableSnapshot', () => {
  it('passes a pending snapshot, then explains a timeout with the way forward', async () => {
    let now = Date.now();
    const emu = createMemoryEmulator({ clock: () => now });
    const { SnapshotId } = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }));
    const job = { snapshotId: SnapshotId!, params: { volumeSizeGiB: 1, timeoutMinutes: 10 } };
    await expect(checkResumableSnapshot(emu.ec2, job)).resolves.toBeUndefined();
    now += 11 * 60_000;
    const err = await checkResumableSnapshot(emu.ec2, job).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResumeError);
    expect(err).toMatchObject({ action: 'restart', code: 'snapshot-expired' });
    expect((err as Error).message).toMatch(/timed out: nothing was written to it for more than 10 minutes/);
  });

  it('says when the snapshot is gone', async () => {
    const emu = createMemoryEmulator();
    const { SnapshotId } = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    await emu.ec2.send(new DeleteSnapshotCommand({ SnapshotId }));
    await expect(checkResumableSnapshot(emu.ec2, { snapshotId: SnapshotId!, params: { volumeSizeGiB: 1, timeoutMinutes: 60 } })).rejects.toMatchObject({
      name: 'ResumeError',
      action: 'restart',
      code: 'snapshot-gone',
    });
    await expect(checkResumableSnapshot(emu.ec2, { snapshotId: 'snap-0123456789abcdef0', params: { volumeSizeGiB: 1, timeoutMinutes: 60 } })).rejects.toMatchObject({ code: 'snapshot-gone' });
  });

  it('passes a completed snapshot only when every block was sent (the tab closed while completing): resuming then records it', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const { SnapshotId } = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    await emu.ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 0 }));
    const job = { snapshotId: SnapshotId!, params: { volumeSizeGiB: 1, timeoutMinutes: 60 } };
    await expect(checkResumableSnapshot(emu.ec2, job)).rejects.toMatchObject({ name: 'ResumeError', action: 'discard', code: 'finished' });
    await expect(checkResumableSnapshot(emu.ec2, job, { completionPending: true })).resolves.toBeUndefined();
  });
});

describe('refuseFinishedJob', () => {
  const job = (state: 'cancelled' | 'completed' | 'paused', snapshotId?: string, snapshotDeleted?: boolean) => ({
    state,
    ...(snapshotId ? { snapshotId } : {}),
    ...(snapshotDeleted ? { snapshotDeleted } : {}),
    fingerprint: { name: 'disk.img', size: 1, lastModified: 1, firstBlockSha256: '', lastBlockSha256: '' },
  });

  it('refuses a cancelled job, saying what became of its snapshot and to start a new upload', () => {
    const cases: [ReturnType<typeof job>, string][] = [
      [job('cancelled', 'snap-1', true), 'its snapshot snap-1 was deleted'],
      [job('cancelled', 'snap-1'), 'its snapshot snap-1 was abandoned with it'],
      [job('cancelled'), 'no snapshot had been started'],
    ];
    for (const [j, fate] of cases) {
      const err = (() => {
        try {
          refuseFinishedJob(j);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ResumeError);
      expect(err).toMatchObject({ action: 'restart', code: 'cancelled', message: `This upload was cancelled, so it cannot be resumed (${fate}). Start a new upload of "disk.img".` });
    }
  });

  it('refuses a completed job and lets an unfinished one through', () => {
    expect(() => refuseFinishedJob(job('completed', 'snap-2'))).toThrow('This upload already completed as snap-2.');
    expect(() => refuseFinishedJob(job('paused', 'snap-3'))).not.toThrow();
  });
});
