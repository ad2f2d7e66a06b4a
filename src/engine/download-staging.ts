// Picked-file downloads: blocks are staged in OPFS (sync access handle, checkpointed, resumable), then copied
// into the picked file in one sequential pass. A picked file's writable stream commits only on close, and
// reopening it with keepExistingData copies the whole file, so it cannot hold checkpoints itself.
import type { DownloadTarget } from './download.ts';
import { DownloadError } from './download-error.ts';
import { syncHandleTarget, type SyncAccessHandle } from './download-target.ts';

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

/**
 * A download target over the staged OPFS file `name` (workers only): a sync access handle whose setSize checks
 * the quota first, so a download that cannot fit stops before fetching anything, with a sentence.
 */
export async function openStagingTarget(
  name: string,
  fileName: string,
  estimate: () => Promise<StorageRoom> = () => navigator.storage.estimate(),
): Promise<DownloadTarget> {
  const handle = (await (await stagingDir()).getFileHandle(name, { create: true })) as FileSystemFileHandle & {
    createSyncAccessHandle(): Promise<SyncAccessHandle>;
  };
  const sync = await handle.createSyncAccessHandle();
  const inner = syncHandleTarget(sync);
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    try {
      return await fn(...a);
    } catch (err) {
      throw explainStagingError(err, fileName);
    }
  };
  return {
    setSize: wrap(async (size: number) => {
      checkRoom(size - sync.getSize(), await estimate().catch(() => ({})), fileName);
      await inner.setSize(size);
    }),
    write: wrap(inner.write),
    flush: inner.flush,
    close: inner.close,
  };
}

/** Progress of the final pass, in bytes. */
export type CopyProgress = (bytesWritten: number, bytesTotal: number) => void;

/** The part of a FileSystemWritableFileStream the final pass uses. */
export interface WritableSink {
  write(data: Blob): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Writes the staged file into the picked one front to back, in slices the browser copies without
 * passing through script. Nothing reaches the picked file until close commits it, so an interrupted
 * pass is simply redone (it costs one sequential copy, never a re-fetch).
 */
export async function copyStagedFile(
  staged: Blob,
  open: () => Promise<WritableSink>,
  opts: { signal?: AbortSignal; onProgress?: CopyProgress; sliceBytes?: number } = {},
): Promise<void> {
  const slice = opts.sliceBytes ?? 32 * MiB;
  const total = staged.size;
  const sink = await open();
  try {
    opts.onProgress?.(0, total);
    for (let at = 0; at < total; at += slice) {
      if (opts.signal?.aborted) throw new DownloadError('The download was cancelled while the file was being written; resume it to write the file again.', 'cancelled');
      await sink.write(staged.slice(at, Math.min(total, at + slice)));
      opts.onProgress?.(Math.min(total, at + slice), total);
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
