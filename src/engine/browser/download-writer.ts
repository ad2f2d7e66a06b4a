// The download writer: an OPFS sync access handle served from its own worker, so synchronous writes never
// stall the thread that fetches and verifies blocks (or runs the in-browser emulator).
import type { AsyncAccessHandle, SyncAccessHandle } from '../download/download-target.ts';

let handle: SyncAccessHandle | undefined;

function open(): SyncAccessHandle {
  if (!handle) throw new Error('The download writer has no file open.');
  return handle;
}

/** What the writer worker exposes: one open file at a time. */
export const writerApi = {
  /** Opens file for exclusive in-place writes (OPFS only). */
  async open(file: FileSystemFileHandle): Promise<void> {
    handle?.close();
    handle = await (file as FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle();
  },
  getSize: async (): Promise<number> => open().getSize(),
  truncate: async (size: number): Promise<void> => open().truncate(size),
  /** Writes data at offset (data arrives transferred). */
  async write(data: Uint8Array, at: number): Promise<void> {
    const h = open();
    let done = 0;
    while (done < data.length) done += h.write(data.subarray(done), { at: at + done });
  },
  flush: async (): Promise<void> => open().flush(),
  async close(): Promise<void> {
    const h = handle;
    handle = undefined;
    h?.flush();
    h?.close();
  },
} satisfies AsyncAccessHandle & { open(file: FileSystemFileHandle): Promise<void> };

export type WriterApi = typeof writerApi;
