// IndexedDB store: every state check and its writes share one readwrite transaction, so tabs and workers
// on the same database stay consistent; concurrent puts are combined into few transactions.
import { deleteDB, openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import {
  acceptedPut,
  collectableSnapshots,
  isRejection,
  type BlockRecord,
  type EmulatorStore,
  type ImageRecord,
  type ImageUpdate,
  type PutBlockItem,
  type PutBlockOutcome,
  type SnapshotRecord,
  type SnapshotUpdate,
  type StoreStats,
} from '../store.ts';

interface RefRecord {
  /** Block records (over all snapshots) pointing at this content. */
  refs: number;
  size: number;
}

interface EmulatorDb extends DBSchema {
  meta: { key: string; value: Uint8Array };
  snapshots: { key: string; value: SnapshotRecord };
  blocks: { key: [string, number]; value: BlockRecord };
  contents: { key: string; value: ArrayBuffer };
  refs: { key: string; value: RefRecord };
  images: { key: string; value: ImageRecord };
}

type Db = IDBPDatabase<EmulatorDb>;
type WriteTx = IDBPTransaction<EmulatorDb, ('snapshots' | 'blocks' | 'contents' | 'refs')[], 'readwrite'>;

/** Options of the IndexedDB store. */
export interface IdbStoreOptions {
  /** Transaction durability hint ('default' lets the browser decide; 'strict' flushes to disk before `complete`). */
  durability?: 'default' | 'strict' | 'relaxed';
  /** Most puts combined into one transaction. */
  maxBatch?: number;
  /** Write transactions queued at once (the next one is ready to run as soon as the previous commits). */
  maxInflight?: number;
}

interface Queued {
  item: PutBlockItem;
  resolve: (o: PutBlockOutcome) => void;
  reject: (e: unknown) => void;
}

const ALL: ('snapshots' | 'blocks' | 'contents' | 'refs')[] = ['snapshots', 'blocks', 'contents', 'refs'];
const MAX_INDEX = Number.MAX_SAFE_INTEGER;

/** The schema's version: 1 held snapshots and blocks; 2 adds machine images. */
export const IDB_STORE_VERSION = 2;

/** The emulator's state in one IndexedDB database. */
export class IdbStore implements EmulatorStore {
  readonly kind = 'indexeddb';
  private secret?: Promise<Uint8Array>;
  private queue: Queued[] = [];
  private inflight = 0;
  private scheduled = false;
  private listeners = new Set<() => void>();
  private channel?: BroadcastChannel;

  private constructor(
    private readonly db: Db,
    readonly name: string,
    private readonly opts: Required<IdbStoreOptions>,
  ) {
    if (typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(`blockport-emulator:${name}`);
      this.channel.onmessage = () => this.emit();
    }
  }

  /** Opens (creating if needed) the database `name`. */
  static async open(name = 'blockport-emulator', opts: IdbStoreOptions = {}): Promise<IdbStore> {
    const db = await openDB<EmulatorDb>(name, IDB_STORE_VERSION, {
      // A database made by an older version keeps its snapshots and blocks and gains what it lacks.
      upgrade(d, oldVersion) {
        if (oldVersion < 1) {
          d.createObjectStore('meta');
          d.createObjectStore('snapshots', { keyPath: 'id' });
          d.createObjectStore('blocks', { keyPath: ['snapshotId', 'index'] });
          d.createObjectStore('contents');
          d.createObjectStore('refs');
        }
        if (oldVersion < 2) d.createObjectStore('images', { keyPath: 'id' });
      },
      blocking() {
        db.close();
      },
    });
    return new IdbStore(db, name, {
      durability: opts.durability ?? 'default',
      maxBatch: opts.maxBatch ?? 32,
      maxInflight: opts.maxInflight ?? 2,
    });
  }

  private writeTx(): WriteTx {
    return this.db.transaction(ALL, 'readwrite', { durability: this.opts.durability });
  }

  getSecret(): Promise<Uint8Array> {
    this.secret ??= (async () => {
      const tx = this.db.transaction('meta', 'readwrite', { durability: this.opts.durability });
      let s = await tx.store.get('secret');
      if (!s) {
        s = crypto.getRandomValues(new Uint8Array(32));
        await tx.store.put(s, 'secret');
      }
      await tx.done;
      return s;
    })();
    return this.secret;
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.db.get('snapshots', id);
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return this.db.getAll('snapshots');
  }

  updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T> {
    return this.updateRecords('snapshots', fn);
  }

  async listImages(): Promise<ImageRecord[]> {
    return this.db.getAll('images');
  }

  updateImages<T>(fn: (all: ReadonlyMap<string, ImageRecord>) => ImageUpdate<T>): Promise<T> {
    return this.updateRecords('images', fn);
  }

  /** Reads every record of a store, lets `fn` decide, and writes its puts and removals in the same transaction. */
  private async updateRecords<N extends 'snapshots' | 'images', T>(
    name: N,
    fn: (all: ReadonlyMap<string, EmulatorDb[N]['value']>) => { put?: EmulatorDb[N]['value'][]; remove?: string[]; result: T },
  ): Promise<T> {
    const tx = this.db.transaction(name, 'readwrite', { durability: this.opts.durability });
    const done = tx.done.catch(() => undefined);
    const all = new Map((await tx.store.getAll()).map((r) => [r.id, r]));
    let update: ReturnType<typeof fn>;
    try {
      update = fn(all);
    } catch (err) {
      tx.abort();
      await done;
      throw err;
    }
    for (const id of update.remove ?? []) void tx.store.delete(id);
    for (const r of update.put ?? []) void tx.store.put(r);
    await tx.done;
    if (update.put?.length || update.remove?.length) this.changed();
    return update.result;
  }


  putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    const promises = items.map(
      (item) => new Promise<PutBlockOutcome>((resolve, reject) => this.queue.push({ item, resolve, reject })),
    );
    this.schedule();
    return Promise.all(promises);
  }

  private schedule(): void {
    if (this.scheduled || !this.queue.length || this.inflight >= this.opts.maxInflight) return;
    this.scheduled = true;
    // One microtask lets puts issued in the same tick join the same transaction.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.queue.length && this.inflight < this.opts.maxInflight) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inflight++;
      // IndexedDB runs overlapping readwrite transactions in creation order, so the next batch reads this one's writes.
      this.writeBatch(batch.map((q) => q.item))
        .then(
          (outcomes) => {
            batch.forEach((q, i) => q.resolve(outcomes[i]!));
            if (outcomes.some((o) => !o.rejected)) this.changed();
          },
          (err: unknown) => {
            for (const q of batch) q.reject(err);
          },
        )
        .finally(() => {
          this.inflight--;
          this.schedule();
        });
    }
  }

  /** One transaction: checks and writes for every item in order, answered after `complete`. */
  private async writeBatch(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    const tx = this.writeTx();
    const done = tx.done;
    done.catch(() => undefined);
    const snaps = tx.objectStore('snapshots');
    const blocks = tx.objectStore('blocks');
    const refs = tx.objectStore('refs');
    const contents = tx.objectStore('contents');
    const snapIds = [...new Set(items.map((i) => i.snapshotId))];
    const blockKeys = [...new Set(items.map((i) => `${i.snapshotId}\u0000${i.index}`))];
    const digests = new Set(items.map((i) => i.digest));
    // Issue every read at once; the transaction stays active while IDB requests are pending.
    const digestList = [...digests];
    const [snapRecs, blockRecs, refRecs] = await Promise.all([
      Promise.all(snapIds.map((id) => snaps.get(id))),
      Promise.all(blockKeys.map((k) => blocks.get(splitKey(k)))),
      Promise.all(digestList.map((d) => refs.get(d))),
    ]);
    const snapCache = new Map<string, SnapshotRecord | undefined>(snapIds.map((id, i) => [id, snapRecs[i]]));
    const blockCache = new Map<string, BlockRecord | undefined>(blockKeys.map((k, i) => [k, blockRecs[i]]));
    const refCache = new Map<string, RefRecord | undefined>(digestList.map((d, i) => [d, refRecs[i]]));
    // Overwritten contents need their counts too: a second read round only when a put replaces a block.
    const older = [...new Set(blockRecs.flatMap((b) => (b && !refCache.has(b.digest) ? [b.digest] : [])))];
    if (older.length) {
      const olderRecs = await Promise.all(older.map((d) => refs.get(d)));
      older.forEach((d, i) => refCache.set(d, olderRecs[i]));
    }
    const dirtyRefs = new Set<string>();
    const dirtySnaps = new Set<string>();
    const out: PutBlockOutcome[] = [];
    for (const item of items) {
      const current = snapCache.get(item.snapshotId);
      let decided: SnapshotRecord | { rejected: true; error: unknown };
      try {
        decided = item.check(current && structuredClone(current));
      } catch (error) {
        decided = { rejected: true, error };
      }
      if (isRejection(decided)) {
        out.push(decided);
        continue;
      }
      const key = `${item.snapshotId}\u0000${item.index}`;
      const prev = blockCache.get(key);
      if (prev?.digest !== item.digest) {
        const r = refCache.get(item.digest);
        if (r) r.refs++;
        else {
          refCache.set(item.digest, { refs: 1, size: item.data.length });
          void contents.put(exactBuffer(item.data), item.digest);
        }
        dirtyRefs.add(item.digest);
        if (prev) {
          const pr = refCache.get(prev.digest);
          if (pr) {
            pr.refs--;
            dirtyRefs.add(prev.digest);
          }
        }
      }
      const { block, snapshot } = acceptedPut(item, decided, prev);
      blockCache.set(key, block);
      void blocks.put(block);
      snapCache.set(item.snapshotId, snapshot);
      dirtySnaps.add(item.snapshotId);
      out.push({ rejected: false, block: { ...block } });
    }
    for (const d of dirtyRefs) {
      const r = refCache.get(d)!;
      if (r.refs > 0) void refs.put(r, d);
      else {
        void refs.delete(d);
        void contents.delete(d);
      }
    }
    for (const id of dirtySnaps) void snaps.put(snapCache.get(id)!);
    await done;
    return out;
  }

  async getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined> {
    return this.db.get('blocks', [snapshotId, index]);
  }

  async listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = MAX_INDEX): Promise<BlockRecord[]> {
    if (toIndex < fromIndex || limit <= 0) return [];
    const range = IDBKeyRange.bound([snapshotId, fromIndex], [snapshotId, Math.min(toIndex, MAX_INDEX)]);
    return this.db.getAll('blocks', range, limit >= 2 ** 32 - 1 ? undefined : limit);
  }

  async readContent(digest: string): Promise<Uint8Array | undefined> {
    const buf = await this.db.get('contents', digest);
    return buf ? new Uint8Array(buf) : undefined;
  }

  async readEffectiveBlock(lineage: string[], index: number): Promise<{ block: BlockRecord; data: Uint8Array | undefined } | undefined> {
    // One transaction for the block records and the content: a read of a block costs one less transaction.
    const tx = this.db.transaction(['blocks', 'contents'], 'readonly');
    const blocks = tx.objectStore('blocks');
    const recs = await Promise.all(lineage.map((id) => blocks.get([id, index])));
    const block = recs.find((b) => b !== undefined);
    if (!block) return undefined;
    const buf = await tx.objectStore('contents').get(block.digest);
    return { block, data: buf ? new Uint8Array(buf) : undefined };
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    const tx = this.writeTx();
    const done = tx.done;
    done.catch(() => undefined);
    const snaps = tx.objectStore('snapshots');
    const all = new Map((await snaps.getAll()).map((r) => [r.id, r]));
    const rec = all.get(id);
    if (!rec || rec.deleted) {
      await done;
      return false;
    }
    rec.deleted = true;
    void snaps.put(rec);
    const blocks = tx.objectStore('blocks');
    const refs = tx.objectStore('refs');
    const contents = tx.objectStore('contents');
    const counts = new Map<string, number>();
    for (const gone of collectableSnapshots(all)) {
      const range = IDBKeyRange.bound([gone, 0], [gone, MAX_INDEX]);
      for (const b of await blocks.getAll(range)) counts.set(b.digest, (counts.get(b.digest) ?? 0) + 1);
      void blocks.delete(range);
      void snaps.delete(gone);
    }
    const digests = [...counts.keys()];
    const recs = await Promise.all(digests.map((d) => refs.get(d)));
    digests.forEach((d, i) => {
      const r = recs[i];
      if (!r) return;
      r.refs -= counts.get(d)!;
      if (r.refs > 0) void refs.put(r, d);
      else {
        void refs.delete(d);
        void contents.delete(d);
      }
    });
    await done;
    this.changed();
    return true;
  }

  async stats(): Promise<StoreStats> {
    const tx = this.db.transaction(['snapshots', 'blocks', 'refs'], 'readonly');
    const [snapshots, blockRecords, refs] = await Promise.all([
      tx.objectStore('snapshots').count(),
      tx.objectStore('blocks').count(),
      tx.objectStore('refs').getAll(),
    ]);
    await tx.done;
    return { snapshots, blockRecords, blobs: refs.length, bytes: refs.reduce((n, r) => n + r.size, 0) };
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction([...ALL, 'images'], 'readwrite', { durability: this.opts.durability });
    await Promise.all([...ALL, 'images' as const].map((s) => tx.objectStore(s).clear()));
    await tx.done;
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.channel?.close();
    this.listeners.clear();
    this.db.close();
  }

  /** Deletes a whole emulator database (tests, "reset everything"). */
  static async destroy(name: string): Promise<void> {
    await deleteDB(name);
  }

  private changed(): void {
    this.channel?.postMessage('changed');
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

function splitKey(k: string): [string, number] {
  const at = k.indexOf('\u0000');
  return [k.slice(0, at), Number(k.slice(at + 1))];
}

/** An ArrayBuffer holding exactly these bytes (structured clone of a view would copy its whole buffer). */
function exactBuffer(data: Uint8Array): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data.buffer;
  return data.slice().buffer as ArrayBuffer;
}
