// What the conformance scenarios share: the context a runner gives them, assertions, deterministic blocks, SDK helpers.
import {
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
import { DescribeSnapshotsCommand, type EC2Client, type Snapshot } from '@aws-sdk/client-ec2';

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
    patch: Partial<{ putAfterStartLagMs: number; readAfterCompleteLagMs: number; maxPendingSnapshots: number; enforceQuotas: boolean; encryptionByDefault: boolean }>,
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

/** Fails the scenario with `msg`. */
export function fail(msg: string): never {
  throw new ConformanceError(msg);
}

/** Expects `actual` to equal `expected` (compared as JSON). */
export function eq<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

/** Expects `cond` to hold. */
export function ok(cond: unknown, what: string): void {
  if (!cond) fail(what);
}

/** A service error as the SDK surfaces it: name, HTTP status, and optionally Reason (null: none) and message. */
export interface ErrorSpec {
  name: string;
  status: number;
  reason?: string | null;
  message?: string | RegExp;
}

/** Awaits `p` expecting the service error described by `spec`. */
export async function rejects(p: Promise<unknown>, spec: ErrorSpec, what: string): Promise<Error & Record<string, unknown>> {
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
/** base64 SHA-256 of the block of a seed, computed once. */
export async function seedSum(seed: number): Promise<string> {
  let s = checksums.get(seed);
  if (!s) checksums.set(seed, (s = await checksumOf(makeBlock(seed))));
  return s;
}

/** StartSnapshot with VolumeSize 1 unless `input` says otherwise; returns the snapshot id. */
export async function start(ctx: ConformanceContext, input: Partial<StartSnapshotCommandInput> = {}): Promise<string> {
  const out = await ctx.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ...input }));
  ok(out.SnapshotId && /^snap-[0-9a-f]+$/.test(out.SnapshotId), 'StartSnapshot returns a snap- id');
  return out.SnapshotId!;
}

/** Puts the block of `seed` at `index`, as bytes or as a Blob. */
export async function put(ctx: ConformanceContext, id: string, index: number, seed: number, body: 'bytes' | 'blob' = 'bytes'): Promise<void> {
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
export async function complete(ctx: ConformanceContext, id: string, own: Map<number, number>): Promise<void> {
  const indices = [...own.keys()].sort((a, b) => a - b);
  const agg = await linearOf(indices.map((i) => makeBlock(own.get(i)!)));
  const out = await ctx.ebs.send(
    new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: indices.length, Checksum: agg, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }),
  );
  eq(out.Status, 'pending', 'CompleteSnapshot status');
  await ctx.advanceTime(ctx.completionDelayMs + 1);
  eq((await describeSnapshot(ctx, id)).State, 'completed', `state of ${id} after completion`);
}

/** The EC2 view of one snapshot. */
export async function describeSnapshot(ctx: ConformanceContext, id: string): Promise<Snapshot> {
  const out = await ctx.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  eq(out.Snapshots?.length, 1, `DescribeSnapshots(${id}) count`);
  return out.Snapshots![0]!;
}

/** Every block ListSnapshotBlocks lists, following NextToken. */
export async function listAll(ctx: ConformanceContext, id: string, maxResults?: number): Promise<{ index: number; token: string }[]> {
  const out: { index: number; token: string }[] = [];
  let next: string | undefined;
  do {
    const page: ListSnapshotBlocksCommandOutput = await ctx.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, NextToken: next, MaxResults: maxResults }));
    for (const b of page.Blocks ?? []) out.push({ index: b.BlockIndex!, token: b.BlockToken! });
    next = page.NextToken ?? undefined;
  } while (next);
  return out;
}

/** Every entry ListChangedBlocks lists, following NextToken. */
export async function changedAll(ctx: ConformanceContext, first: string, second: string, maxResults?: number) {
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

/** GetSnapshotBlock, checking DataLength, algorithm and checksum against the bytes. */
export async function read(ctx: ConformanceContext, id: string, index: number, token: string): Promise<Uint8Array> {
  const out = await ctx.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }));
  eq(out.DataLength, BLOCK, 'GetSnapshotBlock DataLength');
  eq(out.ChecksumAlgorithm, 'SHA256', 'GetSnapshotBlock ChecksumAlgorithm');
  const bytes = await out.BlockData!.transformToByteArray();
  eq(out.Checksum, await checksumOf(bytes), 'GetSnapshotBlock Checksum matches the bytes');
  return bytes;
}

/** Expects two byte arrays to be equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  if (a.length !== b.length) fail(`${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) fail(`${what}: differs at byte ${i}`);
}

/** A completed snapshot with the given blocks (index → seed). */
export async function completedSnapshot(ctx: ConformanceContext, own: Map<number, number>, input: Partial<StartSnapshotCommandInput> = {}): Promise<string> {
  const id = await start(ctx, input);
  for (const [i, s] of own) await put(ctx, id, i, s);
  await complete(ctx, id, own);
  return id;
}

/** The 404 of a snapshot that is not there (or not readable). */
export const notFound = (id: string): ErrorSpec => ({ name: 'ResourceNotFoundException', status: 404, reason: 'SNAPSHOT_NOT_FOUND', message: `The snapshot '${id}' does not exist.` });
/** A ValidationException with a Reason (shape 1). */
export const invalid = (reason: string, message?: string | RegExp): ErrorSpec => ({ name: 'ValidationException', status: 400, reason, message });
/** A constraint failure: ValidationException without Reason (shape 2). */
export const constraint = (message: string | RegExp): ErrorSpec => ({ name: 'ValidationException', status: 400, reason: null, message });
