// Browser only (a dedicated worker: synchronous OPFS access handles exist nowhere else).
import { blobSource } from '../../images/blob-source.ts';
import { spoolFull } from '../../images/container-magic.ts';
import type { Spool } from '../../images/containers.ts';

/** The synchronous OPFS handle of a dedicated worker (the DOM library TypeScript is given lacks it). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
type WorkerFileHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

// The free room is asked of the browser again after this many bytes, as other tabs may fill the quota meanwhile.
const RECHECK = 256 * 1024 * 1024;

/** What every spool file's name starts with. */
export const SPOOL_PREFIX = 'unpack-';
// A kept spool file is whole once its marker (same name and this suffix, holding its size) exists.
const DONE = '.done';

/** Room left in this site's storage quota, in bytes. */
async function room(): Promise<number> {
  const { quota = 0, usage = 0 } = await navigator.storage.estimate();
  return quota - usage;
}

/** Options of opfsSpool. */
export interface OpfsSpoolOptions {
  /**
   * Keeps what is unpacked under this key (the picked file's fingerprint) after dispose(), so a resume reuses it: a
   * file whose marker says it was written whole, at its size, is given back without decoding anything again.
   */
  key?: string;
}

/**
 * A spool in the origin's private file system (OPFS), where a compressed disk that must be read at random is
 * unpacked: checked against the storage quota before writing (when the container declares its size) and as it grows.
 * dispose() deletes what it wrote unless it is keyed (removeOpfsSpools deletes those).
 */
export function opfsSpool(opts: OpfsSpoolOptions = {}): Spool {
  const names: string[] = [];
  let dir: FileSystemDirectoryHandle | undefined;
  let n = 0;
  const where = "this site's browser storage";
  return {
    async store(stream, { declaredSize, progress }) {
      dir ??= await navigator.storage.getDirectory();
      const name = opts.key ? `${SPOOL_PREFIX}${opts.key}-${n++}` : `${SPOOL_PREFIX}${crypto.randomUUID()}`;
      if (opts.key) {
        const kept = await keptFile(dir, name);
        if (kept && (declaredSize === undefined || kept.size === declaredSize)) {
          await stream.cancel().catch(() => {});
          progress?.(kept.size);
          return blobSource(kept);
        }
        await dir.removeEntry(`${name}${DONE}`).catch(() => {});
      }
      if (declaredSize !== undefined) {
        const free = await room();
        if (declaredSize > free) throw spoolFull(declaredSize, free, where);
      }
      if (!opts.key) names.push(name);
      const handle = (await dir.getFileHandle(name, { create: true })) as WorkerFileHandle;
      const access = await handle.createSyncAccessHandle();
      let written = 0;
      let nextCheck = RECHECK;
      try {
        access.truncate(0);
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
      if (opts.key) await markDone(dir, name, written);
      return blobSource(await handle.getFile());
    },
    async dispose() {
      if (!dir) return;
      for (const name of names.splice(0)) await dir.removeEntry(name).catch(() => {});
    },
  };
}

/** A kept spool file, if its marker says it was written whole and its size agrees. */
async function keptFile(dir: FileSystemDirectoryHandle, name: string): Promise<File | undefined> {
  try {
    const marker = JSON.parse(await (await (await dir.getFileHandle(`${name}${DONE}`)).getFile()).text()) as { size?: unknown };
    const file = await (await dir.getFileHandle(name)).getFile();
    return file.size === marker.size ? file : undefined;
  } catch {
    return undefined;
  }
}

async function markDone(dir: FileSystemDirectoryHandle, name: string, size: number): Promise<void> {
  const access = await ((await dir.getFileHandle(`${name}${DONE}`, { create: true })) as WorkerFileHandle).createSyncAccessHandle();
  try {
    access.truncate(0);
    access.write(new TextEncoder().encode(JSON.stringify({ size })), { at: 0 });
    access.flush();
  } finally {
    access.close();
  }
}

/** Names of the spool files in OPFS (markers included). */
async function spoolNames(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) if (name.startsWith(SPOOL_PREFIX)) out.push(name);
  return out;
}

/** The key a spool file belongs to (undefined for unkeyed ones). */
function keyOf(name: string): string | undefined {
  return /^unpack-([0-9a-f]{32})-\d+(\.done)?$/.exec(name)?.[1];
}

/** Deletes what a keyed spool kept (the job completed, was cancelled or discarded). */
export async function removeOpfsSpools(key: string): Promise<void> {
  const dir = await navigator.storage.getDirectory();
  for (const name of await spoolNames(dir)) if (keyOf(name) === key) await dir.removeEntry(name).catch(() => {});
}

/**
 * Removes what spools left behind: unkeyed files (a tab closed while unpacking) and keyed ones whose key is not in
 * `keep` (the unfinished jobs' and those being unpacked now).
 */
export async function sweepOpfsSpools(keep: ReadonlySet<string>): Promise<void> {
  const dir = await navigator.storage.getDirectory();
  for (const name of await spoolNames(dir)) {
    const key = keyOf(name);
    if (key && keep.has(key)) continue;
    await dir.removeEntry(name).catch(() => {});
  }
}

/** Removes what earlier spools left behind (every spool file). */
export async function clearOpfsSpools(): Promise<void> {
  await sweepOpfsSpools(new Set());
}
