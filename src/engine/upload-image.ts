// Starting an upload in-process (Node CLI, tests): open the image, record the job, run one pipeline.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Connection } from '../aws/clients.ts';
import { openImage } from '../images/open-image.ts';
import { BlockState, type ByteSource } from '../images/types.ts';
import type { UploadOptions } from './upload-types.ts';
import { bestSha256 } from './block-digest.ts';
import { BlockPipeline } from './block-pipeline.ts';
import { ebsBlockSink } from './ebs-sink.ts';
import { fingerprintOf } from './fingerprint.ts';
import { newJobRecord, resolveParams } from './job-record.ts';
import { memoryLedgerStore, type LedgerStore } from './ledger.ts';
import { UploadSession, type ManifestSink } from './upload-session.ts';
import { canSkipZeros } from './volume.ts';
import { readParentArrays } from './parent.ts';

/** Default engine tuning. */
// 16 MiB slices: fewer, larger reads cost less CPU per byte than 8 MiB ones (bench/upload dry runs, same-run A/B).
export const DEFAULTS = { concurrency: 16, minConcurrency: 2, sliceBytes: 16 * 1048576 } as const;

/** Blocks per slice for a slice size in bytes (clamped to 4–16 MiB). */
export function sliceBlocksFor(bytes: number | undefined): number {
  const b = Math.min(16 * 1048576, Math.max(4 * 1048576, bytes ?? DEFAULTS.sliceBytes));
  return Math.floor(b / 524288);
}

/** Uploads a ByteSource in this process; returns the running session (await `.done` for the report). */
export async function uploadInProcess(args: {
  source: ByteSource;
  name: string;
  lastModified: number;
  connection: Connection;
  /** null = dry run (nothing sent). */
  clients: { ebs: EBSClient; ec2?: EC2Client } | null;
  options?: UploadOptions;
  store?: LedgerStore;
  manifest?: ManifestSink;
  /** Pipelines sharing the process (each with its own read-ahead); default 1. */
  pipelines?: number;
  completionWaitMs?: number;
}): Promise<UploadSession> {
  const opts = args.options ?? {};
  const { sha256 } = await bestSha256();
  const image = await openImage(args.source);
  const blockStates = await image.blockStates();
  const params = resolveParams(opts, image.virtualSize);
  const fingerprint = await fingerprintOf(args.source, { name: args.name, lastModified: args.lastModified }, sha256);
  let blocksToSend = 0;
  for (const s of blockStates) if (s === BlockState.Data) blocksToSend++;
  const job = newJobRecord({ fingerprint, connection: args.connection, params, format: image.format, virtualSize: image.virtualSize, blockCount: image.blockCount, blocksToSend });
  const store = args.store ?? memoryLedgerStore();
  await store.putJob(job);
  const ebs = args.clients?.ebs ?? null;
  // A new version whose parent has no manifest here: read the parent's blocks so only differences are sent (issue 6).
  const parent = params.parentSnapshotId && ebs && opts.parentCompare === 'read' ? await readParentArrays(ebs, params.parentSnapshotId, image.blockCount) : undefined;
  const runners = Array.from({ length: Math.max(1, args.pipelines ?? 1) }, () => new BlockPipeline(image, ebs ? (id) => ebsBlockSink(ebs, id) : null, sha256));
  const session = new UploadSession(job, {
    store,
    ebs,
    ...(args.clients?.ec2 ? { ec2: args.clients.ec2 } : {}),
    runners,
    sha256,
    blockStates,
    blockCount: image.blockCount,
    skipZeros: canSkipZeros(params),
    ...(parent ? { parent } : {}),
    floor: opts.minConcurrency ?? DEFAULTS.minConcurrency,
    ceiling: opts.concurrency ?? DEFAULTS.concurrency,
    sliceBlocks: sliceBlocksFor(opts.sliceBytes),
    ...(args.manifest ? { manifest: args.manifest } : {}),
    ...(args.completionWaitMs ? { completionWaitMs: args.completionWaitMs } : {}),
  });
  return session.start();
}
