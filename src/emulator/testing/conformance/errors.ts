// Errors: every exception and Reason of the error table, as the SDK sees them.
import {
  AccessDeniedException,
  ConcurrentLimitExceededException,
  ConflictException,
  InternalServerException,
  RequestThrottledException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ValidationException,
  CompleteSnapshotCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { BLOCK, eq, ok, rejects, makeBlock, seedSum, start, put, invalid, type Scenario } from './kit.ts';

const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = {
  ValidationException,
  ResourceNotFoundException,
  AccessDeniedException,
  RequestThrottledException,
  ServiceQuotaExceededException,
  ConcurrentLimitExceededException,
  ConflictException,
  InternalServerException,
};

export const errorScenarios: Scenario[] = [
  {
    name: 'every exception of the error table reaches the SDK as its class, status and Reason',
    needs: ['failNext'],
    async run(ctx) {
      const rows: [string, number, string | undefined][] = [
        ['ValidationException', 400, 'INVALID_DEPENDENCY_REQUEST'],
        ['ValidationException', 400, 'CONFLICTING_BLOCK_UPDATE'],
        ['ValidationException', 400, 'INVALID_GRANT_TOKEN'],
        ['ResourceNotFoundException', 404, 'DEPENDENCY_RESOURCE_NOT_FOUND'],
        ['AccessDeniedException', 403, 'DEPENDENCY_ACCESS_DENIED'],
        ['RequestThrottledException', 400, 'ACCOUNT_THROTTLED'],
        ['RequestThrottledException', 400, 'DEPENDENCY_REQUEST_THROTTLED'],
        ['RequestThrottledException', 400, 'RESOURCE_LEVEL_THROTTLE'],
        ['ServiceQuotaExceededException', 402, 'DEPENDENCY_SERVICE_QUOTA_EXCEEDED'],
        ['ConcurrentLimitExceededException', 400, undefined],
        ['ConflictException', 409, undefined],
        ['InternalServerException', 500, undefined],
        ['ThrottlingException', 400, undefined],
      ];
      const id = await start(ctx);
      for (const [code, status, reason] of rows) {
        const message = `injected ${code} ${reason ?? ''}`.trim();
        await ctx.failNext!('PutSnapshotBlock', { code, status, message, reason });
        const err = await rejects(put(ctx, id, 0, 1), { name: code, status, reason: reason ?? null, message }, `${code} ${reason ?? ''}`);
        const cls = ERROR_CLASSES[code];
        if (cls) ok(err instanceof cls, `${code} is an instance of the SDK's ${code} class`);
        eq(err.$fault, status >= 500 ? 'server' : 'client', `${code} $fault`);
      }
      await put(ctx, id, 0, 1);
    },
  },
  {
    name: 'reserved tag keys, a KMS key from another region, and compressed bodies are refused',
    async run(ctx) {
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: 'aws:owner', Value: 'x' }] })), invalid('INVALID_TAG'), 'aws: tag key');
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: 'arn:aws:kms:eu-west-3:123456789012:key/abc' })),
        invalid('INVALID_CUSTOMER_KEY'),
        'KMS key of another region',
      );
      const id = await start(ctx);
      const data = makeBlock(3);
      const cmd = new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: data, DataLength: BLOCK, Checksum: await seedSum(3), ChecksumAlgorithm: 'SHA256' });
      cmd.middlewareStack.add(
        (next) => async (args) => {
          (args.request as { headers: Record<string, string> }).headers['content-encoding'] = 'gzip';
          return next(args);
        },
        { step: 'build' },
      );
      await rejects(ctx.ebs.send(cmd), invalid('INVALID_CONTENT_ENCODING'), 'Content-Encoding gzip');
    },
  },
  {
    name: "another account cannot write to, see, describe or delete a snapshot",
    needs: ['otherAccount'],
    async run(ctx) {
      const other = await ctx.otherAccount!();
      const id = await start(ctx);
      await rejects(
        other.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: makeBlock(4), DataLength: BLOCK, Checksum: await seedSum(4), ChecksumAlgorithm: 'SHA256' })),
        { name: 'AccessDeniedException', status: 403, reason: 'UNAUTHORIZED_ACCOUNT' },
        'put to another account',
      );
      await rejects(other.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 0 })), { name: 'AccessDeniedException', status: 403, reason: 'UNAUTHORIZED_ACCOUNT' }, 'complete for another account');
      const mine = await other.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
      ok(!(mine.Snapshots ?? []).some((s) => s.SnapshotId === id), "OwnerIds self excludes another account's snapshot");
      const all = await other.ec2.send(new DescribeSnapshotsCommand({}));
      ok(!(all.Snapshots ?? []).some((s) => s.SnapshotId === id), "DescribeSnapshots leaves out another account's snapshot");
      await rejects(other.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })), { name: 'InvalidSnapshot.NotFound', status: 400 }, "describe another account's snapshot");
      await rejects(other.ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })), { name: 'InvalidSnapshot.NotFound', status: 400 }, "delete another account's snapshot");
      const still = await ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
      eq(still.Snapshots!.map((s) => s.SnapshotId), [id], 'the owner still has it');
    },
  },
];
