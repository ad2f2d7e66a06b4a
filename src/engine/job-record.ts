// Creating a job record: ids, the ClientToken (saved before StartSnapshot), validated snapshot parameters.
import type { Connection } from '../aws/clients.ts';
import { publicConnection } from '../aws/clients.ts';
import type { ImageFormat } from '../images/types.ts';
import { DEFAULT_TIMEOUT_MINUTES, UploadError, type Fingerprint, type JobRecord, type SnapshotParams } from './upload-types.ts';
import { defaultVolumeSizeGiB, timeoutProblem, volumeSizeProblem } from './volume.ts';
import { decideZeroBlocks, type ZeroBlocks } from './zero-blocks.ts';

function randomId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Resolves defaults and checks parameters; throws UploadError with a sentence when refused. */
export function resolveParams(p: SnapshotParams, virtualSize: number): JobRecord['params'] {
  const volumeSizeGiB = p.volumeSizeGiB ?? defaultVolumeSizeGiB(virtualSize);
  const vp = volumeSizeProblem(volumeSizeGiB, virtualSize);
  if (vp) throw new UploadError(vp, 'volume-size');
  const timeoutMinutes = p.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
  const tp = timeoutProblem(timeoutMinutes);
  if (tp) throw new UploadError(tp, 'validation');
  if (p.description && p.description.length > 255) throw new UploadError(`The description is ${p.description.length} characters; EBS allows at most 255. Shorten it.`, 'validation');
  if (p.encrypted && p.parentSnapshotId)
    throw new UploadError('A new version over a parent inherits the parent’s encryption; do not ask for encryption as well.', 'validation');
  const tags = p.tags ?? {};
  if (Object.keys(tags).length > 50) throw new UploadError(`${Object.keys(tags).length} tags were given; EBS allows at most 50.`, 'validation');
  return { ...p, volumeSizeGiB, timeoutMinutes, tags };
}

/** A new job in state 'new' with a fresh ClientToken; persist it before StartSnapshot. */
export function newJobRecord(args: {
  fingerprint: Fingerprint;
  connection: Connection;
  params: JobRecord['params'];
  format: ImageFormat;
  virtualSize: number;
  blockCount: number;
  /** Blocks the image's tables say hold data. */
  blocksToSend: number;
  /** Empty blocks: written (default) or skipped; kept with the job so a resume does the same. */
  zeroBlocks?: ZeroBlocks;
  fileHandle?: FileSystemFileHandle;
  /** Saved only for a version over a parent, so a resume compares the same way. */
  parentCompare?: 'read' | 'all';
}): JobRecord {
  const now = Date.now();
  const zeroBlocks = args.zeroBlocks ?? 'write';
  // Until StartSnapshot answers, the plan follows the request: every block unless empty ones may be skipped.
  const skip = decideZeroBlocks({ choice: zeroBlocks, ...args.params }).skip;
  return {
    id: randomId(),
    created: now,
    updated: now,
    fingerprint: args.fingerprint,
    ...(args.fileHandle ? { fileHandle: args.fileHandle } : {}),
    connection: publicConnection(args.connection),
    params: args.params,
    ...(args.params.parentSnapshotId && args.parentCompare ? { parentCompare: args.parentCompare } : {}),
    zeroBlocks,
    format: args.format,
    virtualSize: args.virtualSize,
    clientToken: randomId(),
    state: 'new',
    counters: { totalBlocks: args.blockCount, writtenBlocks: 0, skippedBlocks: 0, bytesWritten: 0, blocksToSend: skip || args.params.parentSnapshotId ? args.blocksToSend : args.blockCount },
  };
}


/**
 * Every block is acknowledged (or skipped as empty) but the snapshot was never seen completed: only CompleteSnapshot
 * is left (the tab closed while completing, or the completion failed). Resuming sends no block again.
 */
export function completionPending(job: Pick<JobRecord, 'state' | 'snapshotId' | 'counters'>): boolean {
  const c = job.counters;
  if (!job.snapshotId || job.state === 'completed' || job.state === 'cancelled') return false;
  return c.totalBlocks > 0 && c.writtenBlocks + c.skippedBlocks >= c.totalBlocks;
}
