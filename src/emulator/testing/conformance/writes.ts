// Semantics of writing: overwrites, the aggregate checksum and ChangedBlocksCount, CompleteSnapshot, Timeout.
import { CompleteSnapshotCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { eq, rejects, makeBlock, checksumOf, seedSum, start, put, complete, describeSnapshot, listAll, read, sameBytes, notFound, invalid, constraint, type Scenario } from './kit.ts';

export const writeScenarios: Scenario[] = [
  {
    name: 'overwrites: last write wins, identical retries succeed, the count is of distinct indices',
    async run(ctx) {
      const id = await start(ctx);
      await put(ctx, id, 3, 1);
      await put(ctx, id, 3, 1);
      await put(ctx, id, 3, 2);
      await put(ctx, id, 9, 5);
      await complete(ctx, id, new Map([[3, 2], [9, 5]]));
      const blocks = await listAll(ctx, id);
      eq(blocks.map((b) => b.index), [3, 9], 'indices');
      sameBytes(await read(ctx, id, 3, blocks[0]!.token), makeBlock(2), 'last write wins');
    },
  },
  {
    name: 'aggregate: empty snapshot, no checksum, text-form aggregate and wrong count',
    async run(ctx) {
      const empty = await start(ctx);
      await ctx.ebs.send(
        new CompleteSnapshotCommand({ SnapshotId: empty, ChangedBlocksCount: 0, Checksum: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
      );
      const plain = await start(ctx);
      await put(ctx, plain, 1, 3);
      await put(ctx, plain, 2, 4);
      await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: plain, ChangedBlocksCount: 2 }));
      const text = await start(ctx);
      await put(ctx, text, 1, 3);
      await put(ctx, text, 2, 4);
      const textForm = await checksumOf(new TextEncoder().encode((await seedSum(3)) + (await seedSum(4))));
      const textOut = await ctx.ebs.send(
        new CompleteSnapshotCommand({ SnapshotId: text, ChangedBlocksCount: 2, Checksum: textForm, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
      );
      eq(textOut.Status, 'pending', 'a wrong aggregate is still answered 202 pending');
      const count = await start(ctx);
      await put(ctx, count, 1, 3);
      await put(ctx, count, 1, 3);
      const countOut = await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: count, ChangedBlocksCount: 2 }));
      eq(countOut.Status, 'pending', 'a wrong count is still answered 202 pending');
      eq((await describeSnapshot(ctx, text)).State, 'pending', 'still pending before the delay');
      await ctx.advanceTime(ctx.completionDelayMs + 1);
      eq((await describeSnapshot(ctx, empty)).State, 'completed', 'empty snapshot with SHA256("")');
      eq((await describeSnapshot(ctx, plain)).State, 'completed', 'completion without checksum');
      const t = await describeSnapshot(ctx, text);
      eq([t.State, t.StateMessage], ['error', 'Checksum mismatch for snapshot'], 'text-form aggregate');
      const c = await describeSnapshot(ctx, count);
      eq([c.State, c.StateMessage], ['error', 'Changed blocks count mismatch for snapshot'], 'count of puts instead of indices');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: plain, ChangedBlocksCount: 2 }))).Status, 'completed', 'completing a completed snapshot');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: text, ChangedBlocksCount: 2 }))).Status, 'error', 'completing an errored snapshot');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: text })), notFound(text), 'list an errored snapshot');
    },
  },
  {
    name: 'CompleteSnapshot: checksum headers come together or not at all; repeated completion stays pending',
    async run(ctx) {
      const id = await start(ctx);
      const sum = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
      await rejects(
        ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0, Checksum: sum })),
        invalid('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Checksum algorithm is missing.'),
        'checksum without algorithm',
      );
      await rejects(
        ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0, ChecksumAlgorithm: 'SHA256' })),
        invalid('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Snapshot checksum is missing.'),
        'algorithm without checksum',
      );
      await rejects(
        ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0, ChecksumAggregationMethod: 'LINEAR' })),
        invalid('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Snapshot checksum is missing.'),
        'method without checksum',
      );
      await rejects(
        ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0, Checksum: sum, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'TREE' as 'LINEAR' })),
        constraint(`1 validation error detected: Value 'TREE' at 'checksumAggregationMethod' failed to satisfy constraint: Member must satisfy enum value set: [LINEAR]`),
        'unknown aggregation method',
      );
      await rejects(
        ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: -1 })),
        constraint(`1 validation error detected: Value '-1' at 'changedBlocksCount' failed to satisfy constraint: Member must have value greater than or equal to 0`),
        'negative ChangedBlocksCount',
      );
      await rejects(ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: 'snap-0123456789abcdef0', ChangedBlocksCount: 0 })), notFound('snap-0123456789abcdef0'), 'complete an unknown snapshot');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0 }))).Status, 'pending', 'first completion');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0 }))).Status, 'pending', 'second completion while pending');
      await rejects(put(ctx, id, 0, 1), invalid('INVALID_SNAPSHOT_ID', 'Snapshot is already completed'), 'put after CompleteSnapshot');
    },
  },
  {
    name: 'Timeout: no write within Timeout, or no completion after the last write, cancels the snapshot',
    async run(ctx) {
      const idle = await start(ctx, { Timeout: 10 });
      const busy = await start(ctx, { Timeout: 10 });
      await ctx.advanceTime(9 * 60_000);
      await put(ctx, busy, 0, 61);
      await ctx.advanceTime(2 * 60_000);
      const i = await describeSnapshot(ctx, idle);
      eq([i.State, i.StateMessage], ['error', 'Snapshot timed out'], 'idle snapshot timed out');
      eq((await describeSnapshot(ctx, busy)).State, 'pending', 'a write restarts the clock');
      await rejects(put(ctx, idle, 0, 61), notFound(idle), 'put on a timed-out snapshot');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: idle })), notFound(idle), 'list a timed-out snapshot');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: idle, ChangedBlocksCount: 0 }))).Status, 'error', 'complete a timed-out snapshot');
      await ctx.advanceTime(9 * 60_000);
      eq((await describeSnapshot(ctx, busy)).StateMessage, 'Snapshot timed out', 'no completion after the last write');
      const dflt = await start(ctx);
      await ctx.advanceTime(59 * 60_000);
      eq((await describeSnapshot(ctx, dflt)).State, 'pending', 'default Timeout is 60 minutes (59 elapsed)');
      await ctx.advanceTime(60_001);
      eq((await describeSnapshot(ctx, dflt)).State, 'error', 'default Timeout is 60 minutes (60 elapsed)');
    },
  },
];
