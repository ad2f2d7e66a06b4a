// Conformance scenarios for the EBS direct API emulator, driven only through the SDK clients.
// Shared by the Vitest suite (memory store), the Playwright page (IndexedDB store) and the HTTP server's tests.
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
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type EBSClient,
  type ListChangedBlocksCommandOutput,
  type ListSnapshotBlocksCommandOutput,
  type StartSnapshotCommandInput,
} from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand, type EC2Client, type Snapshot } from '@aws-sdk/client-ec2';

/** What a scenario gets: SDK clients, a way to move the emulator's clock, and optional hooks. */
export interface ConformanceContext {
  ebs: EBSClient;
  ec2: EC2Client;
  /** Moves the emulator clock forward (ms); no sleeping. */
  advanceTime: (ms: number) => void | Promise<void>;
  /** The emulator's completion delay (ms) so scenarios know how far to advance. */
  completionDelayMs: number;
  /** Changes a runtime setting of the emulator (lags, limits); absent for a remote emulator without admin access. */
  configure?: (
    patch: Partial<{ putAfterStartLagMs: number; readAfterCompleteLagMs: number; maxPendingSnapshots: number; enforceQuotas: boolean }>,
  ) => void | Promise<void>;
  /** Makes the next call of an operation answer the given error (fault injection). */
  failNext?: (op: string, fault: { code: string; status: number; message: string; reason?: string }) => void | Promise<void>;
  /** Clients of another account on the same emulator state. */
  otherAccount?: () => Promise<{ ebs: EBSClient; ec2: EC2Client }>;
  /** Space accounting of the store; absent when not observable. */
  stats?: () => Promise<{ blobs: number; bytes: number; blockRecords: number; snapshots: number }>;
}

/** One scenario. */
export interface Scenario {
  name: string;
  /** Hooks the scenario needs; runners skip it when missing. */
  needs?: ('configure' | 'stats' | 'failNext' | 'otherAccount')[];
  run: (ctx: ConformanceContext) => Promise<void>;
}

export const BLOCK = 524288;

/** A failed expectation inside a scenario. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

function fail(msg: string): never {
  throw new ConformanceError(msg);
}

function eq<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

function ok(cond: unknown, what: string): void {
  if (!cond) fail(what);
}

interface ErrorSpec {
  name: string;
  status: number;
  reason?: string | null;
  message?: string | RegExp;
}

/** Awaits `p` expecting the service error described by `spec`. */
async function rejects(p: Promise<unknown>, spec: ErrorSpec, what: string): Promise<Error & Record<string, unknown>> {
  let err: (Error & Record<string, unknown>) | undefined;
  try {
    await p;
  } catch (e) {
    err = e as Error & Record<string, unknown>;
  }
  if (!err) fail(`${what}: expected ${spec.name}, but the call succeeded`);
  const meta = err.$metadata as { httpStatusCode?: number } | undefined;
  if (err.name !== spec.name) fail(`${what}: expected ${spec.name}, got ${err.name}: ${err.message}`);
  eq(meta?.httpStatusCode, spec.status, `${what}: HTTP status`);
  if (spec.reason !== undefined) eq(err.Reason ?? null, spec.reason, `${what}: Reason`);
  if (typeof spec.message === 'string') eq(err.message, spec.message, `${what}: message`);
  else if (spec.message && !spec.message.test(err.message)) fail(`${what}: message ${JSON.stringify(err.message)} does not match ${spec.message}`);
  return err;
}

/** Deterministic 512 KiB block for a seed; seed 0 is all zeros. */
export function makeBlock(seed: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  if (seed === 0) return b;
  let x = (seed * 2654435761) >>> 0 || 1;
  const w = new Uint32Array(b.buffer);
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  return b;
}

async function rawSha(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
}

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const x of bytes) s += String.fromCharCode(x);
  return btoa(s);
}

/** base64 SHA-256 of a block, as x-amz-Checksum wants it. */
export async function checksumOf(bytes: Uint8Array): Promise<string> {
  return b64(await rawSha(bytes));
}

/** LINEAR aggregate over blocks in ascending index order: SHA-256 of the raw digests. */
export async function linearOf(blocks: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(blocks.length * 32);
  for (let i = 0; i < blocks.length; i++) all.set(await rawSha(blocks[i]!), i * 32);
  return b64(await rawSha(all));
}

const checksums = new Map<number, string>();
async function seedSum(seed: number): Promise<string> {
  let s = checksums.get(seed);
  if (!s) checksums.set(seed, (s = await checksumOf(makeBlock(seed))));
  return s;
}

async function start(ctx: ConformanceContext, input: Partial<StartSnapshotCommandInput> = {}): Promise<string> {
  const out = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ...input }));
  ok(out.SnapshotId && /^snap-[0-9a-f]+$/.test(out.SnapshotId), 'StartSnapshot returns a snap- id');
  return out.SnapshotId!;
}

async function put(ctx: ConformanceContext, id: string, index: number, seed: number, body: 'bytes' | 'blob' = 'bytes'): Promise<void> {
  const data = makeBlock(seed);
  await ctx.ebs.send(
    new PutSnapshotBlockCommand({
      SnapshotId: id,
      BlockIndex: index,
      BlockData: body === 'blob' ? new Blob([data as BlobPart]) : data,
      DataLength: BLOCK,
      Checksum: await seedSum(seed),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
}

/** Completes with the right count and LINEAR aggregate for `own` (index → seed) and waits out the delay. */
async function complete(ctx: ConformanceContext, id: string, own: Map<number, number>): Promise<void> {
  const indices = [...own.keys()].sort((a, b) => a - b);
  const agg = await linearOf(indices.map((i) => makeBlock(own.get(i)!)));
  const out = await ctx.ebs.send(
    new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: indices.length, Checksum: agg, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
  );
  eq(out.Status, 'pending', 'CompleteSnapshot status');
  await ctx.advanceTime(ctx.completionDelayMs + 1);
  eq((await describe(ctx, id)).State, 'completed', `state of ${id} after completion`);
}

async function describe(ctx: ConformanceContext, id: string): Promise<Snapshot> {
  const out = await ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  eq(out.Snapshots?.length, 1, `DescribeSnapshots(${id}) count`);
  return out.Snapshots![0]!;
}

async function listAll(ctx: ConformanceContext, id: string, maxResults?: number): Promise<{ index: number; token: string }[]> {
  const out: { index: number; token: string }[] = [];
  let next: string | undefined;
  do {
    const page: ListSnapshotBlocksCommandOutput = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, NextToken: next, MaxResults: maxResults }));
    for (const b of page.Blocks ?? []) out.push({ index: b.BlockIndex!, token: b.BlockToken! });
    next = page.NextToken ?? undefined;
  } while (next);
  return out;
}

async function changedAll(ctx: ConformanceContext, first: string, second: string, maxResults?: number) {
  const out: { index: number; first: string | null; second: string | null }[] = [];
  let next: string | undefined;
  do {
    const page: ListChangedBlocksCommandOutput = await ctx.ebs.send(
      new ListChangedBlocksCommand({ FirstSnapshotId: first, SecondSnapshotId: second, NextToken: next, MaxResults: maxResults }),
    );
    for (const b of page.ChangedBlocks ?? []) out.push({ index: b.BlockIndex!, first: b.FirstBlockToken ?? null, second: b.SecondBlockToken ?? null });
    next = page.NextToken ?? undefined;
  } while (next);
  return out;
}

async function read(ctx: ConformanceContext, id: string, index: number, token: string): Promise<Uint8Array> {
  const out = await ctx.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }));
  eq(out.DataLength, BLOCK, 'GetSnapshotBlock DataLength');
  eq(out.ChecksumAlgorithm, 'SHA256', 'GetSnapshotBlock ChecksumAlgorithm');
  const bytes = await out.BlockData!.transformToByteArray();
  eq(out.Checksum, await checksumOf(bytes), 'GetSnapshotBlock Checksum matches the bytes');
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  if (a.length !== b.length) fail(`${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) fail(`${what}: differs at byte ${i}`);
}

/** A completed snapshot with the given blocks (index → seed). */
async function completedSnapshot(ctx: ConformanceContext, own: Map<number, number>, input: Partial<StartSnapshotCommandInput> = {}): Promise<string> {
  const id = await start(ctx, input);
  for (const [i, s] of own) await put(ctx, id, i, s);
  await complete(ctx, id, own);
  return id;
}

const notFound = (id: string): ErrorSpec => ({ name: 'ResourceNotFoundException', status: 404, reason: 'SNAPSHOT_NOT_FOUND', message: `The snapshot '${id}' does not exist.` });
const invalid = (reason: string, message?: string | RegExp): ErrorSpec => ({ name: 'ValidationException', status: 400, reason, message });
const constraint = (message: string | RegExp): ErrorSpec => ({ name: 'ValidationException', status: 400, reason: null, message });

/** Every scenario, in a stable order. */
export const scenarios: Scenario[] = [
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
      const pending = await describe(ctx, id);
      eq(pending.State, 'pending', 'EC2 state before completion');
      eq(pending.VolumeId, 'vol-ffffffff', 'EC2 VolumeId');
      eq(pending.VolumeSize, 2, 'EC2 VolumeSize');
      eq(pending.Description, 'happy', 'EC2 Description');
      eq(pending.Tags, [{ Key: 'k', Value: 'v' }], 'EC2 Tags');
      eq(pending.Encrypted, false, 'EC2 Encrypted');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })), notFound(id), 'list while pending');
      await complete(ctx, id, own);
      const done = await describe(ctx, id);
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
      eq((await describe(ctx, text)).State, 'pending', 'still pending before the delay');
      await ctx.advanceTime(ctx.completionDelayMs + 1);
      eq((await describe(ctx, empty)).State, 'completed', 'empty snapshot with SHA256("")');
      eq((await describe(ctx, plain)).State, 'completed', 'completion without checksum');
      const t = await describe(ctx, text);
      eq([t.State, t.StateMessage], ['error', 'Checksum mismatch for snapshot'], 'text-form aggregate');
      const c = await describe(ctx, count);
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
      eq((await describe(ctx, okId)).VolumeSize, 65536, 'limits themselves are accepted');
    },
  },
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
    name: 'Timeout: no write within Timeout, or no completion after the last write, cancels the snapshot',
    async run(ctx) {
      const idle = await start(ctx, { Timeout: 10 });
      const busy = await start(ctx, { Timeout: 10 });
      await ctx.advanceTime(9 * 60_000);
      await put(ctx, busy, 0, 61);
      await ctx.advanceTime(2 * 60_000);
      const i = await describe(ctx, idle);
      eq([i.State, i.StateMessage], ['error', 'Snapshot timed out'], 'idle snapshot timed out');
      eq((await describe(ctx, busy)).State, 'pending', 'a write restarts the clock');
      await rejects(put(ctx, idle, 0, 61), notFound(idle), 'put on a timed-out snapshot');
      await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: idle })), notFound(idle), 'list a timed-out snapshot');
      eq((await ctx.ebs.send(new CompleteSnapshotCommand({ SnapshotId: idle, ChangedBlocksCount: 0 }))).Status, 'error', 'complete a timed-out snapshot');
      await ctx.advanceTime(9 * 60_000);
      eq((await describe(ctx, busy)).StateMessage, 'Snapshot timed out', 'no completion after the last write');
      const dflt = await start(ctx);
      await ctx.advanceTime(59 * 60_000);
      eq((await describe(ctx, dflt)).State, 'pending', 'default Timeout is 60 minutes (59 elapsed)');
      await ctx.advanceTime(60_001);
      eq((await describe(ctx, dflt)).State, 'error', 'default Timeout is 60 minutes (60 elapsed)');
    },
  },
  {
    name: 'encryption: Encrypted/KmsKeyArn rules and inheritance',
    async run(ctx) {
      const arn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      const enc = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, KmsKeyArn: arn }));
      eq(enc.KmsKeyArn, arn, 'KmsKeyArn echoed');
      eq(enc.SseType, 'sse-kms', 'SseType');
      const d = await describe(ctx, enc.SnapshotId!);
      eq([d.Encrypted, d.KmsKeyId], [true, arn], 'EC2 view of encryption');
      await put(ctx, enc.SnapshotId!, 0, 71);
      await complete(ctx, enc.SnapshotId!, new Map([[0, 71]]));
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true, ParentSnapshotId: enc.SnapshotId })),
        invalid('INVALID_PARAMETER_VALUE'),
        'Encrypted with ParentSnapshotId',
      );
      const child = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: enc.SnapshotId }));
      eq(child.KmsKeyArn, arn, "a child inherits its parent's key");
      eq((await describe(ctx, child.SnapshotId!)).Encrypted, true, 'child is encrypted');
      await rejects(ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, KmsKeyArn: arn })), invalid('INVALID_PARAMETER_VALUE'), 'KmsKeyArn without Encrypted');
      const dflt = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true }));
      ok(/^arn:aws:kms:/.test(dflt.KmsKeyArn ?? ''), 'default key ARN when none is given');
      await rejects(
        ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: (await completedSnapshot(ctx, new Map(), { VolumeSize: 4 })) })),
        invalid('INVALID_VOLUME_SIZE'),
        'child smaller than its parent',
      );
    },
  },
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
        eq((await describe(ctx, id)).State, 'completed', 'EC2 already shows completed');
        await rejects(ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id })), notFound(id), 'list inside the read lag');
        await ctx.advanceTime(30_000);
        eq((await listAll(ctx, id)).length, 1, 'list after the read lag');
      } finally {
        await ctx.configure!({ putAfterStartLagMs: 0, readAfterCompleteLagMs: 0 });
      }
    },
  },
];

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

scenarios.push(
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
);

/** Outcome of one scenario when run outside a test framework. */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  skipped?: boolean;
  error?: string;
}

/** Runs scenarios one after the other with a fresh context from `makeContext`, collecting results. */
export async function runScenarios(makeContext: (name: string) => Promise<ConformanceContext>, only?: (s: Scenario) => boolean): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const s of scenarios) {
    if (only && !only(s)) continue;
    const ctx = await makeContext(s.name);
    if (s.needs?.some((n) => !ctx[n])) {
      out.push({ name: s.name, ok: true, skipped: true });
      continue;
    }
    try {
      await s.run(ctx);
      out.push({ name: s.name, ok: true });
    } catch (e) {
      out.push({ name: s.name, ok: false, error: (e as Error).stack ?? String(e) });
    }
  }
  return out;
}
