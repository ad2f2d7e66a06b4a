// Download targets over the platform's file APIs; types only from the DOM lib, so the module loads in Node too.
import type { DownloadTarget } from './download.ts';

/** The part of OPFS's FileSystemSyncAccessHandle (a worker-only type) that downloads use. */
export interface SyncAccessHandle {
  getSize(): number;
  truncate(size: number): void;
  write(data: Uint8Array, opts: { at: number }): number;
  flush(): void;
  close(): void;
}

/** A sync access handle served by another thread (the download writer worker): every call a message. */
export interface AsyncAccessHandle {
  getSize(): Promise<number>;
  truncate(size: number): Promise<void>;
  /** Writes data at offset; data may be transferred (detached) by the call. */
  write(data: Uint8Array, at: number): Promise<void>;
  flush(): Promise<void>;
  /** Flushes and closes. */
  close(): Promise<void>;
  /** Calls are applied in the order they are made (a worker's message queue), so writes may overlap. */
  ordered?: boolean;
}

/** The async form of a sync access handle used on its own thread. */
export function asAsyncHandle(h: SyncAccessHandle): AsyncAccessHandle {
  return {
    getSize: async () => h.getSize(),
    truncate: async (size) => h.truncate(size),
    async write(data, at) {
      let done = 0;
      while (done < data.length) done += h.write(data.subarray(done), { at: at + done });
    },
    flush: async () => h.flush(),
    async close() {
      h.flush();
      h.close();
    },
  };
}

/** A target over an OPFS sync access handle on this thread (workers only): in-place writes, durable on flush. */
export function syncHandleTarget(h: SyncAccessHandle): DownloadTarget {
  return asyncHandleTarget(asAsyncHandle(h));
}

/** A target over a sync access handle on any thread (the writer worker's, or this one's): durable on flush. */
export function asyncHandleTarget(h: AsyncAccessHandle): DownloadTarget {
  return {
    async setSize(size) {
      if ((await h.getSize()) !== size) await h.truncate(size);
    },
    write: (offset, data) => h.write(data, offset),
    async flush() {
      await h.flush();
      return true;
    },
    close: () => h.close(),
    ...(h.ordered ? { ordered: true } : {}),
  };
}

/** A target over a FileSystemWritableFileStream (picked files): durable only once closed. */
export function writableTarget(w: FileSystemWritableFileStream): DownloadTarget {
  return {
    setSize: (size) => w.truncate(size),
    write: (offset, data) => w.write({ type: 'write', position: offset, data: data as Uint8Array<ArrayBuffer> }),
    // The stream writes to a swap file that replaces the real one on close: nothing is durable before.
    flush: async () => false,
    close: () => w.close(),
  };
}

/**
 * Opens the best target for a file handle: a sync access handle where the platform allows it (OPFS, in a worker;
 * opened by `open` when given, e.g. in a writer worker), otherwise a writable stream (keeping existing data when
 * resuming, which copies the file once).
 */
export async function openHandleTarget(
  handle: FileSystemFileHandle,
  resuming: boolean,
  open?: (file: FileSystemFileHandle) => Promise<AsyncAccessHandle>,
): Promise<DownloadTarget> {
  const h = handle as FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };
  if (typeof h.createSyncAccessHandle === 'function') {
    try {
      return asyncHandleTarget(open ? await open(handle) : asAsyncHandle(await h.createSyncAccessHandle()));
    } catch {
      // Not an OPFS file (or not in a worker): the writable stream works everywhere handles exist.
    }
  }
  return writableTarget(await handle.createWritable({ keepExistingData: resuming }));
}

/** A target in memory (tests, benchmarks). */
export function memoryTarget(): DownloadTarget & { bytes(): Uint8Array; closed: boolean } {
  let buf = new Uint8Array(0);
  const t = {
    closed: false,
    async setSize(size: number) {
      const next = new Uint8Array(size);
      next.set(buf.subarray(0, Math.min(size, buf.length)));
      buf = next;
    },
    async write(offset: number, data: Uint8Array) {
      if (offset + data.length > buf.length) throw new Error(`write past the end: ${offset}+${data.length} > ${buf.length}`);
      buf.set(data, offset);
    },
    async flush() {
      return true;
    },
    async close() {
      t.closed = true;
    },
    bytes: () => buf,
  };
  return t;
}
