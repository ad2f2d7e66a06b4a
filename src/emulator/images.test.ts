import { describe, expect, it } from 'vitest';
import { EbsModel } from './model.ts';
import { MemoryStore } from './stores/memory-store.ts';
import { ImageError, imagesOf } from './images.ts';

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
});
