import { describe, expect, it } from 'vitest';
import { EbsModel } from './model.ts';
import { MemoryStore } from './stores/memory-store.ts';
import { ImageError, imagesOf } from './images.ts';
import { CompleteSnapshotCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeImagesCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { createMemoryEmulator } from './index.ts';

async function completedSnapshot(model: EbsModel, now: { t: number }): Promise<string> {
  const { SnapshotId } = await model.startSnapshot({ volumeSize: 2 });
  await model.completeSnapshot({ snapshotId: SnapshotId, changedBlocksCount: 0 });
  now.t += 10_000;
  return SnapshotId;
}

describe('emulator images', () => {
  it('are private to each account over one store, pending then available by the clock', async () => {
    const store = new MemoryStore();
    const now = { t: 1_000_000 };
    const a = new EbsModel({ store, clock: () => now.t, accountId: '111111111111', completionDelayMs: 500 });
    const b = new EbsModel({ store, clock: () => now.t, accountId: '222222222222', completionDelayMs: 500 });
    const snap = await completedSnapshot(a, now);
    const img = await imagesOf(a).register({ name: 'mine', architecture: 'x86_64', rootDeviceName: '/dev/xvda', mappings: [{ deviceName: '/dev/xvda', snapshotId: snap }], tags: [] });
    expect(img.state).toBe('pending');
    now.t += 500;
    expect((await imagesOf(a).get(img.id))?.state).toBe('available');
    expect(await imagesOf(b).list()).toEqual([]);
    // Another account's snapshot is as invisible as a missing one.
    await expect(imagesOf(b).register({ name: 'theirs', architecture: 'x86_64', rootDeviceName: '/dev/xvda', mappings: [{ deviceName: '/dev/xvda', snapshotId: snap }], tags: [] })).rejects.toMatchObject({
      code: 'InvalidSnapshot.NotFound',
    } satisfies Partial<ImageError>);
  });

  it('answers a dry run as EC2 does (DryRunOperation, 412) and registers nothing', async () => {
    const { ebs, ec2 } = createMemoryEmulator({ completionDelayMs: 0 });
    const snap = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: snap, ChangedBlocksCount: 0 }));
    const err = await ec2
      .send(new RegisterImageCommand({ DryRun: true, Name: 'dry', Architecture: 'arm64', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }] }))
      .then(() => undefined, (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } });
    expect(err).toMatchObject({ name: 'DryRunOperation', message: 'Request would have succeeded, but DryRun flag is set.', $metadata: { httpStatusCode: 412 } });
    expect((await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images).toEqual([]);
  });
});
