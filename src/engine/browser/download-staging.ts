// Picked-file downloads: blocks are staged in OPFS (sync access handle, checkpointed, resumable), packed with no
// holes (slot k = the k-th written block), then written into the picked file in one ascending pass. A picked file's
// writable stream commits only on close, and reopening it with keepExistingData copies the whole file, so it
// cannot hold checkpoints itself. Packing keeps the staged copy (and the quota it needs) to the written data.
import type { DownloadTarget } from '../download/download.ts';
import { DownloadError } from '../download/download-error.ts';
import { asAsyncHandle, asyncHandleTarget, type AsyncAccessHandle, type SyncAccessHandle } from '../download/download-target.ts';

/** The OPFS directory that holds staged downloads. */
export const STAGING_DIR = 'blockport-staging';

/** What the storage manager says is used and allowed for this site (navigator.storage.estimate). */
export interface StorageRoom {
  usage?: number;
  quota?: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function human(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${Math.ceil(n / MiB)} MiB`;
}

/**
 * Throws a DownloadError with a sentence when `grow` more bytes of staging will not fit in the site's quota.
 * Unknown quota (no estimate) lets the write itself decide.
 */
export function checkRoom(grow: number, room: StorageRoom, fileName: string): void {
  if (grow <= 0 || room.quota === undefined) return;
  const free = Math.max(0, room.quota - (room.usage ?? 0));
  if (grow <= free) return;
  throw new DownloadError(
    `${fileName} is first assembled in the browser's storage for this site, which needs ${human(grow)} more, ` +
      `but the browser allows only ${human(free)} more here. Free disk space (the browser's allowance grows with it) ` +
      'or remove finished or unwanted downloads from the list, then resume.',
    'target',
  );
}

/** Says what a QuotaExceededError during staging means; other errors pass through. */
export function explainStagingError(err: unknown, fileName: string): unknown {
  if ((err as { name?: string })?.name !== 'QuotaExceededError') return err;
  return new DownloadError(
    `The browser's storage for this site filled up while ${fileName} was being assembled. ` +
      'Free disk space or remove unwanted downloads from the list, then resume: the blocks already stored are kept.',
    'target',
    err,
  );
}

/** The part of an OPFS directory the staging code uses. */
export interface StagingDir {
  getFileHandle(name: string, opts?: { create?: boolean }): Promise<FileSystemFileHandle>;
  removeEntry(name: string): Promise<void>;
}

/** The staging directory of this origin's OPFS. */
export async function stagingDir(): Promise<StagingDir> {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(STAGING_DIR, { create: true });
}

/** Rank of each set bit of a block bitmap (slot k = k-th set bit), answered in O(64 bytes) from a prefix count. */
export class BlockSlots {
  private readonly prefix: Uint32Array;
  /** Set bits in all. */
  readonly count: number;

  constructor(private readonly map: Uint8Array) {
    this.prefix = new Uint32Array(Math.ceil(map.length / 64) + 1);
    let n = 0;
    for (let c = 0; c * 64 < map.length; c++) {
      this.prefix[c] = n;
      const end = Math.min(map.length, (c + 1) * 64);
      for (let j = c * 64; j < end; j++) n += POP[map[j]!]!;
    }
    this.count = n;
  }

  /** The slot of block i (i must be set). */
  slot(i: number): number {
    const byte = i >> 3;
    let n = this.prefix[byte >> 6]!;
    for (let j = (byte >> 6) * 64; j < byte; j++) n += POP[this.map[j]!]!;
    return n + POP[this.map[byte]! & ((1 << (i & 7)) - 1)]!;
  }

  /** Runs of consecutive set blocks, ascending: [first block, length, first slot]. */
  *runs(): Generator<[number, number, number]> {
    let slot = 0;
    let start = -1;
    let len = 0;
    for (let byte = 0; byte < this.map.length; byte++) {
      const v = this.map[byte]!;
      if (v === 0 && start < 0) continue;
      for (let b = 0; b < 8; b++) {
        const i = byte * 8 + b;
        if (v & (1 << b)) {
          if (start >= 0 && start + len === i) len++;
          else {
            if (start >= 0) yield [start, len, slot - len];
            start = i;
            len = 1;
          }
          slot++;
        }
      }
    }
    if (start >= 0) yield [start, len, slot - len];
  }
}

const POP = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x; x &= x - 1) n++;
  return n;
});

/**
 * A download target over the staged OPFS file `name` (workers only): a sync access handle holding the written
 * blocks packed in slots. plan() sizes it to the written data after checking the quota, so a download that
 * cannot fit stops before fetching anything, with a sentence.
 */
export async function openStagingTarget(
  name: string,
  fileName: string,
  opts: { open?: (file: FileSystemFileHandle) => Promise<AsyncAccessHandle>; estimate?: () => Promise<StorageRoom> } = {},
): Promise<DownloadTarget> {
  const file = await (await stagingDir()).getFileHandle(name, { create: true });
  const sync = await (opts.open ?? openHere)(file);
  const estimate = opts.estimate ?? (() => navigator.storage.estimate());
  const inner = asyncHandleTarget(sync);
  let slots: BlockSlots | undefined;
  let bs = 0;
  const explained = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw explainStagingError(err, fileName);
    }
  };
  return {
    plan: (listed, _size, blockSize) =>
      explained(async () => {
        slots = new BlockSlots(listed);
        bs = blockSize;
        const packed = slots.count * blockSize;
        checkRoom(packed - (await sync.getSize()), await estimate().catch(() => ({})), fileName);
        await inner.setSize(packed);
      }),
    // The picked file gets its size in the final pass; the staged copy is sized by plan().
    setSize: async () => {
      if (!slots) throw new DownloadError('The staged download was not planned before it was sized.', 'target');
    },
    write: (offset, data) => explained(() => inner.write(slots!.slot(offset / bs) * bs, data)),
    flush: inner.flush,
    close: inner.close,
    ...(inner.ordered ? { ordered: true } : {}),
  };
}

/** A sync access handle on this thread (workers only). */
export async function openHere(file: FileSystemFileHandle): Promise<AsyncAccessHandle> {
  return asAsyncHandle(await (file as FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle());
}

/** Progress of the final pass, in bytes. */
export type CopyProgress = (bytesWritten: number, bytesTotal: number) => void;

/** The part of a FileSystemWritableFileStream the final pass uses. */
export interface WritableSink {
  truncate(size: number): Promise<void>;
  write(data: { type: 'write'; position: number; data: Blob }): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Writes the staged blocks into the picked file in ascending order, runs of consecutive blocks in one write of
 * slices the browser copies without passing through script; holes are never written (they read as zeros).
 * Nothing reaches the picked file until close commits it, so an interrupted pass is simply redone (one
 * sequential read of the staged data, never a re-fetch).
 */
export async function writeStagedFile(
  staged: Blob,
  written: Uint8Array,
  size: number,
  blockSize: number,
  open: () => Promise<WritableSink>,
  opts: { signal?: AbortSignal; onProgress?: CopyProgress; maxWriteBytes?: number } = {},
): Promise<void> {
  const slots = new BlockSlots(written);
  const perWrite = Math.max(1, Math.floor((opts.maxWriteBytes ?? 32 * MiB) / blockSize));
  const total = Math.min(staged.size, slots.count * blockSize);
  let done = 0;
  const sink = await open();
  try {
    await sink.truncate(size);
    opts.onProgress?.(0, total);
    for (const [first, len, slot] of slots.runs()) {
      for (let k = 0; k < len; k += perWrite) {
        if (opts.signal?.aborted) throw new DownloadError('The download was cancelled while the file was being written; resume it to write the file again.', 'cancelled');
        const n = Math.min(perWrite, len - k);
        const position = (first + k) * blockSize;
        const bytes = Math.min(n * blockSize, size - position);
        if (bytes <= 0) break;
        const from = (slot + k) * blockSize;
        if (from + bytes > staged.size) {
          throw new DownloadError(`The staged copy of the download is shorter than its record says (block ${first + k}). Remove the download from the list and start it again.`, 'resume');
        }
        await sink.write({ type: 'write', position, data: staged.slice(from, from + bytes) });
        done += bytes;
        opts.onProgress?.(done, total);
      }
    }
    await sink.close();
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
}

/** Deletes a staged file; a missing one is fine. */
export async function removeStaged(name: string, dir?: StagingDir): Promise<void> {
  try {
    await (dir ?? (await stagingDir())).removeEntry(name);
  } catch (err) {
    if ((err as { name?: string })?.name !== 'NotFoundError') throw err;
  }
}
