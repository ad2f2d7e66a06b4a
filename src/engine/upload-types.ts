// Types, constants and error classes of the upload engine (re-exported by api.ts; internal modules import this file).
import type { Connection } from '../aws/clients.ts';
import type { ImageFormat } from '../images/types.ts';
import type { Packing } from '../images/disk-route.ts';
import type { ZeroBlocks } from './zero-blocks.ts';

export type { Connection } from '../aws/clients.ts';
export type { ZeroBlocks } from './zero-blocks.ts';
export { BLOCK_SIZE } from '../images/types.ts';

/** What the person chose for the snapshot; everything optional has a sensible default. */
export interface SnapshotParams {
  /** Volume size in GiB; default = image size rounded up to whole GiB (at least 1). Smaller than the image is refused. */
  volumeSizeGiB?: number;
  description?: string;
  tags?: Record<string, string>;
  encrypted?: boolean;
  kmsKeyArn?: string;
  /** StartSnapshot Timeout, 10–4320 minutes; default DEFAULT_TIMEOUT_MINUTES (survives a night). */
  timeoutMinutes?: number;
  /** A completed snapshot to build on. Zero blocks are then written, never skipped. */
  parentSnapshotId?: string;
}

/** Tuning knobs; the defaults suit a browser tab. */
export interface UploadOptions extends SnapshotParams {
  /** Worker count; default min(hardwareConcurrency, 4). Ignored in Node (one in-process pipeline). */
  workers?: number;
  /**
   * Blocks a worker claims before a fresh one replaces it (its garbage goes with it); default 2048 (1 GiB of image),
   * 0 never. Ignored in Node.
   */
  recycleBlocks?: number;
  /**
   * Ceiling of blocks in flight across all workers, an upper bound the pacing finds the link below; default: memory
   * (512 in Node, 128 in a browser) or, in a browser over HTTP/1.1, 12 (six connections per host).
   */
  concurrency?: number;
  /** Floor of blocks in flight; default 2. */
  minConcurrency?: number;
  /** Bytes read from the image per slice (multiple of 512 KiB, 4–16 MiB); default 16 MiB. */
  sliceBytes?: number;
  /** Hash only, send nothing (dry run for benchmarks); no snapshot is created. */
  dryRun?: boolean;
  /** New version without a recorded manifest of the parent: 'read' its blocks to send only differences, or send 'all' (default). */
  parentCompare?: 'read' | 'all';
  /**
   * Empty blocks: 'write' (default; the snapshot reads back identical even on an encrypted volume) or 'skip' (less to
   * send; safe only if no volume made from it is ever encrypted). An encrypted snapshot writes them whatever is chosen.
   */
  zeroBlocks?: ZeroBlocks;
}

/** Default StartSnapshot Timeout: 24 hours, long enough for a night and a morning. */
export const DEFAULT_TIMEOUT_MINUTES = 1440;

/** Who made a file: enough to recognise it after a reload without reading it whole. */
export interface Fingerprint {
  name: string;
  size: number;
  lastModified: number;
  /** base64 SHA-256 of the file's first 512 KiB (raw file bytes, not the virtual disk). */
  firstBlockSha256: string;
  /** base64 SHA-256 of the file's last (possibly partial) 512 KiB. */
  lastBlockSha256: string;
}

/** Life of a job as stored in the ledger. */
export type JobState = 'new' | 'running' | 'paused' | 'completing' | 'completed' | 'error' | 'cancelled';

/** Counters kept with a job (what the ledger has committed, not what is in flight). */
export interface JobCounters {
  totalBlocks: number;
  /** Blocks whose PutSnapshotBlock returned 201 and whose ack is committed. */
  writtenBlocks: number;
  /** Blocks not sent because they are zero/unallocated and skipping them was chosen (or a parent holds them). */
  skippedBlocks: number;
  bytesWritten: number;
  /** Blocks planned to be sent (after skipping what the image marks empty). */
  blocksToSend: number;
}

/** One upload as recorded in IndexedDB. Never holds secrets. */
export interface JobRecord {
  id: string;
  created: number;
  updated: number;
  fingerprint: Fingerprint;
  /** The picked file's handle where the browser gives one (Chromium); absent for dropped files / input elements. */
  fileHandle?: FileSystemFileHandle;
  /** Connection without credentials. */
  connection: Connection;
  params: SnapshotParams & { volumeSizeGiB: number; timeoutMinutes: number };
  /** How a version over a parent without a manifest finds unchanged blocks (UploadOptions.parentCompare); absent in older records = 'all'. */
  parentCompare?: 'read' | 'all';
  /** The person's choice for empty blocks (UploadOptions.zeroBlocks); absent in older records (see zeroBlocksChoice). */
  zeroBlocks?: ZeroBlocks;
  /** The StartSnapshot answer's SseType (none | sse-ebs | sse-kms), recorded with the snapshot id. */
  sseType?: string;
  /** Whether empty blocks are skipped, decided once StartSnapshot answered and kept for every later session. */
  skipZeros?: boolean;
  /** The sentence saying why empty blocks are written although skipping them was chosen. */
  zeroBlocksNote?: string;
  /** A new version that is encrypted (or over an encrypted parent) writes empty blocks over the parent's holes too. */
  fillParentHoles?: boolean;
  format: ImageFormat;
  virtualSize: number;
  /** How the disk is reached inside a packed file (.xz, .tar.gz, …); absent when the file is the disk. */
  packing?: Packing;
  /** Saved before StartSnapshot is sent, so a retried start returns the same snapshot. */
  clientToken: string;
  snapshotId?: string;
  /** When StartSnapshot succeeded (ms since epoch). */
  startedAt?: number;
  /** When the pending snapshot is cancelled by the service if nothing more is written (ms since epoch). */
  expiresAt?: number;
  state: JobState;
  counters: JobCounters;
  /** The sentence shown for state 'error'; for 'cancelled', why its pending snapshot could not be deleted. */
  error?: string;
  /** Cancelled and its snapshot deleted (or already gone): nothing of it is left pending. */
  snapshotDeleted?: boolean;
  /** Filled in when the job completed. */
  report?: UploadReport;
}

/** Pipeline phase shown to the person. */
export type UploadPhase =
  | 'fingerprinting'
  | 'unpacking'
  | 'starting'
  | 'uploading'
  | 'paused'
  | 'completing'
  | 'waiting'
  | 'completed'
  | 'error'
  | 'cancelled';

/** A progress sample, emitted a few times a second and on every phase change. */
export interface UploadProgress {
  jobId: string;
  phase: UploadPhase;
  snapshotId?: string;
  totalBlocks: number;
  /** Blocks done: written (acked) + skipped, including earlier sessions. */
  ackedBlocks: number;
  skippedBlocks: number;
  writtenBlocks: number;
  /** Blocks to send in total (estimate until the zero scan has run). */
  blocksToSend: number;
  /** Requests retried in this session. */
  retried: number;
  inFlight: number;
  bytesAcked: number;
  /** Smoothed MiB/s of acknowledged bytes in this session. */
  speedMiBps: number;
  /** null when unknown (start, paused). */
  etaSeconds: number | null;
  /** Current adaptive concurrency (blocks in flight allowed). */
  concurrency: number;
  /** A sentence when the window sits at its ceiling (HTTP/1.1's six connections, memory, the person's number). */
  windowNote?: string;
  /** The service stopped answering (sleep, network lost): the upload waits and resumes by itself. */
  waitingForNetwork?: boolean;
  expiresAt?: number;
  /** Why empty blocks are written although skipping them was chosen (the service encrypts the snapshot). */
  zeroBlocksNote?: string;
  /** While a packed disk is unpacked to the browser's storage (phase 'unpacking'): the share done, 0–100. */
  unpackPercent?: number;
}

/** State of one block on the block map. */
export const BlockMark = {
  /** Not done yet. */
  Pending: 0,
  /** Not sent: empty and skipping chosen, or unchanged over a parent. */
  Skipped: 1,
  /** Acknowledged by the service (201) and recorded. */
  Written: 2,
  /** Being read, hashed or sent. */
  InFlight: 3,
  /** Being retried after a retryable failure. */
  Retrying: 4,
} as const;
export type BlockMark = (typeof BlockMark)[keyof typeof BlockMark];

/**
 * Block-map updates as interleaved pairs [index, mark, index, mark, …] (cheap for 131072 blocks).
 * A full picture is available any time from UploadRun.blockMap().
 */
export type BlockUpdates = Uint32Array;

/** The final word on an upload. */
export interface UploadReport {
  jobId: string;
  snapshotId: string;
  /** 'completed' only when the service says so (EC2 state or readable blocks). */
  state: 'completed' | 'error';
  /** The service's state message (e.g. "Checksum mismatch for snapshot") or our sentence. */
  stateMessage?: string;
  volumeSizeGiB: number;
  blocksWritten: number;
  blocksSkipped: number;
  bytesWritten: number;
  /** base64 LINEAR aggregate over the raw digests of all written blocks, index order. */
  aggregateChecksum: string;
  /** Distinct indices written (= blocksWritten, across sessions). */
  changedBlocksCount: number;
  /** Wall time of this session (resumed jobs: since resume). */
  durationMs: number;
  /** Average MiB/s of bytes written in this session. */
  avgMiBps: number;
  /** Why empty blocks were written although skipping them was chosen. */
  zeroBlocksNote?: string;
}

/** A running upload, owned by this tab. */
export interface UploadRun {
  readonly jobId: string;
  /** Stops sending after the blocks in flight; the job stays resumable. */
  pause(): Promise<void>;
  /** Continues a paused run. */
  resume(): void;
  /**
   * Stops, marks the job cancelled and deletes its pending snapshot through EC2 DeleteSnapshot; `done` then rejects
   * with UploadError 'cancelled' saying what became of the snapshot (action 'discard' when it is still pending).
   */
  cancel(): Promise<void>;
  /** Resolves with the report (state 'completed' or 'error'); rejects with UploadError/ResumeError on a fatal failure. */
  readonly done: Promise<UploadReport>;
  /** Subscribes to progress; returns the unsubscribe function. */
  onProgress(cb: (p: UploadProgress) => void): () => void;
  /** Subscribes to block-map updates; returns the unsubscribe function. */
  onBlocks(cb: (updates: BlockUpdates) => void): () => void;
  /** The whole block map now: one BlockMark per block. */
  blockMap(): Uint8Array;
  /** The latest progress sample. */
  progress(): UploadProgress;
}

/** What an upload of this file would do, before anything is sent. */
export interface UploadPlan {
  format: ImageFormat;
  subformat?: string;
  virtualSize: number;
  /** Default volume size: virtual size rounded up to whole GiB, at least 1. */
  volumeSizeGiB: number;
  blockCount: number;
  /** Blocks the image says hold data (zero detection may find more empty ones while reading). */
  blocksToSend: number;
  /** One image BlockState per block (0 unallocated, 1 zero, 2 data). */
  blockStates: Uint8Array;
  notices: readonly string[];
  /** How the image boots, read from it (absent where detection could not read it). */
  boot?: import('../images/boot/detect-boot.ts').BootInfo;
  /** Whether it will start on Nitro, as far as its root file system tells (warnings only). */
  nitro?: import('../images/boot/nitro-check.ts').NitroFinding[];
  /** The file is packed (.xz, .tar.gz, .zip, …): how its disk will be read. */
  packed?: PackedPlan;
}

/** How the disk inside a packed file will be read, as the plan says it before anything starts. */
export interface PackedPlan {
  /** The containers around the disk, outermost first (e.g. ['gzip', 'tar']). */
  container: string[];
  /** 'in-place': read where it lies; 'streamed': decoded front to back as it is sent; 'unpacked': unpacked to the browser's storage first. */
  path: 'in-place' | 'streamed' | 'unpacked';
  /** Sentences saying how the disk is read, what it needs and what a resume does. */
  how: string[];
  /** False when the disk's size is only known once it is unpacked (the plan's figures are then estimates). */
  sizeKnown: boolean;
}

/** What resuming needs from the person. */
export type ResumeAction = 'repick' | 'restart' | 'reconnect' | 'discard' | 'grant' | 'takeover';

/** A job that cannot simply continue, with a sentence and the way forward. */
export class ResumeError extends Error {
  override readonly name = 'ResumeError';
  constructor(
    message: string,
    readonly action: ResumeAction,
    /** Stable code: 'file-changed', 'no-file', 'permission', 'snapshot-expired', 'snapshot-gone', 'credentials', 'busy', 'finished', 'cancelled'. */
    readonly code: string,
  ) {
    super(message);
  }
}

/** A fatal upload failure with a sentence for the person. */
export class UploadError extends Error {
  override readonly name = 'UploadError';
  constructor(
    message: string,
    /** Stable code: 'validation', 'access', 'source-changed', 'quota', 'timeout', 'volume-size', 'service', 'cancelled'. */
    readonly code: string,
    readonly action?: ResumeAction,
  ) {
    super(message);
  }
}

/** Where a file comes from: a File (input/drop) or a handle (picker/drop in Chromium). */
export type FileInput = File | FileSystemFileHandle;

/** Arguments of startUpload. */
export interface StartUploadArgs {
  file: FileInput;
  connection: Connection;
  options?: UploadOptions;
}

/** Events seen by other tabs about a job (BroadcastChannel 'blockport-jobs'). */
export type JobBroadcast =
  | { type: 'progress'; progress: UploadProgress }
  | { type: 'released'; jobId: string }
  | { type: 'takeover'; jobId: string };

