// Semantics of reading: states, block tokens, lists and paging, lineage, the observed lags.
import { CompleteSnapshotCommand, GetSnapshotBlockCommand, ListChangedBlocksCommand, ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { BLOCK, eq, ok, rejects, makeBlock, start, put, complete, describeSnapshot, listAll, changedAll, read, sameBytes, completedSnapshot, notFound, invalid, constraint, type Scenario } from './kit.ts';

export const readScenarios: Scenario[] = [
  {
    name: 'reads: pending and unknown snapshots are not found; block tokens are bound and unforgeable',
    async run(ctx) {
      const a = await completedSnapshot(ctx, new Map([[1, 31], [2, 32]]));
      const b = await completedSnapshot(ctx, new Map([[1, 31]]));
      const pending = await start(ctx);
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: pending })), notFound(pending), 'list pending');
      await rejects(ctx.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: pending, BlockIndex: 1, BlockToken: 'AAAA' })), notFound(pending), 'get pending');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0' })), notFound('snap-0123456789abcdef0'), 'list unknown');
      const [a1, a2] = await listAll(ctx, a);
      const [b1] = await listAll(ctx, b);
      const get = (id: string, index: number, token: string) => ctx.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }));
      const bad = (t: string) => invalid('INVALID_BLOCK_TOKEN', `The block token ${t} is invalid.`);
      await rejects(get(a, 1, 'Z2FyYmFnZQ=='), bad('Z2FyYmFnZQ=='), 'garbage token');
      await rejects(get(a, 1, b1!.token), bad(b1!.token), 'token of another snapshot (same index, same content)');
      await rejects(get(a, 1, a2!.token), bad(a2!.token), 'token of another index');
      await rejects(get(a, 3, a2!.token), bad(a2!.token), 'token on a hole');
      const t = a1!.token;
      const forged = t.slice(0, 5) + (t[5] === 'A' ? 'B' : 'A') + t.slice(6);
      await rejects(get(a, 1, forged), bad(forged), 'forged token');
      await rejects(get(a, 1, 'not-base64_url'), constraint(/at 'blockToken' failed to satisfy constraint: Member must satisfy regular expression pattern: \^\[A-Za-z0-9\+\/=\]\+\$/), 'token charset');
      await rejects(get(a, 1, 'A'.repeat(257)), constraint(/at 'blockToken' failed to satisfy constraint: Member must have length less than or equal to 256/), 'overlong token');
      await rejects(get(a, -1, t), constraint(/at 'blockIndex'/), 'negative index on get');
      sameBytes(await read(ctx, a, 1, t), makeBlock(31), 'the genuine token works');
      await ctx.advanceTime(7 * 24 * 3600 * 1000 + 1000);
      await rejects(get(a, 1, t), bad(t), 'expired token');
    },
  },
  {
    name: 'paging over 300 blocks: MaxResults, StartingBlockIndex, NextToken, page token misuse',
    async run(ctx) {
      const root = await completedSnapshot(ctx, new Map());
      const own = new Map<number, number>();
      for (let i = 0; i < 300; i++) own.set(i * 3 + 1, (i % 4) + 41);
      const id = await completedSnapshot(ctx, own, { ParentSnapshotId: root });
      const expected = [...own.keys()];
      const p1 = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 100 }));
      eq(p1.Blocks?.length, 100, 'a full page holds MaxResults');
      ok(p1.NextToken, 'a full page has a NextToken');
      eq((await listAll(ctx, id, 100)).map((b) => b.index), expected, 'all pages of 100');
      eq((await listAll(ctx, id, 128)).map((b) => b.index), expected, 'all pages of 128');
      eq((await listAll(ctx, id)).map((b) => b.index), expected, 'default page size');
      const from = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 100, StartingBlockIndex: 451 }));
      eq(from.Blocks?.[0]?.BlockIndex, 451, 'StartingBlockIndex is inclusive');
      const past = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, StartingBlockIndex: 2000 }));
      eq([past.Blocks?.length ?? 0, past.NextToken], [0, undefined], 'an empty last page');
      const over = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 100, NextToken: p1.NextToken, StartingBlockIndex: 0 }));
      eq(over.Blocks?.[0]?.BlockIndex, expected[100], 'NextToken overrides StartingBlockIndex');
      const changed = await changedAll(ctx, root, id, 100);
      eq(changed.map((c) => c.index), expected, 'ListChangedBlocks pages');
      ok(changed.every((c) => c.first === null && c.second), 'first side holds nothing, second has every token');
      const list = (token: string, sid = id) => ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: sid, MaxResults: 100, NextToken: token }));
      const badPage = (t: string) => invalid('INVALID_PAGE_TOKEN', `The pagination token ${t} is invalid.`);
      await rejects(list('Z2FyYmFnZQ=='), badPage('Z2FyYmFnZQ=='), 'garbage page token');
      await rejects(list(p1.NextToken!, root), badPage(p1.NextToken!), 'page token of another snapshot');
      const cp = await ctx.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: root, SecondSnapshotId: id, MaxResults: 100 }));
      await rejects(list(cp.NextToken!), badPage(cp.NextToken!), 'a ListChangedBlocks token used for ListSnapshotBlocks');
      await rejects(list('a-b_c'), constraint(/at 'nextToken' failed to satisfy constraint: Member must satisfy regular expression pattern/), 'page token charset');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 99 })), constraint(`1 validation error detected: Value '99' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 100`), 'MaxResults 99');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 10001 })), constraint(/Value '10001' at 'maxResults' .*less than or equal to 10000/), 'MaxResults 10001');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, StartingBlockIndex: -1 })), constraint(/Value '-1' at 'startingBlockIndex'/), 'negative StartingBlockIndex');
      await ctx.advanceTime(61 * 60 * 1000);
      await rejects(list(p1.NextToken!), badPage(p1.NextToken!), 'expired page token');
    },
  },
  {
    name: 'lineage: a child inherits, ListChangedBlocks both directions, siblings, unrelated',
    async run(ctx) {
      const parent = await completedSnapshot(ctx, new Map([[0, 51], [1, 52], [2, 53]]), { VolumeSize: 1 });
      const childOwn = new Map([[1, 54], [2, 53], [3, 55]]);
      const child = await start(ctx, { ParentSnapshotId: parent, VolumeSize: 2 });
      for (const [i, s] of childOwn) await put(ctx, child, i, s);
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ParentSnapshotId: child })), invalid('INVALID_SNAPSHOT_ID', `Source snapshot (${child}) is not complete.`), 'pending parent');
      await complete(ctx, child, childOwn);
      const blocks = await listAll(ctx, child);
      eq(blocks.map((b) => b.index), [0, 1, 2, 3], 'child lists inherited and own blocks');
      sameBytes(await read(ctx, child, 0, blocks[0]!.token), makeBlock(51), 'inherited block read through the child');
      sameBytes(await read(ctx, child, 1, blocks[1]!.token), makeBlock(54), 'own block overrides the parent');
      const fwd = await ctx.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: parent, SecondSnapshotId: child }));
      eq(fwd.VolumeSize, 2, 'VolumeSize comes from the second snapshot');
      eq(fwd.BlockSize, BLOCK, 'BlockSize');
      const f = fwd.ChangedBlocks!.map((c) => [c.BlockIndex, !!c.FirstBlockToken, !!c.SecondBlockToken]);
      eq(f, [[1, true, true], [2, true, true], [3, false, true]], 'parent→child: identical rewrite counts, new block has no first token');
      sameBytes(await read(ctx, parent, 1, fwd.ChangedBlocks![0]!.FirstBlockToken!), makeBlock(52), 'first token reads the first snapshot');
      sameBytes(await read(ctx, child, 1, fwd.ChangedBlocks![0]!.SecondBlockToken!), makeBlock(54), 'second token reads the second snapshot');
      const back = await changedAll(ctx, child, parent);
      eq(back.map((c) => [c.index, !!c.first, !!c.second]), [[1, true, true], [2, true, true], [3, true, false]], 'child→parent');
      const sib = await completedSnapshot(ctx, new Map([[0, 56], [5, 57]]), { ParentSnapshotId: parent });
      const sibs = await changedAll(ctx, child, sib);
      eq(sibs.map((c) => [c.index, !!c.first, !!c.second]), [[0, true, true], [1, true, true], [2, true, true], [3, true, false], [5, false, true]], 'siblings');
      eq((await changedAll(ctx, child, child)).length, 0, 'a snapshot against itself');
      const other = await completedSnapshot(ctx, new Map([[0, 51]]));
      await rejects(
        ctx.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: other, SecondSnapshotId: child })),
        invalid('UNRELATED_SNAPSHOTS', `${other} and ${child} are not related`),
        'unrelated',
      );
      await rejects(ctx.ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: child })), invalid('INVALID_SNAPSHOT_ID', 'First snapshot should not be empty or null'), 'no first snapshot');
      await rejects(ctx.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: 'snap-zz', SecondSnapshotId: child })), constraint(/at 'firstSnapshotId'/), 'malformed first id');
      const missing = 'snap-0000000000000000b';
      await rejects(ctx.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: missing, SecondSnapshotId: child })), notFound(missing), 'unknown first snapshot');
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: missing })), notFound(missing), 'unknown parent');
      const grand = await completedSnapshot(ctx, new Map([[7, 58]]), { ParentSnapshotId: child, VolumeSize: 2 });
      eq((await changedAll(ctx, parent, grand)).map((c) => c.index), [1, 2, 3, 7], 'grandparent→grandchild');
      eq((await listAll(ctx, grand)).map((b) => b.index), [0, 1, 2, 3, 7], 'grandchild inherits through two levels');
    },
  },
  {
    name: 'optional lags: put right after start and reads right after completion answer 404',
    needs: ['configure'],
    async run(ctx) {
      await ctx.configure!({ putAfterStartLagMs: 5000, readAfterCompleteLagMs: 30_000 });
      try {
        const id = await start(ctx);
        await rejects(put(ctx, id, 0, 95), notFound(id), 'put inside the start lag');
        await ctx.advanceTime(5000);
        await put(ctx, id, 0, 95);
        await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
        await ctx.advanceTime(ctx.completionDelayMs + 1);
        eq((await describeSnapshot(ctx, id)).State, 'completed', 'EC2 already shows completed');
        await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })), notFound(id), 'list inside the read lag');
        await ctx.advanceTime(30_000);
        eq((await listAll(ctx, id)).length, 1, 'list after the read lag');
      } finally {
        await ctx.configure!({ putAfterStartLagMs: 0, readAfterCompleteLagMs: 0 });
      }
    },
  },
];
