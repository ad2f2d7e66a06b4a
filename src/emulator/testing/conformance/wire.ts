// Wire protocol: the six operations end to end, and the parameter constraints checked before any state (shape 2 errors).
import { ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand, type StartSnapshotCommandInput } from '@aws-sdk/client-ebs';
import { BLOCK, eq, ok, rejects, makeBlock, seedSum, start, put, complete, describeSnapshot, listAll, read, sameBytes, notFound, invalid, constraint, type Scenario } from './kit.ts';

export const wireScenarios: Scenario[] = [
  {
    name: 'start, put, complete, list and get: the happy path',
    async run(ctx) {
      const started = await ctx.ebs.send(
        new StartSnapshotCommand({ VolumeSize: 2, Description: 'happy', Tags: [{ Key: 'k', Value: 'v' }], Timeout: 60 }),
      );
      const id = started.SnapshotId!;
      eq(started.Status, 'pending', 'Status');
      eq(started.VolumeSize, 2, 'VolumeSize');
      eq(started.BlockSize, BLOCK, 'BlockSize');
      eq(started.Description, 'happy', 'Description');
      eq(started.Tags, [{ Key: 'k', Value: 'v' }], 'Tags');
      ok(/^\d{12}$/.test(started.OwnerId ?? ''), 'OwnerId is an account id');
      ok(started.StartTime instanceof Date && !Number.isNaN(started.StartTime.getTime()), 'StartTime is a date');
      const own = new Map([
        [0, 0],
        [5, 11],
        [4095, 12],
      ]);
      for (const [i, s] of own) {
        const out = await ctx.ebs.send(
          new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: i, BlockData: makeBlock(s), DataLength: BLOCK, Checksum: await seedSum(s), ChecksumAlgorithm: 'SHA256', Progress: 50 }),
        );
        eq(out.Checksum, await seedSum(s), 'PutSnapshotBlock echoes the computed checksum');
        eq(out.ChecksumAlgorithm, 'SHA256', 'PutSnapshotBlock echoes the algorithm');
        eq(out.$metadata.httpStatusCode, 201, 'PutSnapshotBlock status');
      }
      const pending = await describeSnapshot(ctx, id);
      eq(pending.State, 'pending', 'EC2 state before completion');
      eq(pending.VolumeId, 'vol-ffffffff', 'EC2 VolumeId');
      eq(pending.VolumeSize, 2, 'EC2 VolumeSize');
      eq(pending.Description, 'happy', 'EC2 Description');
      eq(pending.Tags, [{ Key: 'k', Value: 'v' }], 'EC2 Tags');
      eq(pending.Encrypted, false, 'EC2 Encrypted');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })), notFound(id), 'list while pending');
      await complete(ctx, id, own);
      const done = await describeSnapshot(ctx, id);
      eq(done.Progress, '100%', 'EC2 Progress');
      const listed = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
      eq(listed.Blocks?.map((b) => b.BlockIndex), [0, 5, 4095], 'listed indices (zero block included)');
      eq(listed.VolumeSize, 2, 'list VolumeSize');
      eq(listed.BlockSize, BLOCK, 'list BlockSize');
      eq(listed.NextToken, undefined, 'last page has no NextToken');
      const ttl = (listed.ExpiryTime?.getTime() ?? 0) - started.StartTime!.getTime();
      ok(ttl > 6.9 * 86400e3 && ttl < 7.1 * 86400e3, `block tokens expire in about 7 days (got ${ttl} ms)`);
      for (const b of listed.Blocks!) {
        ok(/^[A-Za-z0-9+/=]+$/.test(b.BlockToken!), 'block token is opaque base64');
        sameBytes(await read(ctx, id, b.BlockIndex!, b.BlockToken!), makeBlock(own.get(b.BlockIndex!)!), `block ${b.BlockIndex}`);
      }
    },
  },
  {
    name: 'a Blob body (as the upload engine sends it) is read and verified',
    async run(ctx) {
      const id = await start(ctx);
      await put(ctx, id, 7, 77, 'blob');
      await complete(ctx, id, new Map([[7, 77]]));
      const [b] = await listAll(ctx, id);
      sameBytes(await read(ctx, id, 7, b!.token), makeBlock(77), 'blob-bodied block');
    },
  },
  {
    name: 'PutSnapshotBlock: each validation and state rule',
    async run(ctx) {
      const id = await start(ctx);
      const data = makeBlock(21);
      const sum = await seedSum(21);
      const send = (over: Record<string, unknown>) =>
        ctx.ebs.send(
          new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: data, DataLength: BLOCK, Checksum: sum, ChecksumAlgorithm: 'SHA256', ...over }),
        );
      await rejects(send({ BlockIndex: -1 }), constraint(`1 validation error detected: Value '-1' at 'blockIndex' failed to satisfy constraint: Member must have value greater than or equal to 0`), 'negative index');
      await rejects(send({ SnapshotId: 'snap-XYZ' }), constraint(`1 validation error detected: Value 'snap-XYZ' at 'snapshotId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^snap-[0-9a-f]+$`), 'malformed id');
      await rejects(send({ SnapshotId: `snap-${'0'.repeat(60)}` }), constraint(/at 'snapshotId' failed to satisfy constraint: Member must have length less than or equal to 64$/), 'overlong id');
      await rejects(send({ Progress: 101 }), constraint(/Value '101' at 'progress' failed to satisfy constraint: Member must have value less than or equal to 100/), 'progress > 100');
      await rejects(send({ Checksum: 'x'.repeat(65) }), constraint(/at 'checksum' failed to satisfy constraint: Member must have length less than or equal to 64/), 'overlong checksum');
      await rejects(send({ Checksum: 'not base64!' }), constraint(/at 'checksum' failed to satisfy constraint: Member must satisfy regular expression pattern/), 'checksum charset');
      await rejects(send({ Checksum: undefined }), constraint(`1 validation error detected: Value null at 'checksum' failed to satisfy constraint: Member must not be null`), 'missing checksum header');
      await rejects(send({ ChecksumAlgorithm: undefined }), constraint(/Value null at 'checksumAlgorithm' failed to satisfy constraint: Member must not be null/), 'missing algorithm header');
      await rejects(send({ DataLength: undefined }), constraint(/Value null at 'dataLength' failed to satisfy constraint: Member must not be null/), 'missing data length header');
      await rejects(send({ BlockIndex: -1, Progress: 200 }), constraint(/^2 validation errors detected: Value '-1' at 'blockIndex'.*; Value '200' at 'progress'/), 'two failures reported together');
      await rejects(send({ ChecksumAlgorithm: 'MD5' }), invalid('INVALID_PARAMETER_VALUE', `Unsupported Checksum Algorithm 'MD5', supported algorithms are SHA256`), 'algorithm other than SHA256');
      await rejects(send({ BlockData: data.subarray(0, 1000) }), invalid('INVALID_PARAMETER_VALUE', 'Failed to read block data'), 'body shorter than declared');
      await rejects(send({ BlockData: data.subarray(0, 1000), DataLength: 1000 }), invalid('INVALID_BLOCK', 'Block data length 1000 is not valid, expected 524288'), 'short block');
      await rejects(send({ BlockIndex: 2048 }), invalid('INVALID_BLOCK', 'Block index 2048 is beyond the volume size extent'), 'index past the volume');
      const wrong = await seedSum(22);
      await rejects(
        send({ Checksum: wrong }),
        { name: 'InvalidSignatureException', status: 403, reason: null, message: `The value passed in as x-amz-Checksum does not match the computed checksum. Computed checksum: ${sum} expected checksum: ${wrong}` },
        'checksum mismatch',
      );
      await rejects(send({ SnapshotId: 'snap-0000000000000000a' }), notFound('snap-0000000000000000a'), 'unknown snapshot');
      await send({ BlockIndex: 2047 });
      await complete(ctx, id, new Map([[2047, 21]]));
      await rejects(send({}), invalid('INVALID_SNAPSHOT_ID', 'Snapshot is already completed'), 'put on a completed snapshot');
    },
  },
  {
    name: 'StartSnapshot: each parameter constraint',
    async run(ctx) {
      const s = (over: Partial<StartSnapshotCommandInput>) => ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ...over } as StartSnapshotCommandInput));
      await rejects(s({ VolumeSize: 0 }), constraint(`1 validation error detected: Value '0' at 'volumeSize' failed to satisfy constraint: Member must have value greater than or equal to 1`), 'VolumeSize 0');
      await rejects(s({ VolumeSize: 65537 }), constraint(/Value '65537' at 'volumeSize' failed to satisfy constraint: Member must have value less than or equal to 65536/), 'VolumeSize too big');
      await rejects(s({ VolumeSize: undefined }), constraint(/Value null at 'volumeSize' failed to satisfy constraint: Member must not be null/), 'VolumeSize missing');
      await rejects(s({ Timeout: 9 }), constraint(/Value '9' at 'timeout' .*greater than or equal to 10/), 'Timeout 9');
      await rejects(s({ Timeout: 4321 }), constraint(/Value '4321' at 'timeout' .*less than or equal to 4320/), 'Timeout 4321');
      await rejects(s({ Description: 'd'.repeat(256) }), constraint(/at 'description' failed to satisfy constraint: Member must have length less than or equal to 255/), 'Description 256');
      await rejects(s({ ClientToken: 'has space' }), constraint(/Value 'has space' at 'clientToken' failed to satisfy constraint: Member must satisfy regular expression pattern: \^\[\\S\]\+\$/), 'ClientToken with a space');
      await rejects(s({ ParentSnapshotId: 'snapshot-1' }), constraint(/at 'parentSnapshotId'/), 'malformed parent id');
      await rejects(s({ Encrypted: true, KmsKeyArn: 'not-an-arn' }), constraint(/at 'kmsKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern/), 'malformed KmsKeyArn');
      await rejects(s({ Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }), constraint(/at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/), '51 tags');
      await rejects(s({ Tags: [{ Key: 'k'.repeat(128), Value: 'v' }] }), constraint(/at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 127/), 'tag key 128');
      await rejects(s({ Tags: [{ Key: 'k', Value: 'v'.repeat(256) }] }), constraint(/at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 255/), 'tag value 256');
      const okId = await start(ctx, { VolumeSize: 65536, Timeout: 4320, Description: 'd'.repeat(255), Tags: [{ Key: 'k', Value: '' }] });
      eq((await describeSnapshot(ctx, okId)).VolumeSize, 65536, 'limits themselves are accepted');
    },
  },
];
