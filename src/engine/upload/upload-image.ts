// Starting an upload in-process (Node CLI, tests): open the image, record the job, run one pipeline.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Connection } from '../../aws/clients.ts';
import { openImage } from '../../images/open-image.ts';
import { BlockState, type ByteSource, type DiskImage } from '../../images/types.ts';
import type { JobRecord, UploadOptions } from '../upload-types.ts';
import { bestSha256, type Sha256 } from '../block-digest.ts';
import { BlockPipeline } from '../block-pipeline.ts';
import { ebsBlockSink } from './ebs-sink.ts';
import { fingerprintOf } from '../fingerprint.ts';
import { newJobRecord, resolveParams } from '../job-record.ts';
import { memoryLedgerStore, type LedgerStore } from '../ledger.ts';
import { UploadSession, type ManifestSink } from './upload-session.ts';
import { canSkipZeros } from '../volume.ts';
import { readParentArrays } from '../parent.ts';
import { refuseFinishedJob } from './resume-check.ts';

/** Default engine tuning. */
// 4 MiB slices: a worker reads its run of blocks through one stream, so a slice is only the size of its two reused
// buffers. Dry runs of the bench image read as fast with 4 MiB as with 16 MiB (790–1120 vs 920–1050 MiB/s, same run),
// and a 4 GiB upload's renderer peaked 30 MiB lower (bench/upload (f)).
export const DEFAULTS = { concurrency: 16, minConcurrency: 2, sliceBytes: 4 * 1048576 } as const;

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
  return startJobSession(job, image, {
    store,
    ebs: args.clients?.ebs ?? null,
    ...(args.clients?.ec2 ? { ec2: args.clients.ec2 } : {}),
    sha256,
    blockStates,
    options: opts,
    ...(args.pipelines ? { pipelines: args.pipelines } : {}),
    ...(args.manifest ? { manifest: args.manifest } : {}),
    ...(args.completionWaitMs ? { completionWaitMs: args.completionWaitMs } : {}),
  });
}

/** Starts an in-process session for a recorded job (new or resumed) over its opened image: pipelines, parent, pacing. Refuses a completed or cancelled job. */
export async function startJobSession(
  job: JobRecord,
  image: DiskImage,
  deps: {
    store: LedgerStore;
    /** null = dry run (nothing sent). */
    ebs: EBSClient | null;
    ec2?: EC2Client;
    sha256: Sha256;
    options: UploadOptions;
    /** The image's block states, when the caller has read them already. */
    blockStates?: Uint8Array;
    /** Pipelines sharing the process (each with its own read-ahead); default 1. */
    pipelines?: number;
    manifest?: ManifestSink;
    completionWaitMs?: number;
  },
): Promise<UploadSession> {
  refuseFinishedJob(job);
  const { ebs, options: opts, sha256 } = deps;
  const params = job.params;
  const blockStates = deps.blockStates ?? (await image.blockStates());
  // A new version whose parent has no manifest here: read the parent's blocks so only differences are sent (issue 6).
  const compare = job.parentCompare ?? opts.parentCompare;
  const parent = params.parentSnapshotId && ebs && compare === 'read' ? await readParentArrays(ebs, params.parentSnapshotId, image.blockCount) : undefined;
  const runners = Array.from({ length: Math.max(1, deps.pipelines ?? 1) }, () => new BlockPipeline(image, ebs ? (id) => ebsBlockSink(ebs, id) : null, sha256));
  const session = new UploadSession(job, {
    store: deps.store,
    ebs,
    ...(deps.ec2 ? { ec2: deps.ec2 } : {}),
    runners,
    sha256,
    blockStates,
    blockCount: image.blockCount,
    skipZeros: canSkipZeros(params),
    ...(parent ? { parent } : {}),
    floor: opts.minConcurrency ?? DEFAULTS.minConcurrency,
    ceiling: opts.concurrency ?? DEFAULTS.concurrency,
    sliceBlocks: sliceBlocksFor(opts.sliceBytes),
    ...(deps.manifest ? { manifest: deps.manifest } : {}),
    ...(deps.completionWaitMs ? { completionWaitMs: deps.completionWaitMs } : {}),
  });
  return session.start();
}
