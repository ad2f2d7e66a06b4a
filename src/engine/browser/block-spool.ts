// Browser only (a dedicated worker: synchronous OPFS access handles exist nowhere else).
import type { BlockSpool } from '../upload/stream-reader-api.ts';

/** The synchronous OPFS handle of a dedicated worker (the DOM library TypeScript is given lacks it). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  close(): void;
}
type WorkerFileHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

/** The OPFS folder of blocks kept while they are sent. */
export const BLOCK_SPOOL_DIR = 'blockport-blocks';
// A file left by a worker that was ended mid-send is swept by a later spool once it is this old (no put waits longer).
const STALE_MS = 24 * 3600_000;

/**
 * Blocks decoded out of a packed file, each kept in a file of its own in the origin's private file system (OPFS) from
 * the moment it is sent until it is acknowledged, and sent as a Blob over that file. A Blob made of bytes is copied into
 * the browser process and held there until the worker's garbage is collected; one over a file holds no bytes. Null
 * (the bytes are sent instead) where OPFS is missing or full.
 */
export function opfsBlockSpool(): BlockSpool {
  const run = crypto.randomUUID();
  const files = new Map<number, string>();
  let dir: Promise<FileSystemDirectoryHandle | null> | null = null;
  const folder = () =>
    (dir ??= (async () => {
      try {
        const d = await (await navigator.storage.getDirectory()).getDirectoryHandle(BLOCK_SPOOL_DIR, { create: true });
        void sweep(d);
        return d;
      } catch {
        return null;
      }
    })());
  return {
    async keep(index, bytes) {
      const d = await folder();
      if (!d) return null;
      const name = `${run}-${index}`;
      try {
        const handle = (await d.getFileHandle(name, { create: true })) as WorkerFileHandle;
        const access = await handle.createSyncAccessHandle();
        try {
          let at = 0;
          while (at < bytes.length) at += access.write(bytes.subarray(at), { at });
        } finally {
          access.close();
        }
        files.set(index, name);
        return await handle.getFile();
      } catch {
        await d.removeEntry(name).catch(() => undefined);
        return null;
      }
    },
    release(index) {
      const name = files.get(index);
      if (name === undefined) return;
      files.delete(index);
      void folder().then((d) => d?.removeEntry(name).catch(() => undefined));
    },
  };
}

/** Deletes block files a worker ended mid-send left behind, once they are old. */
async function sweep(d: FileSystemDirectoryHandle): Promise<void> {
  try {
    for await (const [name, h] of (d as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (h.kind !== 'file') continue;
      const f = await (h as FileSystemFileHandle).getFile().catch(() => null);
      if (f && Date.now() - f.lastModified > STALE_MS) await d.removeEntry(name).catch(() => undefined);
    }
  } catch {
    /* another tab swept meanwhile */
  }
}
