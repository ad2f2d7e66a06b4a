// One process owns a data directory at a time: an exclusive lock file holding the owner's pid. A lock whose process
// is gone (a crash, a kill -9) is stale and taken over; a live one is refused with a sentence.

import { open, readFile, unlink } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown when another live process holds the directory. */
export class DirLockedError extends Error {
  override readonly name = 'DirLockedError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files this process holds: a lock naming our own pid but not in here is left by an earlier process. */
const held = new Set<string>();

/** A held lock; release() removes the file (synchronously, so it also works from an exit handler). */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** Locks `dir` for this process, or throws DirLockedError naming the process that holds it. */
export async function lockDir(dir: string): Promise<DirLock> {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.sync();
      await fh.close();
      let released = false;
      held.add(path);
      return {
        path,
        release: () => {
          if (released) return;
          released = true;
          held.delete(path);
          try {
            unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    const ours = pid === process.pid && !held.has(path);
    if (Number.isInteger(pid) && pid > 0 && !ours && alive(pid)) {
      throw new DirLockedError(
        `The data directory ${dir} is in use by another emulator (process ${pid}); stop that one first, or start this one with another --data-dir.`,
      );
    }
    // Stale (its process is gone) or half-written: take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new DirLockedError(`Could not lock the data directory ${dir}: another process keeps taking ${path}. Stop the other emulator and try again.`);
}
