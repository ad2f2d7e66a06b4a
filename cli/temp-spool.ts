import { mkdtemp, open, rm, statfs, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from './node-source.ts';
import { spoolFull, type Spool } from '../src/images/containers.ts';
import type { ByteSource } from '../src/images/types.ts';

/**
 * A spool in a private temporary directory (BLOCKPORT_TMPDIR, else the system's), removed by dispose(): where the CLI
 * unpacks a compressed disk that must be read at random (qcow2, VHD, …) or a zip entry.
 */
export function tempSpool(dir = process.env.BLOCKPORT_TMPDIR ?? tmpdir()): Spool {
  let work: string | undefined;
  const open_: (ByteSource & { close(): Promise<void> })[] = [];
  let n = 0;
  return {
    async store(stream, { declaredSize, progress }) {
      work ??= await mkdtemp(join(dir, 'blockport-unpack-'));
      const free = async (): Promise<number> => {
        const s = await statfs(work!);
        return s.bavail * s.bsize;
      };
      if (declaredSize !== undefined && declaredSize > (await free())) throw spoolFull(declaredSize, await free(), work);
      const path = join(work, `${n++}.unpacked`);
      const fh: FileHandle = await open(path, 'w');
      let written = 0;
      try {
        for (let c = await stream.next(); c; c = await stream.next()) {
          await fh.write(c, 0, c.length, written);
          written += c.length;
          progress?.(written);
        }
      } catch (err) {
        await stream.cancel().catch(() => {});
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw spoolFull(written + 1, written, work);
        throw err;
      } finally {
        await fh.close();
      }
      const src = await fileSource(path);
      open_.push(src);
      return src;
    },
    async dispose() {
      for (const s of open_.splice(0)) await s.close().catch(() => {});
      if (work) await rm(work, { recursive: true, force: true });
      work = undefined;
    },
  };
}
