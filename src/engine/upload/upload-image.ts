// Starting an upload in-process (Node CLI, tests): open the image, record the job, run one pipeline.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Connection } from '../../aws/clients.ts';
import { openImage } from '../../images/open-image.ts';
import type { ByteSource, DiskImage } from '../../images/types.ts';
import type { JobRecord, UploadOptions } from '../upload-types.ts';
import { bestSha256, type Sha256 } from '../block-digest.ts';
import { BlockPipeline } from '../block-pipeline.ts';
import { ebsBlockSink } from './ebs-sink.ts';
import { fingerprintOf } from '../fingerprint.ts';
import { memoryLedgerStore, type LedgerStore } from '../ledger.ts';
import type { ManifestSink, UploadSession } from './upload-session.ts';
import { readParentArrays } from '../parent.ts';
import { refuseFinishedJob } from './resume-check.ts';
import { windowCeiling } from '../window-ceiling.ts';
import { jobSession, prepareJob } from './job.ts';

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
  const store = args.store ?? memoryLedgerStore();
  const job = await prepareJob({
    image,
    blockStates,
    fingerprint: () => fingerprintOf(args.source, { name: args.name, lastModified: args.lastModified }, sha256),
    connection: args.connection,
    options: opts,
    store,
  });
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
  const { ebs, options: opts, sha256, pipelines, ...rest } = deps;
  const params = job.params;
  const blockStates = deps.blockStates ?? (await image.blockStates());
  // A new version whose parent has no manifest here: read the parent's blocks so only differences are sent.
  const compare = job.parentCompare ?? opts.parentCompare;
  const parent = params.parentSnapshotId && ebs && compare === 'read' ? await readParentArrays(ebs, params.parentSnapshotId, image.blockCount) : undefined;
  const runners = Array.from({ length: Math.max(1, pipelines ?? 1) }, () => new BlockPipeline(image, ebs ? (id) => ebsBlockSink(ebs, id) : null, sha256));
  const session = jobSession(job, {
    ...rest,
    ebs,
    runners,
    sha256,
    blockStates,
    blockCount: image.blockCount,
    ...(parent ? { parent } : {}),
    options: opts,
    window: windowCeiling({ requested: opts.concurrency, browser: false }),
  });
  return session.start();
}
