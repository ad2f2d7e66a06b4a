// Filesystem store (Node only): block contents as content-addressed files, records in an fsynced append-only journal.
// Every acknowledged write is durable: a blob is written, fsynced and renamed into place, then its journal line
// is fsynced (group commit: one fdatasync covers every line appended meanwhile) before the promise resolves.
// All state changes happen synchronously in one tick of the event loop, so no lock is needed within the process;
// one process owns a directory at a time.

import { mkdir, open, readFile, readdir, rename, unlink, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  acceptedPut,
  isRejection,
  type BlockRecord,
  type EmulatorStore,
  type PutBlockItem,
  type PutBlockOutcome,
  type SnapshotRecord,
  type SnapshotUpdate,
  type StoreStats,
} from '../store.ts';
import { SnapshotIndex } from './snapshot-index.ts';

type JournalLine =
  | { t: 's'; r: SnapshotRecord[] }
  | { t: 'b'; b: BlockRecord; s: SnapshotRecord }
  | { t: 'd'; id: string }
  | { t: 'c' };

function blobName(digest: string): string {
  // base64 contains '/', so the file name is the hex of the digest.
  return Buffer.from(digest, 'base64').toString('hex');
}

/** A store in a directory that survives restarts of the process. */
export class FsStore implements EmulatorStore {
  readonly kind = 'fs';
  private secret?: Uint8Array;
  /** Digests whose reference count dropped to zero: candidates for unlinking. */
  private unreferenced = new Set<string>();
  private index = new SnapshotIndex((digest) => this.unreferenced.add(digest));
  /** Digests whose blob file exists (or is being renamed into place). */
  private onDisk = new Set<string>();
  /** Digests a put is writing or about to reference: never unlinked meanwhile. */
  private pins = new Map<string, number>();
  private unlinking = new Map<string, Promise<void>>();
  private buf: string[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private journal: FileHandle,
  ) {}

  /** Opens (creating if needed) a store in `dir`: replays and compacts the journal, removes unreferenced blobs. */
  static async open(dir: string): Promise<FsStore> {
    await mkdir(join(dir, 'blobs'), { recursive: true });
    const path = join(dir, 'journal.jsonl');
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const tmp = join(dir, 'journal.jsonl.tmp');
    const placeholder = await open(tmp, 'w');
    const store = new FsStore(dir, placeholder);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line.trim()) continue;
      let rec: JournalLine;
      try {
        rec = JSON.parse(line) as JournalLine;
      } catch (err) {
        // Only the last line can be torn by a crash mid-append; anything earlier is corruption.
        if (lines.slice(i + 1).some((l) => l.trim())) throw new Error(`fs-store: corrupt journal line ${i + 1} in ${path}`);
        break;
      }
      store.apply(rec);
    }
    // Compaction: rewrite the live state as a fresh journal, atomically.
    const out: string[] = [];
    const { snapshots, blocks } = store.index;
    if (snapshots.size) out.push(JSON.stringify({ t: 's', r: [...snapshots.values()] } satisfies JournalLine));
    for (const own of blocks.values()) {
      for (const b of own.values()) out.push(JSON.stringify({ t: 'b', b, s: snapshots.get(b.snapshotId)! } satisfies JournalLine));
    }
    await placeholder.writeFile(out.length ? `${out.join('\n')}\n` : '');
    await placeholder.datasync();
    await placeholder.close();
    await rename(tmp, path);
    store.journal = await open(path, 'a');
    await store.scanBlobs();
    return store;
  }

  private async scanBlobs(): Promise<void> {
    const root = join(this.dir, 'blobs');
    for (const sub of await readdir(root)) {
      for (const f of await readdir(join(root, sub))) {
        const digest = Buffer.from(f, 'hex').toString('base64');
        if (f.includes('.tmp') || !this.index.refs.get(digest)) await rm(join(root, sub, f), { force: true });
        else this.onDisk.add(digest);
      }
    }
  }

  private blobPath(digest: string): string {
    const n = blobName(digest);
    return join(this.dir, 'blobs', n.slice(0, 2), n);
  }

  /** Applies a journal line to the in-memory state (live and on replay). */
  private apply(l: JournalLine): void {
    if (l.t === 's') for (const r of l.r) this.index.snapshots.set(r.id, r);
    else if (l.t === 'b') this.index.setBlock(l.b, l.s);
    else if (l.t === 'd') this.index.markDeleted(l.id);
    else if (l.t === 'c') this.index.clear();
  }

  /** Unlinks blob files no block references and no put is writing. */
  private collect(): void {
    for (const d of this.unreferenced) {
      if (this.pins.get(d)) continue;
      this.unreferenced.delete(d);
      if ((this.index.refs.get(d) ?? 0) > 0) continue;
      if (!this.onDisk.delete(d)) continue;
      const p = unlink(this.blobPath(d))
        .catch(() => undefined)
        .finally(() => {
          if (this.unlinking.get(d) === p) this.unlinking.delete(d);
        });
      this.unlinking.set(d, p);
    }
  }

  /** Appends lines; resolves once they (and everything appended before) are fsynced. */
  private commit(lines: JournalLine[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('fs-store: closed'));
    for (const l of lines) this.buf.push(`${JSON.stringify(l)}\n`);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.buf.length || this.waiters.length) {
      const text = this.buf.splice(0).join('');
      const ws = this.waiters.splice(0);
      try {
        if (text) {
          await this.journal.write(text);
          await this.journal.datasync();
        }
        for (const w of ws) w.resolve();
      } catch (err) {
        for (const w of ws) w.reject(err);
      }
    }
    this.writing = false;
  }

  /** Resolves once everything acknowledged so far is on disk. */
  flush(): Promise<void> {
    return this.commit([]);
  }

  async getSecret(): Promise<Uint8Array> {
    if (this.secret) return this.secret;
    const path = join(this.dir, 'secret');
    try {
      const b = await readFile(path);
      if (b.length === 32) return (this.secret ??= new Uint8Array(b));
    } catch {
      // First use: create it below.
    }
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    if (this.secret) return this.secret;
    this.secret = fresh;
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    await fh.writeFile(fresh);
    await fh.datasync();
    await fh.close();
    await rename(tmp, path);
    return fresh;
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.index.getSnapshot(id);
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return this.index.listSnapshots();
  }

  async updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T> {
    const { put, result } = fn(this.index.view());
    if (put?.length) {
      const line: JournalLine = { t: 's', r: put.map((r) => structuredClone(r)) };
      this.apply(line);
      await this.commit([line]);
      this.index.notify();
    }
    return result;
  }

  private async writeBlob(digest: string, data: Uint8Array): Promise<void> {
    await this.unlinking.get(digest);
    if (this.onDisk.has(digest)) return;
    const path = this.blobPath(digest);
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    this.onDisk.add(digest);
  }

  async putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    for (const it of items) this.pins.set(it.digest, (this.pins.get(it.digest) ?? 0) + 1);
    try {
      // Contents first (in parallel), so a journal line never names a blob that is not on disk.
      await Promise.all(items.map((it) => this.writeBlob(it.digest, it.data)));
      const out: PutBlockOutcome[] = [];
      const lines: JournalLine[] = [];
      for (const item of items) {
        const decided = item.check(this.index.getSnapshot(item.snapshotId));
        if (isRejection(decided)) {
          out.push(decided);
          continue;
        }
        const { block, snapshot } = acceptedPut(item, decided, this.index.ownBlock(item.snapshotId, item.index));
        const line: JournalLine = { t: 'b', b: block, s: snapshot };
        this.apply(line);
        lines.push(line);
        out.push({ rejected: false, block: { ...block } });
      }
      if (lines.length) {
        await this.commit(lines);
        this.index.notify();
      }
      return out;
    } finally {
      for (const it of items) {
        const n = (this.pins.get(it.digest) ?? 1) - 1;
        if (n > 0) this.pins.set(it.digest, n);
        else {
          this.pins.delete(it.digest);
          if (!this.index.refs.get(it.digest)) this.unreferenced.add(it.digest);
        }
      }
      this.collect();
    }
  }

  async getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined> {
    return this.index.getOwnBlock(snapshotId, index);
  }

  async listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = Infinity): Promise<BlockRecord[]> {
    return this.index.listOwnBlocks(snapshotId, fromIndex, limit, toIndex);
  }

  async readContent(digest: string): Promise<Uint8Array | undefined> {
    if (!this.index.refs.get(digest)) return undefined;
    try {
      return new Uint8Array(await readFile(this.blobPath(digest)));
    } catch {
      return undefined;
    }
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    const rec = this.index.snapshots.get(id);
    if (!rec || rec.deleted) return false;
    const line: JournalLine = { t: 'd', id };
    this.apply(line);
    await this.commit([line]);
    this.collect();
    this.index.notify();
    return true;
  }

  async stats(): Promise<StoreStats> {
    const counts = this.index.counts();
    return { ...counts, bytes: counts.blobs * 524288 };
  }

  async clear(): Promise<void> {
    const line: JournalLine = { t: 'c' };
    this.apply(line);
    await this.commit([line]);
    this.collect();
    this.index.notify();
  }

  subscribe(listener: () => void): () => void {
    return this.index.subscribe(listener);
  }

  /** Closes the journal after pending writes; call flush() first to wait for them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.index.unsubscribeAll();
    const fh = this.journal;
    void (async () => {
      while (this.writing) await new Promise((r) => setTimeout(r, 5));
      await fh.close().catch(() => undefined);
    })();
  }
}
