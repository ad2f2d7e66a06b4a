// Main-thread controller (browser): plans, fingerprints, records the job, drives the worker pool.
import { createClients, type Connection } from '../../aws/clients.ts';
import { blobSource } from '../../images/blob-source.ts';
import { openImage } from '../../images/open-image.ts';
import type { DiskImage } from '../../images/types.ts';
import {
  ResumeError,
  UploadError,
  type FileInput,
  type JobBroadcast,
  type JobRecord,
  type StartUploadArgs,
  type UploadOptions,
  type UploadPlan,
  type UploadRun,
} from '../upload-types.ts';
import { bestSha256 } from '../block-digest.ts';
import type { PipelineSpec } from '../block-pipeline.ts';
import { checkResumableSnapshot, refuseFinishedJob } from '../upload/resume-check.ts';
import { completionSession, recordsEveryBlock } from '../upload/completion-session.ts';
import { fingerprintOf, pickedFileWords } from '../fingerprint.ts';
import { JOBS_CHANNEL, holdJobLock } from './job-lock.ts';
import { completionPending, resolveParams } from '../job-record.ts';
import { idbLedgerStore } from './ledger-idb.ts';
import { memoryLedgerStore, type LedgerStore } from '../ledger.ts';
import { buildManifest } from '../manifest.ts';
import { idbManifestStore, saveManifest } from './manifest-idb.ts';
import { readParentArrays } from '../parent.ts';
import type { EBSClient } from '@aws-sdk/client-ebs';
import { checkSameDisk, checkSameFile, countData, jobSession, prepareJob, type ReopenWords } from '../upload/job.ts';
import type { ManifestSink, UploadSession } from '../upload/upload-session.ts';
import { engineSettings } from './engine-settings.ts';
import { startPool } from './upload-pool.ts';
import { windowCeiling, type WindowCeiling } from '../window-ceiling.ts';
import type { Packing } from '../../images/disk-route.ts';
import { bootInWorker, isPacked, planPacked, resumePacked, startPacked, type PackedHost } from './packed-upload.ts';

function store(): LedgerStore {
  return idbLedgerStore(engineSettings.jobsDb);
}

async function fileOf(input: FileInput): Promise<File> {
  return input instanceof Blob ? input : input.getFile();
}

async function openFile(file: File): Promise<{ image: DiskImage; blockStates: Uint8Array }> {
  const image = await openImage(blobSource(file));
  return { image, blockStates: await image.blockStates() };
}

/**
 * Reads the image's tables and tells what an upload would send. A packed file is read through in a worker (progress:
 * the share of it read when a stream's size must be measured, 0–1).
 */
export async function planUpload(input: FileInput, progress?: (fraction: number) => void): Promise<UploadPlan> {
  const file = await fileOf(input);
  if (await isPacked(file)) {
    const plan = await planPacked(file, { openFile, planDisk }, progress);
    if (plan) return plan;
  }
  return planDisk(file);
}

/** The plan of a bare disk: its tables read here, how it boots read in the image worker meanwhile. */
async function planDisk(file: File): Promise<UploadPlan> {
  const booting = bootInWorker(file);
  const { image, blockStates } = await openFile(file);
  const { boot, nitro } = await booting;
  return {
    format: image.format,
    ...(image.subformat ? { subformat: image.subformat } : {}),
    virtualSize: image.virtualSize,
    volumeSizeGiB: resolveParams({}, image.virtualSize).volumeSizeGiB,
    blockCount: image.blockCount,
    blocksToSend: countData(blockStates),
    blockStates,
    notices: image.notices,
    ...(boot ? { boot } : {}),
    ...(nitro ? { nitro } : {}),
  };
}

/** The session's ceiling in a tab: the person's number, or memory, or HTTP/1.1's six connections per host. */
function browserCeiling(opts: UploadOptions, connection?: Connection): WindowCeiling {
  const pageOrigin = typeof location !== 'undefined' ? location.origin : undefined;
  return windowCeiling({ requested: opts.concurrency, browser: true, ...(connection ? { connection } : {}), ...(pageOrigin ? { pageOrigin } : {}) });
}

async function parentArrays(parentId: string | undefined, blockCount: number, ebs?: EBSClient, compare?: 'read' | 'all'): Promise<PipelineSpec['parent'] | undefined> {
  if (!parentId) return undefined;
  const m = await idbManifestStore().get(parentId).catch(() => undefined);
  // No manifest (not uploaded by Blockport here): read the parent's blocks when the person chose to.
  if (!m) return compare === 'read' && ebs ? readParentArrays(ebs, parentId, blockCount) : undefined;
  const present = new Uint8Array(Math.ceil(blockCount / 8));
  const digests = new Uint8Array(blockCount * 32);
  m.indices.forEach((i, k) => {
    if (i >= blockCount) return;
    present[i >> 3]! |= 1 << (i & 7);
    digests.set(m.digests.subarray(k * 32, k * 32 + 32), i * 32);
  });
  return { present, digests };
}

/** Keeps a completed snapshot's block digests as its manifest (a later version over it sends only what changed). */
function manifestSink(params: JobRecord['params']): ManifestSink {
  return async (m) => {
    const parentManifest = params.parentSnapshotId ? await idbManifestStore().get(params.parentSnapshotId) : undefined;
    const digests = new Map<number, Uint8Array>();
    m.indices.forEach((i, k) => digests.set(i, m.digests.subarray(k * 32, k * 32 + 32)));
    await saveManifest(buildManifest({ snapshotId: m.snapshotId, volumeSizeGiB: m.volumeSizeGiB, digests, imageSize: m.imageSize, ...(parentManifest ? { parent: parentManifest } : {}) }));
  };
}

/** What a run reads: the opened file, or nothing when every block is recorded and only CompleteSnapshot is left. */
type RunSource = { file: File; prepared: { image: DiskImage; blockStates: Uint8Array } } | 'complete-only';

/** Runs a job (new or resumed) in this tab: lock, pool (none when only completing), session, broadcasts. */
async function runJob(job: JobRecord, connection: Connection, opts: UploadOptions, source: RunSource): Promise<UploadRun> {
  const release = await holdJobLock(job.id);
  if (!release) throw new ResumeError('This upload is running in another tab. Take it over there, or from here with "take over".', 'takeover', 'busy');
  const cleanups: (() => void)[] = [release];
  const cleanup = () => {
    for (const c of cleanups.splice(0)) {
      try {
        c();
      } catch {
        /* best effort */
      }
    }
  };
  try {
    const { sha256 } = await bestSha256();
    const clients = await createClients(connection);
    cleanups.push(() => clients.close());
    const params = job.params;
    let session: UploadSession;
    if (source === 'complete-only') {
      session = completionSession(job, { store: store(), ebs: clients.ebs, ec2: clients.ec2, sha256, manifest: manifestSink(params), onEnd: cleanup });
    } else {
      const { file, prepared } = source;
      const pool = await startPool(file, connection, opts, job.packing);
      cleanups.push(pool.terminate);
      const parent = await parentArrays(params.parentSnapshotId, prepared.image.blockCount, clients.ebs, opts.parentCompare);
      session = jobSession(job, {
        store: store(),
        ebs: clients.ebs,
        ec2: clients.ec2,
        runners: pool.runners,
        sha256,
        blockStates: prepared.blockStates,
        blockCount: prepared.image.blockCount,
        ...(parent ? { parent } : {}),
        options: opts,
        window: browserCeiling(opts, connection),
        // The workers' requests share the network; the in-browser emulator is opened in each worker, a store of its own.
        sharedLink: connection.kind !== 'emulator',
        manifest: manifestSink(params),
        onEnd: cleanup,
      });
    }
    if (typeof BroadcastChannel !== 'undefined') {
      const ch = new BroadcastChannel(JOBS_CHANNEL);
      ch.onmessage = (m: MessageEvent<JobBroadcast>) => {
        if (m.data?.type === 'takeover' && m.data.jobId === job.id) void session.release();
      };
      session.onProgress((progress) => ch.postMessage({ type: 'progress', progress } satisfies JobBroadcast));
      cleanups.unshift(() => {
        ch.postMessage({ type: 'released', jobId: job.id } satisfies JobBroadcast);
        ch.close();
      });
    }
    return await session.start();
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** A dry run: the worker pool reads, zero-detects and hashes everything; nothing is sent or recorded. */
async function dryRun(file: File, opts: UploadOptions, prepared: { image: DiskImage; blockStates: Uint8Array }, packing?: Packing): Promise<UploadRun> {
  const { sha256 } = await bestSha256();
  // Nothing is recorded beyond this run: the job lives in memory, and the file is not fingerprinted.
  const mem = memoryLedgerStore();
  const fingerprint = { name: file.name, size: file.size, lastModified: file.lastModified, firstBlockSha256: '', lastBlockSha256: '' };
  const job = await prepareJob({ ...prepared, fingerprint: async () => fingerprint, connection: { kind: 'emulator' }, options: opts, store: mem });
  const pool = await startPool(file, undefined, opts, packing);
  const session = jobSession(job, {
    store: mem,
    ebs: null,
    runners: pool.runners,
    sha256,
    blockStates: prepared.blockStates,
    blockCount: prepared.image.blockCount,
    options: opts,
    window: browserCeiling(opts),
    onEnd: pool.terminate,
  });
  return session.start();
}

/** Starts a new upload job in this tab (options.dryRun: read and hash only, nothing sent or recorded). */
export async function startUpload(args: StartUploadArgs): Promise<UploadRun> {
  const opts = args.options ?? {};
  const file = await fileOf(args.file);
  if (await isPacked(file)) {
    const run = await startPacked(file, { connection: args.connection, options: opts, ...(args.file instanceof Blob ? {} : { fileHandle: args.file }) }, packedHost(args.connection));
    if (run) return run;
  }
  const prepared = await openFile(file);
  if (opts.dryRun) return dryRun(file, opts, prepared);
  const { sha256 } = await bestSha256();
  // The ClientToken is persisted before StartSnapshot is ever sent.
  const job = await prepareJob({
    ...prepared,
    fingerprint: () => fingerprintOf(blobSource(file), { name: file.name, lastModified: file.lastModified }, sha256),
    connection: args.connection,
    options: opts,
    store: store(),
    ...(args.file instanceof Blob ? {} : { fileHandle: args.file }),
  });
  return runJob(job, args.connection, opts, { file, prepared });
}

async function fileForResume(job: JobRecord, given?: FileInput): Promise<File> {
  if (given) return fileOf(given);
  const h = job.fileHandle;
  if (!h) throw new ResumeError(`Pick "${job.fingerprint.name}" again to resume: this browser did not keep access to the file.`, 'repick', 'no-file');
  const handle = h as FileSystemFileHandle & {
    queryPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
    requestPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
  };
  let state: PermissionState = (await handle.queryPermission?.({ mode: 'read' })) ?? 'granted';
  if (state !== 'granted') state = (await handle.requestPermission?.({ mode: 'read' }).catch(() => 'denied' as const)) ?? 'denied';
  if (state !== 'granted') throw new ResumeError(`Access to "${job.fingerprint.name}" was not granted. Allow it, or pick the file again.`, 'grant', 'permission');
  try {
    return await handle.getFile();
  } catch (err) {
    throw new ResumeError(`"${job.fingerprint.name}" can no longer be opened (${(err as Error).name}); it may have been moved or deleted. Pick it again.`, 'repick', 'no-file');
  }
}

async function checkSnapshot(job: JobRecord, connection: Connection): Promise<void> {
  if (!job.snapshotId) return;
  const clients = await createClients(connection);
  try {
    // Every block sent (the tab closed while completing): the snapshot may have completed meanwhile; resuming records it.
    await checkResumableSnapshot(clients.ec2, job, { completionPending: completionPending(job) });
  } finally {
    clients.close();
  }
}

/**
 * Resumes an unfinished job; throws ResumeError with the way forward when it cannot (a completed or cancelled job,
 * among others). A job whose every block is recorded only completes its snapshot: the file is neither needed nor read.
 */
export async function resumeUpload(jobId: string, file?: FileInput, connection?: Connection, options: UploadOptions = {}): Promise<UploadRun> {
  const job = await store().getJob(jobId);
  if (!job) throw new ResumeError('This upload is no longer recorded in this browser. Start a new upload.', 'restart', 'not-found');
  refuseFinishedJob(job);
  if (completionPending(job) && (await recordsEveryBlock(store(), job))) {
    const conn = connection ?? job.connection;
    await checkSnapshot(job, conn);
    return runJob(job, conn, options, 'complete-only');
  }
  const f = await fileForResume(job, file);
  const { sha256 } = await bestSha256();
  const fp = await fingerprintOf(blobSource(f), { name: f.name, lastModified: f.lastModified }, sha256);
  const words: ReopenWords = { ...pickedFileWords(f.name), changedAction: 'repick', restart: 'Start a new upload.' };
  checkSameFile(job, fp, words);
  const conn = connection ?? job.connection;
  await checkSnapshot(job, conn);
  const updated: JobRecord = file && !(file instanceof Blob) ? { ...job, fileHandle: file } : job;
  // The parent comparison chosen at the start holds for every session (older records without it: send all).
  const parentCompare = options.parentCompare ?? job.parentCompare;
  const opts = { ...options, ...(parentCompare ? { parentCompare } : {}) };
  if (job.packing) return resumePacked(updated, f, opts, packedHost(conn), words);
  const prepared = await openFile(f);
  checkSameDisk(job, prepared.image, words);
  return runJob(updated, conn, opts, { file: f, prepared });
}

/** What packed uploads borrow from this controller. */
function packedHost(connection: Connection): PackedHost {
  return {
    openFile,
    store: store(),
    run: (job, opts, source) => runJob(job, connection, opts, source),
    dryRun,
  };
}

/** A sentence for any error the engine raises (UI helper). */
export function errorSentence(err: unknown): string {
  if (err instanceof ResumeError || err instanceof UploadError) return err.message;
  return (err as Error)?.message ?? String(err);
}
