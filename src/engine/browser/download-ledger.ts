// One IndexedDB record per download: what it reads, where it writes, and which blocks are durably written.
import { databaseOpener } from './idb-open.ts';
import type { Connection } from '../../aws/clients.ts';
import { bitmapSet } from '../download/download.ts';

/** Life of a download. */
export type DownloadState = 'running' | 'paused' | 'completed' | 'error';

/** A download as recorded; never holds secrets. */
export interface DownloadRecord {
  id: string;
  snapshotId: string;
  /** Connection without credentials. */
  connection: Connection;
  /** The picked file (Chromium) or the OPFS file the download goes into. */
  handle: FileSystemFileHandle;
  /** True when handle is an OPFS file that still has to be handed to the person as a normal download. */
  viaOpfs: boolean;
  /**
   * For a picked file: the OPFS staging file (in STAGING_DIR) the blocks go to first, checkpointed and resumable;
   * it is copied into handle in one pass at the end, then deleted. Absent in records of older versions.
   */
  staging?: string;
  /** 'writing' once every block is staged and durable: only the copy into the picked file is left. */
  phase?: 'fetching' | 'writing';
  fileName: string;
  /** Bytes of the file (volume size or the original image size). */
  size?: number;
  /** Bit i set = block i written and durable. */
  bitmap: Uint8Array;
  blocksDone: number;
  blocksTotal: number;
  state: DownloadState;
  error?: string;
  created: number;
  updated: number;
}

/** The database name; tests pass their own. */
export const DOWNLOAD_DB = 'blockport-downloads';

const db = databaseOpener((d) => {
  d.createObjectStore('downloads', { keyPath: 'id' });
});

/** The download ledger of one database. */
export class DownloadLedger {
  constructor(readonly dbName = DOWNLOAD_DB) {}

  /** Stores a new record. */
  async create(r: DownloadRecord): Promise<void> {
    await (await db(this.dbName)).put('downloads', r);
  }

  /** One record, or undefined. */
  async get(id: string): Promise<DownloadRecord | undefined> {
    return (await (await db(this.dbName)).get('downloads', id)) as DownloadRecord | undefined;
  }

  /** All records, newest first. */
  async list(): Promise<DownloadRecord[]> {
    const all = (await (await db(this.dbName)).getAll('downloads')) as DownloadRecord[];
    return all.sort((a, b) => b.created - a.created);
  }

  /** Changes fields of a record. */
  async update(id: string, patch: Partial<Omit<DownloadRecord, 'id'>>): Promise<void> {
    const d = await db(this.dbName);
    const tx = d.transaction('downloads', 'readwrite');
    const r = (await tx.store.get(id)) as DownloadRecord | undefined;
    if (r) await tx.store.put({ ...r, ...patch, updated: Date.now() });
    await tx.done;
  }

  /** Marks blocks durably written, in one transaction. */
  async commit(id: string, indices: number[]): Promise<void> {
    const d = await db(this.dbName);
    const tx = d.transaction('downloads', 'readwrite');
    const r = (await tx.store.get(id)) as DownloadRecord | undefined;
    if (r) {
      const need = (Math.max(0, ...indices) >> 3) + 1;
      if (need > r.bitmap.length) {
        const grown = new Uint8Array(Math.max(need, r.bitmap.length * 2));
        grown.set(r.bitmap);
        r.bitmap = grown;
      }
      for (const i of indices) bitmapSet(r.bitmap, i);
      r.blocksDone += indices.length;
      r.updated = Date.now();
      await tx.store.put(r);
    }
    await tx.done;
  }

  /** Forgets a record. */
  async delete(id: string): Promise<void> {
    await (await db(this.dbName)).delete('downloads', id);
  }
}
