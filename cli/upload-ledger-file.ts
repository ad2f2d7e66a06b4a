// The CLI's upload ledger in one JSON file (beside the image, or --state): job record with the ClientToken, snapshot
// id, acknowledged-block bitmap and raw digests. Every commit rewrites it atomically (temp file, fsync, rename).
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { LedgerPage, LedgerStore } from '../src/engine/ledger.ts';
import type { JobRecord } from '../src/engine/upload-types.ts';

const KIND = 'blockport-upload-ledger';
const VERSION = 1;

interface PageJson {
  page: number;
  written: string;
  skipped: string;
  digests: string;
}

interface FileJson {
  kind: typeof KIND;
  version: number;
  job: JobRecord;
  pages: PageJson[];
}

/** A state file that cannot be used, with the sentence to print. */
export class StateFileError extends Error {
  override name = 'StateFileError';
}

const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** A LedgerStore over one file holding one job; `job` is what the file held when opened (undefined: none). */
export interface FileLedgerStore extends LedgerStore {
  readonly path: string;
  /** The job recorded in the file, if any. */
  readonly job: JobRecord | undefined;
  /** How many times the file was written (tests). */
  readonly writes: number;
  /** Blocks whose acknowledgement is recorded. */
  writtenBlocks(): number;
}

function popcount(u: Uint8Array): number {
  let n = 0;
  for (let b of u) for (; b; b &= b - 1) n++;
  return n;
}

/** Opens (or prepares) the ledger file at `path`; `ignoreExisting` starts over without reading it (--restart). */
export async function openFileLedger(path: string, opts: { ignoreExisting?: boolean } = {}): Promise<FileLedgerStore> {
  let job: JobRecord | undefined;
  const pages = new Map<number, LedgerPage>();
  if (!opts.ignoreExisting) {
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateFileError(`Cannot read the upload state ${path} (${(err as NodeJS.ErrnoException).code}).`);
    }
    if (text !== undefined) {
      let doc: FileJson;
      try {
        doc = JSON.parse(text) as FileJson;
      } catch {
        throw new StateFileError(`The upload state ${path} is not valid JSON. Remove it, or pass --restart to start over.`);
      }
      if (doc?.kind !== KIND || doc.version !== VERSION || !doc.job?.id || !Array.isArray(doc.pages))
        throw new StateFileError(`${path} is not a Blockport upload state (version ${VERSION}). Remove it, or pass --restart to start over.`);
      job = doc.job;
      for (const p of doc.pages) pages.set(p.page, { jobId: job.id, page: p.page, written: bytes(p.written), skipped: bytes(p.skipped), digests: bytes(p.digests) });
    }
  }
  let writes = 0;
  let chain: Promise<void> = Promise.resolve();

  // Writes the whole state: a crash leaves either the previous file or this one, never a mix.
  const persist = (): Promise<void> => {
    const run = async (): Promise<void> => {
      if (!job) return;
      const doc: FileJson = {
        kind: KIND,
        version: VERSION,
        job,
        pages: [...pages.values()].sort((a, b) => a.page - b.page).map((p) => ({ page: p.page, written: b64(p.written), skipped: b64(p.skipped), digests: b64(p.digests) })),
      };
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(JSON.stringify(doc));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new StateFileError(`Cannot write the upload state ${path} (${code}). Pass --state FILE to keep it in a writable place.`);
      }
      writes++;
    };
    chain = chain.then(run, run);
    return chain;
  };

  const copy = (p: LedgerPage): LedgerPage => ({ jobId: p.jobId, page: p.page, written: p.written.slice(), skipped: p.skipped.slice(), digests: p.digests.slice() });

  return {
    path,
    get job() {
      return job && structuredClone(job);
    },
    get writes() {
      return writes;
    },
    writtenBlocks() {
      let n = 0;
      for (const p of pages.values()) n += popcount(p.written);
      return n;
    },
    async putJob(j) {
      if (job && job.id !== j.id) pages.clear();
      job = structuredClone(j);
      await persist();
    },
    async getJob(id) {
      return job?.id === id ? structuredClone(job) : undefined;
    },
    async listJobs() {
      return job ? [structuredClone(job)] : [];
    },
    async deleteJob(id) {
      if (job?.id !== id) return;
      job = undefined;
      pages.clear();
      await chain.catch(() => undefined);
      await rm(path, { force: true });
    },
    async loadPages(jobId) {
      return job?.id === jobId ? [...pages.values()].map(copy) : [];
    },
    async commit(j, ps) {
      if (job && job.id !== j.id) pages.clear();
      job = structuredClone(j);
      for (const p of ps) pages.set(p.page, copy(p));
      await persist();
    },
  };
}
