// The block ledger: which blocks are acknowledged (with raw digests) or safely skipped, persisted in batches.
import type { JobRecord } from './upload-types.ts';

/** Blocks per ledger page: 1024 blocks = 32 KiB of digests, so a batch rewrites little. */
export const PAGE_BLOCKS = 1024;

/** One persisted page of the ledger. */
export interface LedgerPage {
  jobId: string;
  page: number;
  /** Bit per block: PutSnapshotBlock returned 201. */
  written: Uint8Array;
  /** Bit per block: empty and skipped (safe zero skip). */
  skipped: Uint8Array;
  /** 32 raw bytes per block, meaningful where `written` is set. */
  digests: Uint8Array;
}

/** Where jobs and ledger pages live: IndexedDB in browsers, memory (or a file) in Node. */
export interface LedgerStore {
  putJob(job: JobRecord): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(): Promise<JobRecord[]>;
  /** Removes the job and its pages. */
  deleteJob(id: string): Promise<void>;
  loadPages(jobId: string): Promise<LedgerPage[]>;
  /** Writes the job record and pages in one transaction. */
  commit(job: JobRecord, pages: LedgerPage[]): Promise<void>;
}

function emptyPage(jobId: string, page: number): LedgerPage {
  return {
    jobId,
    page,
    written: new Uint8Array(PAGE_BLOCKS / 8),
    skipped: new Uint8Array(PAGE_BLOCKS / 8),
    digests: new Uint8Array(PAGE_BLOCKS * 32),
  };
}

function clonePage(p: LedgerPage): LedgerPage {
  return { jobId: p.jobId, page: p.page, written: p.written.slice(), skipped: p.skipped.slice(), digests: p.digests.slice() };
}

/** A LedgerStore in memory (Node, tests); structured copies so callers cannot alias stored data. */
export function memoryLedgerStore(): LedgerStore & { commits: number } {
  const jobs = new Map<string, JobRecord>();
  const pages = new Map<string, Map<number, LedgerPage>>();
  const store = {
    commits: 0,
    async putJob(job: JobRecord) {
      jobs.set(job.id, structuredClone(job));
    },
    async getJob(id: string) {
      const j = jobs.get(id);
      return j && structuredClone(j);
    },
    async listJobs() {
      return [...jobs.values()].map((j) => structuredClone(j)).sort((a, b) => b.created - a.created);
    },
    async deleteJob(id: string) {
      jobs.delete(id);
      pages.delete(id);
    },
    async loadPages(jobId: string) {
      return [...(pages.get(jobId)?.values() ?? [])].map(clonePage);
    },
    async commit(job: JobRecord, ps: LedgerPage[]) {
      store.commits++;
      jobs.set(job.id, structuredClone(job));
      let m = pages.get(job.id);
      if (!m) pages.set(job.id, (m = new Map()));
      for (const p of ps) m.set(p.page, clonePage(p));
    },
  };
  return store;
}

/** The in-memory mirror of a job's ledger with batched, ordered commits. */
export class BlockLedger {
  private pages = new Map<number, LedgerPage>();
  private dirty = new Set<number>();
  private jobDirty = false;
  private writing: Promise<void> | null = null;
  private failure: unknown = null;
  private written = 0;
  private skipped = 0;
  /** Blocks whose mark is committed (what progress may call "acknowledged"). */
  committedWritten = 0;
  committedSkipped = 0;

  private constructor(
    private readonly store: LedgerStore,
    public job: JobRecord,
    readonly blockCount: number,
  ) {}

  /** Loads a job's ledger (empty for a new job). */
  static async open(store: LedgerStore, job: JobRecord, blockCount: number): Promise<BlockLedger> {
    const l = new BlockLedger(store, job, blockCount);
    for (const p of await store.loadPages(job.id)) l.pages.set(p.page, p);
    for (let i = 0; i < blockCount; i++) {
      if (l.isWritten(i)) l.written++;
      else if (l.isSkipped(i)) l.skipped++;
    }
    l.committedWritten = l.written;
    l.committedSkipped = l.skipped;
    return l;
  }

  private page(index: number): LedgerPage {
    const n = Math.floor(index / PAGE_BLOCKS);
    let p = this.pages.get(n);
    if (!p) this.pages.set(n, (p = emptyPage(this.job.id, n)));
    return p;
  }

  private bit(index: number, which: 'written' | 'skipped'): boolean {
    const p = this.pages.get(Math.floor(index / PAGE_BLOCKS));
    if (!p) return false;
    const o = index % PAGE_BLOCKS;
    return (p[which][o >> 3]! & (1 << (o & 7))) !== 0;
  }

  /** PutSnapshotBlock returned 201 for this block. */
  isWritten(index: number): boolean {
    return this.bit(index, 'written');
  }

  /** The block was skipped as empty. */
  isSkipped(index: number): boolean {
    return this.bit(index, 'skipped');
  }

  /** Nothing left to do for this block. */
  isDone(index: number): boolean {
    return this.isWritten(index) || this.isSkipped(index);
  }

  get writtenCount(): number {
    return this.written;
  }

  get skippedCount(): number {
    return this.skipped;
  }

  /** The raw digest recorded for a written block. */
  digest(index: number): Uint8Array {
    const p = this.page(index);
    const o = (index % PAGE_BLOCKS) * 32;
    return p.digests.subarray(o, o + 32);
  }

  /** Records an acknowledged block (after its 201); committed with the next batch. */
  markWritten(index: number, digest: Uint8Array): void {
    this.check(index);
    const p = this.page(index);
    const o = index % PAGE_BLOCKS;
    if (!this.isWritten(index)) {
      this.written++;
      if (this.isSkipped(index)) {
        p.skipped[o >> 3]! &= ~(1 << (o & 7));
        this.skipped--;
      }
    }
    p.written[o >> 3]! |= 1 << (o & 7);
    p.digests.set(digest, o * 32);
    this.touch(p.page);
  }

  /** Records a block skipped as empty. */
  markSkipped(index: number): void {
    this.check(index);
    if (this.isDone(index)) return;
    const p = this.page(index);
    const o = index % PAGE_BLOCKS;
    p.skipped[o >> 3]! |= 1 << (o & 7);
    this.skipped++;
    this.touch(p.page);
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) throw new RangeError(`block ${index} is outside 0..${this.blockCount - 1}`);
  }

  /** Changes the job record; persisted with the next batch. */
  updateJob(patch: Partial<JobRecord>): void {
    this.job = { ...this.job, ...patch, updated: Date.now() };
    this.jobDirty = true;
    this.schedule();
  }

  private touch(page: number): void {
    this.dirty.add(page);
    this.schedule();
  }

  // One commit at a time; marks arriving meanwhile form the next batch (promise chain, no timers).
  private schedule(): void {
    if (this.writing || this.failure) return;
    this.writing = (async () => {
      try {
        while (this.dirty.size || this.jobDirty) {
          const pages = [...this.dirty].map((n) => this.pages.get(n)!);
          this.dirty.clear();
          this.jobDirty = false;
          const written = this.written;
          const skipped = this.skipped;
          const job: JobRecord = {
            ...this.job,
            counters: { ...this.job.counters, writtenBlocks: written, skippedBlocks: skipped, bytesWritten: written * 524288 },
          };
          this.job = job;
          await this.store.commit(job, pages.map(clonePage));
          this.committedWritten = written;
          this.committedSkipped = skipped;
        }
      } catch (err) {
        this.failure = err;
      } finally {
        this.writing = null;
      }
    })();
  }

  /** Resolves when every mark made so far is committed; rejects if the store failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
    if (this.dirty.size || this.jobDirty) {
      this.schedule();
      return this.flush();
    }
  }

  /** Bit per block: written or skipped (what a resumed run must not redo). */
  doneBitmap(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.blockCount / 8));
    for (const [n, p] of this.pages) {
      for (let b = 0; b < PAGE_BLOCKS / 8; b++) {
        const byte = p.written[b]! | p.skipped[b]!;
        if (byte) {
          const at = n * (PAGE_BLOCKS / 8) + b;
          if (at < out.length) out[at] = byte;
        }
      }
    }
    return out;
  }

  /** Ascending indices of written blocks. */
  *writtenIndices(): Generator<number> {
    const ns = [...this.pages.keys()].sort((a, b) => a - b);
    for (const n of ns) {
      const p = this.pages.get(n)!;
      for (let o = 0; o < PAGE_BLOCKS; o++) if (p.written[o >> 3]! & (1 << (o & 7))) yield n * PAGE_BLOCKS + o;
    }
  }

  /** The written digests concatenated in index order (input of the LINEAR aggregate). */
  concatenatedDigests(): Uint8Array {
    const out = new Uint8Array(this.written * 32);
    let k = 0;
    for (const i of this.writtenIndices()) out.set(this.digest(i), 32 * k++);
    return out;
  }
}
