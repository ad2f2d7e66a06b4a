// Filesystem store (Node only): block contents as content-addressed files, records in an fsynced append-only journal.
// Every acknowledged write is durable: a blob is written, fsynced and renamed into place, then its journal line
// is fsynced (group commit: one fdatasync covers every line appended meanwhile) before the promise resolves.
// All state changes happen synchronously in one tick of the event loop, so no lock is needed within the process;
// one process owns a directory at a time (a lock file, see dir-lock.ts). The journal is read back line by line, never
// as one string; block lines carry only the snapshot counters a put changes; it is rewritten (compacted) at open and
// whenever it has grown well past the live state. Directories are fsynced after every rename into them.

import { chmod, mkdir, open, readFile, readdir, rename, unlink, rm, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { lockDir, type DirLock } from './dir-lock.ts';
import type { BlockRecord, EmulatorStore, ImageRecord, ImageUpdate, PutBlockItem, PutBlockOutcome, SnapshotRecord, SnapshotUpdate, StoreStats } from '../store.ts';
import { IndexedStore, SnapshotIndex } from './snapshot-index.ts';

/** What a put changes on its snapshot record. */
type PutCounters = Pick<SnapshotRecord, 'id' | 'lastWriteTime' | 'puts' | 'ownBlocks'>;

type JournalLine =
  | { t: 's'; r: SnapshotRecord[] }
  // Older journals: a block with its whole snapshot record (still read).
  | { t: 'b'; b: BlockRecord; s: SnapshotRecord }
  // A block, and the counters its put changed (absent in a compacted journal, whose 's' line has them).
  | { t: 'p'; b: BlockRecord; u?: PutCounters }
  | { t: 'd'; id: string }
  // Machine images written (whole records) and removed (deregistered).
  | { t: 'i'; r: ImageRecord[]; x?: string[] }
  | { t: 'c' };

/** Journal lines appended since the last compaction beyond which it is compacted again (and twice the live records). */
const COMPACT_AFTER_LINES = 50_000;

/** fsyncs a directory, so renames and creations in it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** True when a put changed only the counters a 'p' line carries. */
function onlyCounters(before: SnapshotRecord | undefined, after: SnapshotRecord): boolean {
  if (!before) return false;
  for (const k of Object.keys(after) as (keyof SnapshotRecord)[]) {
    if (k === 'lastWriteTime' || k === 'puts' || k === 'ownBlocks') continue;
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) return false;
  }
  return Object.keys(before).length === Object.keys(after).length;
}

function blobName(digest: string): string {
  // base64 contains '/', so the file name is the hex of the digest.
  return Buffer.from(digest, 'base64').toString('hex');
}

/** A store in a directory that survives restarts of the process. */
export class FsStore extends IndexedStore implements EmulatorStore {
  readonly kind = 'fs';
  private secret?: Uint8Array;
  /** Digests whose reference count dropped to zero: candidates for unlinking. */
  private unreferenced = new Set<string>();
  protected readonly index = new SnapshotIndex((digest) => this.unreferenced.add(digest));
  /** Digests whose blob file exists (or is being renamed into place). */
  private onDisk = new Set<string>();
  /** Digests a put is writing or about to reference: never unlinked meanwhile. */
  private pins = new Map<string, number>();
  private unlinking = new Map<string, Promise<void>>();
  private buf: string[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;
  private closed = false;
  /** Blob directories a rename went into since the last journal write: fsynced before the lines naming them. */
  private dirtyDirs = new Set<string>();
  /** Subdirectories of blobs/ whose entry in blobs/ is known to be durable. */
  private durableSubdirs = new Set<string>();
  /** Lines appended since the journal was last compacted. */
  private appended = 0;
  /** How many times the journal was compacted while open (for tests). */
  compactions = 0;

  private constructor(
    readonly dir: string,
    private journal: FileHandle,
    private readonly lock: DirLock,
    private readonly compactAfterLines: number,
  ) {
    super();
  }

  /**
   * Opens (creating if needed) a store in `dir`: locks it against other processes, replays and compacts the journal,
   * removes unreferenced blobs. A directory another live emulator holds is refused (DirLockedError, a sentence).
   */
  static async open(dir: string, opts: { compactAfterLines?: number } = {}): Promise<FsStore> {
    await mkdir(join(dir, 'blobs'), { recursive: true });
    const lock = await lockDir(dir);
    try {
      const store = new FsStore(dir, undefined as unknown as FileHandle, lock, opts.compactAfterLines ?? COMPACT_AFTER_LINES);
      await store.replay(join(dir, 'journal.jsonl'));
      await store.compact();
      await store.scanBlobs();
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Applies the journal's lines, read as a stream; only the last line may be torn (a crash mid-append). */
  private async replay(path: string): Promise<void> {
    let input;
    try {
      input = createReadStream(path, { encoding: 'utf8' });
      await new Promise<void>((resolve, reject) => {
        input!.once('open', () => resolve());
        input!.once('error', reject);
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let lineNo = 0;
    let torn = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (!line.trim()) continue;
      if (torn) throw new Error(`fs-store: corrupt journal line ${torn} in ${path}`);
      let rec: JournalLine;
      try {
        rec = JSON.parse(line) as JournalLine;
      } catch {
        torn = lineNo;
        continue;
      }
      this.apply(rec);
    }
  }

  /**
   * Rewrites the live state as a fresh journal (snapshots, then one small line per block) into a temporary file,
   * fsyncs it, renames it over the journal, fsyncs the directory, and appends from then on to the new file.
   */
  private async compact(): Promise<void> {
    const path = join(this.dir, 'journal.jsonl');
    const tmp = join(this.dir, 'journal.jsonl.tmp');
    // Taken in one tick: the state as of every line applied so far (all of them written, see drain()).
    const { snapshots, blocks } = this.index;
    // One line per snapshot, so no line grows with the number of snapshots.
    const head = [...snapshots.values()].map((r) => `${JSON.stringify({ t: 's', r: [r] } satisfies JournalLine)}\n`);
    const records = [...blocks.values()].flatMap((own) => [...own.values()].map((b) => ({ ...b })));
    for (const r of this.index.images.values()) head.push(`${JSON.stringify({ t: 'i', r: [r] } satisfies JournalLine)}\n`);
    const fh = await open(tmp, 'w');
    try {
      let chunk = '';
      for (const line of head) {
        chunk += line;
        if (chunk.length > 1 << 20) {
          await fh.write(chunk);
          chunk = '';
        }
      }
      for (const b of records) {
        chunk += `${JSON.stringify({ t: 'p', b } satisfies JournalLine)}\n`;
        if (chunk.length > 1 << 20) {
          await fh.write(chunk);
          chunk = '';
        }
      }
      if (chunk) await fh.write(chunk);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(this.dir);
    const old = this.journal;
    this.journal = await open(path, 'a');
    await old?.close().catch(() => undefined);
    this.appended = 0;
  }

  private async scanBlobs(): Promise<void> {
    const root = join(this.dir, 'blobs');
    for (const sub of await readdir(root)) {
      this.durableSubdirs.add(join(root, sub));
      for (const f of await readdir(join(root, sub))) {
        const digest = Buffer.from(f, 'hex').toString('base64');
        if (f.includes('.tmp') || !this.index.refs.get(digest)) await rm(join(root, sub, f), { force: true });
        else this.onDisk.add(digest);
      }
    }
    // Subdirectories a crash may have left unrecorded in blobs/ (and blobs/ in the store's directory) are durable now.
    await syncDir(root);
  }

  private blobPath(digest: string): string {
    const n = blobName(digest);
    return join(this.dir, 'blobs', n.slice(0, 2), n);
  }

  /** Applies a journal line to the in-memory state (live and on replay). */
  private apply(l: JournalLine): void {
    if (l.t === 's') for (const r of l.r) this.index.snapshots.set(r.id, r);
    else if (l.t === 'b') this.index.setBlock(l.b, l.s);
    else if (l.t === 'p') {
      const cur = this.index.snapshots.get(l.b.snapshotId);
      // A block of a snapshot already gone (deleted and collected) has nothing to attach to.
      if (cur) this.index.setBlock(l.b, l.u ? { ...cur, ...l.u } : cur);
    }
    else if (l.t === 'd') this.index.markDeleted(l.id);
    else if (l.t === 'i') this.index.setImages(l.r, l.x ?? []);
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
    this.appended += lines.length;
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
      const dirs = [...this.dirtyDirs];
      this.dirtyDirs.clear();
      try {
        // The blobs' renames are durable before any line that names them.
        await Promise.all(dirs.map(syncDir));
        if (text) {
          await this.journal.write(text);
          await this.journal.datasync();
        }
        for (const w of ws) w.resolve();
      } catch (err) {
        for (const w of ws) w.reject(err);
      }
      // Everything applied is now written, so the state can replace the journal; lines arriving meanwhile wait.
      if (!this.buf.length && !this.closed && this.appended > Math.max(this.compactAfterLines, 2 * this.liveRecords())) {
        try {
          await this.compact();
          this.compactions++;
        } catch (err) {
          console.error('fs-store: compaction failed; the journal keeps growing', err);
          this.appended = 0;
        }
      }
    }
    this.writing = false;
  }

  private liveRecords(): number {
    const c = this.index.counts();
    return c.snapshots + c.blockRecords + this.index.images.size;
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
      if (b.length === 32) {
        // A key written by an older version may be readable by others.
        await chmod(path, 0o600).catch(() => undefined);
        return (this.secret ??= new Uint8Array(b));
      }
    } catch {
      // First use: create it below.
    }
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    if (this.secret) return this.secret;
    this.secret = fresh;
    const tmp = `${path}.tmp`;
    // The key that signs block and page tokens: readable by its owner only.
    const fh = await open(tmp, 'w', 0o600);
    await fh.chmod(0o600);
    await fh.writeFile(fresh);
    await fh.datasync();
    await fh.close();
    await rename(tmp, path);
    await syncDir(this.dir);
    return fresh;
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

  updateImages<T>(fn: (all: ReadonlyMap<string, ImageRecord>) => ImageUpdate<T>): Promise<T> {
    return this.decideImages(fn, async (put, remove) => {
      const line: JournalLine = { t: 'i', r: put, ...(remove.length ? { x: remove } : {}) };
      this.apply(line);
      await this.commit([line]);
    });
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
    const sub = dirname(path);
    this.dirtyDirs.add(sub);
    // A subdirectory made for this blob is an entry of blobs/: that directory is fsynced too, or a crash could lose
    // the subdirectory with the blob in it while the journal names the blob.
    if (!this.durableSubdirs.has(sub)) {
      this.dirtyDirs.add(dirname(sub));
      this.durableSubdirs.add(sub);
    }
    this.onDisk.add(digest);
  }

  async putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    for (const it of items) this.pins.set(it.digest, (this.pins.get(it.digest) ?? 0) + 1);
    try {
      // Contents first (in parallel), so a journal line never names a blob that is not on disk.
      await Promise.all(items.map((it) => this.writeBlob(it.digest, it.data)));
      const lines: JournalLine[] = [];
      const out = this.decideEach(items, (block, snapshot, item) => {
        const { id, lastWriteTime, puts, ownBlocks } = snapshot;
        // Small lines: the put's counters only, unless the check changed more of the record.
        const line: JournalLine = onlyCounters(this.index.snapshots.get(item.snapshotId), snapshot)
          ? { t: 'p', b: block, u: { id, lastWriteTime, puts, ownBlocks } }
          : { t: 'b', b: block, s: snapshot };
        this.apply(line);
        lines.push(line);
      });
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

  /** Closes the journal after pending writes; call flush() first to wait for them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lock.release();
    this.index.unsubscribeAll();
    const fh = this.journal;
    void (async () => {
      while (this.writing) await new Promise((r) => setTimeout(r, 5));
      await fh.close().catch(() => undefined);
    })();
  }
}
