// Browser only (a dedicated worker: synchronous OPFS access handles exist nowhere else).
import { blobSource } from '../../images/blob-source.ts';
import { spoolFull, type Spool } from '../../images/containers.ts';

/** The synchronous OPFS handle of a dedicated worker (the DOM library TypeScript is given lacks it). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}
type WorkerFileHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

// The free room is asked of the browser again after this many bytes, as other tabs may fill the quota meanwhile.
const RECHECK = 256 * 1024 * 1024;

/** Room left in this site's storage quota, in bytes. */
async function room(): Promise<number> {
  const { quota = 0, usage = 0 } = await navigator.storage.estimate();
  return quota - usage;
}

/**
 * A spool in the origin's private file system (OPFS), where a compressed disk that must be read at random is
 * unpacked: checked against the storage quota before writing (when the container declares its size) and as it grows.
 * dispose() deletes what it wrote; a later start removes what a closed tab left (files named `unpack-*`).
 */
export function opfsSpool(): Spool {
  const names: string[] = [];
  let dir: FileSystemDirectoryHandle | undefined;
  const where = "this site's browser storage";
  return {
    async store(stream, { declaredSize, progress }) {
      dir ??= await navigator.storage.getDirectory();
      if (declaredSize !== undefined) {
        const free = await room();
        if (declaredSize > free) throw spoolFull(declaredSize, free, where);
      }
      const name = `unpack-${crypto.randomUUID()}`;
      names.push(name);
      const handle = (await dir.getFileHandle(name, { create: true })) as WorkerFileHandle;
      const access = await handle.createSyncAccessHandle();
      let written = 0;
      let nextCheck = RECHECK;
      try {
        for (let c = await stream.next(); c; c = await stream.next()) {
          if (written + c.length > nextCheck) {
            const free = await room();
            if (free < c.length + RECHECK) throw spoolFull(written + RECHECK, written + free, where);
            nextCheck = written + RECHECK;
          }
          let at = 0;
          while (at < c.length) at += access.write(c.subarray(at), { at: written + at });
          written += c.length;
          progress?.(written);
        }
        access.flush();
      } catch (err) {
        await stream.cancel().catch(() => {});
        if ((err as DOMException).name === 'QuotaExceededError') throw spoolFull(written + 1, written, where);
        throw err;
      } finally {
        access.close();
      }
      return blobSource(await handle.getFile());
    },
    async dispose() {
      if (!dir) return;
      for (const name of names.splice(0)) await dir.removeEntry(name).catch(() => {});
    },
  };
}

/** Removes what earlier spools left behind (a tab closed while unpacking). */
export async function clearOpfsSpools(): Promise<void> {
  const dir = await navigator.storage.getDirectory();
  for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
    if (name.startsWith('unpack-')) await dir.removeEntry(name).catch(() => {});
  }
}
