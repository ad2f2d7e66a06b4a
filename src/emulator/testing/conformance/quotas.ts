// Quotas: pending snapshots per account and requests per second.
import { CompleteSnapshotCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { eq, rejects, start, put, completedSnapshot, type Scenario } from './kit.ts';

export const quotaScenarios: Scenario[] = [
  {
    name: '100 pending snapshots per account: the 101st is refused until one completes',
    async run(ctx) {
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) ids.push(await start(ctx));
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })), { name: 'ConcurrentLimitExceededException', status: 400, reason: null }, '101st pending snapshot');
      await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: ids[0], ChangedBlocksCount: 0 }));
      await ctx.advanceTime(ctx.completionDelayMs + 1);
      await start(ctx);
    },
  },
  {
    name: 'quotas (when enforced): 10 StartSnapshot, 50 ListSnapshotBlocks and 1000 PutSnapshotBlock per snapshot per second',
    needs: ['configure'],
    async run(ctx) {
      const done = await completedSnapshot(ctx, new Map([[0, 5]]));
      await ctx.advanceTime(1000);
      await ctx.configure!({ enforceQuotas: true });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) ids.push(await start(ctx));
        await rejects(start(ctx), { name: 'RequestThrottledException', status: 400, reason: 'ACCOUNT_THROTTLED' }, '11th StartSnapshot in a second');
        for (let i = 0; i < 50; i++) await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: done }));
        await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: done })), { name: 'RequestThrottledException', status: 400, reason: 'ACCOUNT_THROTTLED' }, '51st list in a second');
        const tiny = new Uint8Array(1);
        const quick = (sid: string) =>
          ctx.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: sid, BlockIndex: 0, BlockData: tiny, DataLength: 1, Checksum: 'AA==', ChecksumAlgorithm: 'SHA256' })).catch((e: Error) => e);
        for (let i = 0; i < 1000; i++) eq((await quick(ids[0]!) as Error).name, 'ValidationException', 'invalid puts still count');
        await rejects(quick(ids[0]!).then((e) => Promise.reject(e)), { name: 'RequestThrottledException', status: 400, reason: 'RESOURCE_LEVEL_THROTTLE' }, '1001st put to one snapshot');
        await ctx.advanceTime(1000);
        await start(ctx);
        await put(ctx, ids[0]!, 0, 6);
      } finally {
        await ctx.configure!({ enforceQuotas: false });
      }
    },
  },
];
