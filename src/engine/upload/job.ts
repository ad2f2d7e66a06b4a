// A job: the record a session runs (ClientToken, fingerprint, checked parameters), prepared new over an opened image
// or reopened over the file as it is now; and the one place a session is assembled around it.
import type { Connection } from '../../aws/clients.ts';
import { BlockState, type DiskImage } from '../../images/types.ts';
import { ResumeError, type Fingerprint, type JobRecord, type UploadOptions } from '../upload-types.ts';
import { fingerprintMismatch, type MismatchWords } from '../fingerprint.ts';
import { newJobRecord, resolveParams } from '../job-record.ts';
import type { LedgerStore } from '../ledger.ts';
import type { Packing } from '../../images/disk-route.ts';
import type { WindowCeiling } from '../window-ceiling.ts';
import { UploadSession, type SessionDeps } from './upload-session.ts';

/** Default engine tuning. */
// 4 MiB slices: a worker reads its run of blocks through one stream, so a slice is only the size of its two reused
// buffers. Dry runs of the bench image read as fast with 4 MiB as with 16 MiB (790–1120 vs 920–1050 MiB/s, same run),
// and a 4 GiB upload's renderer peaked 30 MiB lower (bench/upload (f)).
// The ceiling of blocks in flight is no longer a default here: windowCeiling() bounds it by memory and transport.
export const DEFAULTS = { minConcurrency: 2, sliceBytes: 4 * 1048576 } as const;

/** Blocks per slice for a slice size in bytes (clamped to 4–16 MiB). */
export function sliceBlocksFor(bytes: number | undefined): number {
  const b = Math.min(16 * 1048576, Math.max(4 * 1048576, bytes ?? DEFAULTS.sliceBytes));
  return Math.floor(b / 524288);
}

/** Blocks the image's tables say hold data. */
export function countData(states: Uint8Array): number {
  let n = 0;
  for (const s of states) if (s === BlockState.Data) n++;
  return n;
}

/**
 * A new job over an opened image, recorded in the store before anything is sent: its ClientToken makes a retried
 * StartSnapshot find the same snapshot. Refused options throw UploadError before the file is fingerprinted.
 */
export async function prepareJob(args: {
  image: Pick<DiskImage, 'format' | 'virtualSize' | 'blockCount'>;
  blockStates: Uint8Array;
  /** Fingerprints the file (raw file bytes, not the virtual disk). */
  fingerprint: () => Promise<Fingerprint>;
  connection: Connection;
  options: UploadOptions;
  store: LedgerStore;
  /** Kept so a later page can reopen the file without asking for it. */
  fileHandle?: FileSystemFileHandle;
  /** How the disk is reached inside a packed file. */
  packing?: Packing;
  /** The job's id when it must be known before the job is recorded (a packed disk's run shows it while unpacking). */
  id?: string;
}): Promise<JobRecord> {
  const { image, options: opts } = args;
  const params = resolveParams(opts, image.virtualSize);
  const record = newJobRecord({
    fingerprint: await args.fingerprint(),
    connection: args.connection,
    params,
    format: image.format,
    virtualSize: image.virtualSize,
    blockCount: image.blockCount,
    blocksToSend: countData(args.blockStates),
    ...(args.fileHandle ? { fileHandle: args.fileHandle } : {}),
    ...(opts.parentCompare ? { parentCompare: opts.parentCompare } : {}),
    ...(opts.zeroBlocks ? { zeroBlocks: opts.zeroBlocks } : {}),
  });
  const job: JobRecord = { ...record, ...(args.id ? { id: args.id } : {}), ...(args.packing ? { packing: args.packing } : {}) };
  await args.store.putJob(job);
  return job;
}

/** How a refusal to reopen is told (see MismatchWords), and the way forward from it. */
export interface ReopenWords extends MismatchWords {
  /** What a changed file calls for: a page asks for the original again, the CLI (which names a path) starts over. */
  changedAction: 'repick' | 'restart';
  /** The way forward when the file no longer reads as the same disk: a new upload. */
  restart: string;
}

/** Reopening a job: throws ResumeError when the file is not the one the job was started from. */
export function checkSameFile(job: JobRecord, now: Fingerprint, words: ReopenWords): void {
  const mismatch = fingerprintMismatch(job.fingerprint, now, words);
  if (mismatch) throw new ResumeError(mismatch, words.changedAction, 'file-changed');
}

/** Reopening a job: throws ResumeError when the opened image no longer has the job's number of blocks. */
export function checkSameDisk(job: JobRecord, image: Pick<DiskImage, 'blockCount'>, words: ReopenWords): void {
  const was = job.counters.totalBlocks;
  if (image.blockCount !== was)
    throw new ResumeError(`${words.file} no longer reads as the same disk (${image.blockCount} blocks, was ${was}). ${words.restart}`, 'restart', 'file-changed');
}

/** What a host gives a job's session: the pipelines, the clients and stores, and its window's bound. */
export type JobSessionDeps = Omit<SessionDeps, 'floor' | 'ceiling' | 'ceilingReason' | 'sliceBlocks'> & {
  options: UploadOptions;
  /** The bound on blocks in flight for this host (see windowCeiling). */
  window: WindowCeiling;
};

/** The session (not started) of a job, new or reopened, whoever runs its pipelines (a tab's workers or this process). */
export function jobSession(job: JobRecord, deps: JobSessionDeps): UploadSession {
  const { options: opts, window, ...rest } = deps;
  return new UploadSession(job, {
    ...rest,
    floor: opts.minConcurrency ?? DEFAULTS.minConcurrency,
    ceiling: window.ceiling,
    ceilingReason: window.reason,
    sliceBlocks: sliceBlocksFor(opts.sliceBytes),
  });
}
