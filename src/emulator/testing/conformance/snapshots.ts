// Semantics of snapshots: ClientToken, encryption and encryption by default, the EC2 view, storage.
import { ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { BLOCK, eq, ok, rejects, makeBlock, start, put, complete, describeSnapshot, listAll, read, sameBytes, completedSnapshot, notFound, invalid, type Scenario } from './kit.ts';

export const snapshotScenarios: Scenario[] = [
  {
    name: 'ClientToken: replay returns the same snapshot, different parameters conflict',
    async run(ctx) {
      const a = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 3, ClientToken: 'token-1', Description: 'x' }));
      const b = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 3, ClientToken: 'token-1', Description: 'x' }));
      eq(b.SnapshotId, a.SnapshotId, 'replayed SnapshotId');
      eq(b.Status, 'pending', 'replayed Status');
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 4, ClientToken: 'token-1', Description: 'x' })),
        { name: 'ConflictException', status: 409, reason: null, message: 'Current request does not match request stored with this token.' },
        'same token, other parameters',
      );
      const c = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 3, Description: 'x' }));
      const d = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 3, Description: 'x' }));
      ok(c.SnapshotId !== d.SnapshotId, 'the SDK generates a fresh token per call');
    },
  },
  {
    name: 'encryption: Encrypted/KmsKeyArn rules and inheritance',
    async run(ctx) {
      const arn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      const enc = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: arn }));
      eq(enc.KmsKeyArn, arn, 'KmsKeyArn echoed');
      eq(enc.SseType, 'sse-kms', 'SseType');
      const d = await describeSnapshot(ctx, enc.SnapshotId!);
      eq([d.Encrypted, d.KmsKeyId], [true, arn], 'EC2 view of encryption');
      await put(ctx, enc.SnapshotId!, 0, 71);
      await complete(ctx, enc.SnapshotId!, new Map([[0, 71]]));
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, ParentSnapshotId: enc.SnapshotId })),
        invalid('INVALID_PARAMETER_VALUE'),
        'Encrypted with ParentSnapshotId',
      );
      const child = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: enc.SnapshotId }));
      eq([child.SseType, child.KmsKeyArn], ['sse-kms', arn], "a child inherits its parent's customer key, so sse-kms");
      eq((await describeSnapshot(ctx, child.SnapshotId!)).Encrypted, true, 'child is encrypted');
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, KmsKeyArn: arn })), invalid('INVALID_PARAMETER_VALUE'), 'KmsKeyArn without Encrypted');
      const dflt = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true }));
      ok(/^arn:aws:kms:/.test(dflt.KmsKeyArn ?? ''), 'default key ARN when none is given');
      eq(dflt.SseType, 'sse-ebs', 'the default key is sse-ebs');
      await put(ctx, dflt.SnapshotId!, 0, 72);
      await complete(ctx, dflt.SnapshotId!, new Map([[0, 72]]));
      const ebsChild = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: dflt.SnapshotId }));
      eq([ebsChild.SseType, ebsChild.KmsKeyArn], ['sse-ebs', dflt.KmsKeyArn], "a child of a default-key parent stays sse-ebs with the parent's key");
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: (await completedSnapshot(ctx, new Map(), { VolumeSize: 4 })) })),
        invalid('INVALID_VOLUME_SIZE'),
        'child smaller than its parent',
      );
    },
  },
  {
    name: 'encryption by default (account setting): StartSnapshot without Encrypted answers SseType sse-ebs and the default key; EC2 shows Encrypted',
    needs: ['configure'],
    async run(ctx) {
      const plain = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      eq([plain.SseType, plain.KmsKeyArn ?? null], ['none', null], 'without the setting, an unencrypted snapshot');
      await put(ctx, plain.SnapshotId!, 0, 91);
      await complete(ctx, plain.SnapshotId!, new Map([[0, 91]]));
      await ctx.configure!({ encryptionByDefault: true });
      try {
        const s = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
        eq(s.SseType, 'sse-ebs', 'SseType without Encrypted');
        ok(/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\//.test(s.KmsKeyArn ?? ''), `the account's default key ARN, got ${s.KmsKeyArn}`);
        const d = await describeSnapshot(ctx, s.SnapshotId!);
        eq([d.Encrypted, d.KmsKeyId], [true, s.KmsKeyArn], 'EC2 view: Encrypted with the default key');
        const off = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: false }));
        eq(off.SseType, 'sse-ebs', 'Encrypted false cannot opt out of encryption by default');
        const arn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
        const kms = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: arn }));
        eq([kms.SseType, kms.KmsKeyArn], ['sse-kms', arn], 'a given key still wins');
        const child = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: plain.SnapshotId }));
        eq(child.SseType, 'sse-ebs', 'a new version of an unencrypted parent is encrypted too');
        eq((await describeSnapshot(ctx, child.SnapshotId!)).Encrypted, true, 'the child shows Encrypted');
      } finally {
        await ctx.configure!({ encryptionByDefault: false });
      }
      eq((await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SseType, 'none', 'the setting turned off again');
    },
  },
  {
    name: 'EC2 view: DescribeSnapshots by id, owner and status filter; DeleteSnapshot; errors',
    async run(ctx) {
      const a = await completedSnapshot(ctx, new Map([[0, 81]]), { Description: 'a' });
      const b = await start(ctx, { Description: 'b', Tags: [{ Key: 'team', Value: 'blue' }] });
      const mine = await ctx.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
      const ids = new Set(mine.Snapshots!.map((s) => s.SnapshotId));
      ok(ids.has(a) && ids.has(b), 'OwnerIds self lists both');
      const done = await ctx.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'status', Values: ['completed'] }] }));
      ok(done.Snapshots!.some((s) => s.SnapshotId === a) && !done.Snapshots!.some((s) => s.SnapshotId === b), 'status filter');
      const tagged = await ctx.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:team', Values: ['blue'] }] }));
      eq(tagged.Snapshots!.map((s) => s.SnapshotId), [b], 'tag filter');
      const both = await ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [a, b] }));
      eq(both.Snapshots!.map((s) => [s.SnapshotId, s.State, s.Progress]), [[a, 'completed', '100%'], [b, 'pending', '0%']], 'by id');
      const sa = both.Snapshots![0]!;
      ok(sa.StartTime instanceof Date, 'StartTime');
      ok(/^\d{12}$/.test(sa.OwnerId ?? ''), 'OwnerId');
      const missing = 'snap-0000000000000000c';
      await rejects(ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [missing] })), { name: 'InvalidSnapshot.NotFound', status: 400, message: `The snapshot '${missing}' does not exist.` }, 'describe unknown');
      await rejects(ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ['vol-123'] })), { name: 'InvalidSnapshotID.Malformed', status: 400 }, 'describe malformed');
      await ctx.ec2.send(new DeleteSnapshotCommand({ SnapshotId: a }));
      await rejects(ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [a] })), { name: 'InvalidSnapshot.NotFound', status: 400 }, 'describe deleted');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: a })), notFound(a), 'list deleted');
      await rejects(ctx.ec2.send(new DeleteSnapshotCommand({ SnapshotId: a })), { name: 'InvalidSnapshot.NotFound', status: 400 }, 'delete twice');
    },
  },
  {
    name: 'storage: identical blocks are stored once; deleting frees only what no snapshot uses',
    needs: ['stats'],
    async run(ctx) {
      const before = await ctx.stats!();
      const p = await completedSnapshot(ctx, new Map([[0, 91], [1, 92]]));
      const q = await completedSnapshot(ctx, new Map([[0, 91], [9, 91]]));
      const s1 = await ctx.stats!();
      eq(s1.blobs - before.blobs, 2, 'three writes of one content and one other: two contents stored');
      eq(s1.bytes - before.bytes, 2 * BLOCK, 'bytes of distinct contents');
      eq(s1.blockRecords - before.blockRecords, 4, 'four block records');
      const child = await completedSnapshot(ctx, new Map([[2, 93]]), { ParentSnapshotId: p });
      eq((await ctx.stats!()).blobs - before.blobs, 3, 'a child shares its parent blocks');
      await ctx.ec2.send(new DeleteSnapshotCommand({ SnapshotId: p }));
      eq((await ctx.stats!()).blobs - before.blobs, 3, 'a deleted parent keeps the blocks its child inherits');
      const kids = await listAll(ctx, child);
      eq(kids.map((k) => k.index), [0, 1, 2], 'child still lists inherited blocks');
      sameBytes(await read(ctx, child, 1, kids[1]!.token), makeBlock(92), 'child still reads inherited block');
      await ctx.ec2.send(new DeleteSnapshotCommand({ SnapshotId: child }));
      const s3 = await ctx.stats!();
      eq(s3.blobs - before.blobs, 1, 'deleting the last heir frees blocks no one uses (content 91 stays for q)');
      eq(s3.snapshots - before.snapshots, 1, 'hidden parent removed with its last heir');
      await ctx.ec2.send(new DeleteSnapshotCommand({ SnapshotId: q }));
      eq((await ctx.stats!()).blobs - before.blobs, 0, 'everything freed');
    },
  },
];
