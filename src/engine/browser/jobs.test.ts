import { describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { createMemoryEmulator } from '../../emulator/index.ts';
import { deleteAbandonedSnapshot } from './jobs.ts';
import { UploadError, type JobRecord } from '../upload-types.ts';

const jobWith = (snapshotId?: string) => ({ ...(snapshotId ? { snapshotId } : {}), params: { volumeSizeGiB: 1, timeoutMinutes: 60 } }) as JobRecord;

async function exists(ec2: EC2Client, id: string): Promise<boolean> {
  return ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })).then(
    () => true,
    (e: Error) => (e.name === 'InvalidSnapshot.NotFound' ? false : Promise.reject(e)),
  );
}

/** An EC2 client whose every call fails with this error (the service refusing, or no network). */
const failing = (name: string, message: string) => ({ send: () => Promise.reject(Object.assign(new Error(message), { name })) }) as unknown as EC2Client;

describe('deleteAbandonedSnapshot (the snapshot side of Discard)', () => {
  it('deletes a pending snapshot through EC2 DeleteSnapshot', async () => {
    const { ebs, ec2 } = createMemoryEmulator();
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    expect(await exists(ec2, SnapshotId!)).toBe(true);
    expect(await deleteAbandonedSnapshot(ec2, jobWith(SnapshotId))).toBe('deleted');
    expect(await exists(ec2, SnapshotId!)).toBe(false);
  });

  it('keeps a snapshot that completed meanwhile, and accepts one already gone or never started', async () => {
    const { ebs, ec2 } = createMemoryEmulator({ completionDelayMs: 0 });
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 0 }));
    expect(await deleteAbandonedSnapshot(ec2, jobWith(SnapshotId))).toBe('kept-completed');
    expect(await exists(ec2, SnapshotId!)).toBe(true);
    expect(await deleteAbandonedSnapshot(ec2, jobWith('snap-0123456789abcdef0'))).toBe('already-gone');
    expect(await deleteAbandonedSnapshot(ec2, jobWith())).toBe('none');
  });

  it('says why a delete failed, and that the snapshot still counts against the pending limit', async () => {
    const id = 'snap-0123456789abcdef0';
    const cases: [EC2Client, RegExp][] = [
      [failing('AuthFailure', 'AWS was not able to validate the provided access credentials'), /the credentials do not work .*reconnect, then delete it again/],
      [failing('UnauthorizedOperation', 'You are not authorized to perform this operation.'), /may not delete it .*ec2:DeleteSnapshot/],
      [failing('TypeError', 'Failed to fetch'), /could not be reached .*back online/],
    ];
    for (const [ec2, why] of cases) {
      const err = await deleteAbandonedSnapshot(ec2, jobWith(id)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadError);
      expect((err as UploadError).code).toBe('delete-failed');
      expect((err as UploadError).message).toMatch(new RegExp(`^The pending snapshot ${id} could not be deleted: `));
      expect((err as UploadError).message).toMatch(why);
      expect((err as UploadError).message).toMatch(/counts against the limit of 100 pending snapshots\.$/);
    }
  });
});
