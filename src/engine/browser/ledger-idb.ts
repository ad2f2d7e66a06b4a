// The ledger in IndexedDB: job records and ledger pages, committed together in one transaction.
import { databaseOpener } from './idb-open.ts';
import type { JobRecord } from '../upload-types.ts';
import type { LedgerPage, LedgerStore } from '../ledger.ts';

/** IndexedDB database of upload jobs. */
export const JOBS_DB = 'blockport-jobs';

const db = databaseOpener((d) => {
  d.createObjectStore('jobs', { keyPath: 'id' });
  d.createObjectStore('pages', { keyPath: ['jobId', 'page'] });
});

/** The browser's LedgerStore (pages and workers alike). */
export function idbLedgerStore(name = JOBS_DB): LedgerStore {
  return {
    async putJob(job) {
      await (await db(name)).put('jobs', job);
    },
    async getJob(id) {
      return (await (await db(name)).get('jobs', id)) as JobRecord | undefined;
    },
    async listJobs() {
      const all = (await (await db(name)).getAll('jobs')) as JobRecord[];
      return all.sort((a, b) => b.created - a.created);
    },
    async deleteJob(id) {
      const d = await db(name);
      const tx = d.transaction(['jobs', 'pages'], 'readwrite');
      await tx.objectStore('jobs').delete(id);
      await tx.objectStore('pages').delete(IDBKeyRange.bound([id, 0], [id, Number.MAX_SAFE_INTEGER]));
      await tx.done;
    },
    async loadPages(jobId) {
      return (await (await db(name)).getAll('pages', IDBKeyRange.bound([jobId, 0], [jobId, Number.MAX_SAFE_INTEGER]))) as LedgerPage[];
    },
    async commit(job, pages) {
      const d = await db(name);
      const tx = d.transaction(['jobs', 'pages'], 'readwrite');
      const ps = tx.objectStore('pages');
      void tx.objectStore('jobs').put(job);
      for (const p of pages) void ps.put(p);
      await tx.done;
    },
  };
}
