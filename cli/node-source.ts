import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from '../src/images/types.ts';

/** A ByteSource over a local file, for the CLI; close() when done. */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const fh: FileHandle = await open(path, 'r');
  const { size } = await fh.stat();
  async function readInto(offset: number, target: Uint8Array): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(target.length, size - offset));
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(target, done, n - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return target.subarray(0, done);
  }
  return {
    size,
    read: (offset, length) => readInto(offset, new Uint8Array(Math.max(0, Math.min(length, size - offset)))),
    readInto,
    close: () => fh.close(),
  };
}
