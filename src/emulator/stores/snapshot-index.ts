// The in-memory index shared by the memory and filesystem stores: snapshot records, block records per snapshot,
// reference counts per content digest, and change listeners. Content bytes live with each store.
import { acceptedPut, collectableSnapshots, isRejection, type BlockRecord, type ImageRecord, type ImageUpdate, type PutBlockItem, type PutBlockOutcome, type SnapshotRecord, type StoreStats } from '../store.ts';

/** Snapshots, their own blocks and content reference counts; every method is synchronous (one tick = atomic). */
export class SnapshotIndex {
  readonly snapshots = new Map<string, SnapshotRecord>();
  /** Machine images by id (all accounts). */
  readonly images = new Map<string, ImageRecord>();
  /** snapshotId → index → block. */
  readonly blocks = new Map<string, Map<number, BlockRecord>>();
  /** digest → block records (over all snapshots) pointing at it. */
  readonly refs = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  /** @param released called when a digest's count drops to zero (the store may free its bytes). */
  constructor(private readonly released: (digest: string) => void) {}

  /** A copy of one snapshot record. */
  getSnapshot(id: string): SnapshotRecord | undefined {
    const r = this.snapshots.get(id);
    return r && structuredClone(r);
  }

  /** Copies of every snapshot record. */
  listSnapshots(): SnapshotRecord[] {
    return [...this.snapshots.values()].map((r) => structuredClone(r));
  }

  /** A view for SnapshotUpdate callbacks: copies, so a rejected update changes nothing. */
  view(): Map<string, SnapshotRecord> {
    return new Map([...this.snapshots].map(([k, v]) => [k, structuredClone(v)]));
  }

  /** The block record a snapshot wrote itself at an index, if any. */
  ownBlock(snapshotId: string, index: number): BlockRecord | undefined {
    return this.blocks.get(snapshotId)?.get(index);
  }

  /** A copy of the block record, if any. */
  getOwnBlock(snapshotId: string, index: number): BlockRecord | undefined {
    const b = this.ownBlock(snapshotId, index);
    return b && { ...b };
  }

  /** Own block records with fromIndex ≤ index ≤ toIndex, ascending, at most `limit`. */
  listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = Infinity): BlockRecord[] {
    const own = this.blocks.get(snapshotId);
    if (!own) return [];
    return [...own.values()]
      .filter((b) => b.index >= fromIndex && b.index <= toIndex)
      .sort((a, b) => a.index - b.index)
      .slice(0, limit)
      .map((b) => ({ ...b }));
  }

  /** Records a block (moving the reference from the previous content) and the snapshot it changed. */
  setBlock(block: BlockRecord, snapshot: SnapshotRecord): void {
    let own = this.blocks.get(block.snapshotId);
    if (!own) this.blocks.set(block.snapshotId, (own = new Map()));
    const prev = own.get(block.index);
    if (prev?.digest !== block.digest) {
      this.refs.set(block.digest, (this.refs.get(block.digest) ?? 0) + 1);
      if (prev) this.unref(prev.digest);
    }
    own.set(block.index, block);
    this.snapshots.set(snapshot.id, snapshot);
  }

  /** Marks a snapshot deleted and drops every snapshot no live one depends on; false if it was not there. */
  markDeleted(id: string): boolean {
    const rec = this.snapshots.get(id);
    if (!rec || rec.deleted) return false;
    rec.deleted = true;
    for (const gone of collectableSnapshots(this.snapshots)) {
      for (const b of this.blocks.get(gone)?.values() ?? []) this.unref(b.digest);
      this.blocks.delete(gone);
      this.snapshots.delete(gone);
    }
    return true;
  }

  /** Forgets every snapshot and block; every digest is released. */
  clear(): void {
    this.images.clear();
    this.snapshots.clear();
    this.blocks.clear();
    for (const d of [...this.refs.keys()]) {
      this.refs.delete(d);
      this.released(d);
    }
  }

  /** Snapshot, block-record and live-content counts (bytes are the store's to add). */
  counts(): Omit<StoreStats, 'bytes'> {
    let blockRecords = 0;
    for (const m of this.blocks.values()) blockRecords += m.size;
    let blobs = 0;
    for (const n of this.refs.values()) if (n > 0) blobs++;
    return { snapshots: this.snapshots.size, blockRecords, blobs };
  }

  /** Writes image records and removes ids (in one tick). */
  setImages(put: readonly ImageRecord[], remove: readonly string[]): void {
    for (const id of remove) this.images.delete(id);
    for (const r of put) this.images.set(r.id, r);
  }

  /** Calls the listener after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener that something changed. */
  notify(): void {
    for (const l of this.listeners) l();
  }

  /** Drops every listener. */
  unsubscribeAll(): void {
    this.listeners.clear();
  }

  private unref(digest: string): void {
    const n = (this.refs.get(digest) ?? 1) - 1;
    if (n > 0) this.refs.set(digest, n);
    else {
      this.refs.delete(digest);
      this.released(digest);
    }
  }
}

/** The reads the memory and filesystem stores answer alike, from their index (copies, never live records). */
export abstract class IndexedStore {
  protected abstract readonly index: SnapshotIndex;

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.index.getSnapshot(id);
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return this.index.listSnapshots();
  }

  async getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined> {
    return this.index.getOwnBlock(snapshotId, index);
  }

  async listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = Infinity): Promise<BlockRecord[]> {
    return this.index.listOwnBlocks(snapshotId, fromIndex, limit, toIndex);
  }

  subscribe(listener: () => void): () => void {
    return this.index.subscribe(listener);
  }

  async listImages(): Promise<ImageRecord[]> {
    return [...this.index.images.values()].map((r) => structuredClone(r));
  }

  /** Decides an image update on copies; `commit` records the outcome (in this tick) and makes it durable. */
  protected async decideImages<T>(fn: (all: ReadonlyMap<string, ImageRecord>) => ImageUpdate<T>, commit: (put: ImageRecord[], remove: string[]) => Promise<void>): Promise<T> {
    const { put = [], remove = [], result } = fn(new Map([...this.index.images].map(([k, v]) => [k, structuredClone(v)])));
    if (put.length || remove.length) {
      await commit(put.map((r) => structuredClone(r)), remove);
      this.index.notify();
    }
    return result;
  }

  /**
   * Runs each put's check against the index, one after the other; `accept` must record an accepted put in the index
   * before the next check runs. Outcomes are in item order.
   */
  protected decideEach(items: PutBlockItem[], accept: (block: BlockRecord, snapshot: SnapshotRecord, item: PutBlockItem) => void): PutBlockOutcome[] {
    return items.map((item) => {
      const decided = item.check(this.index.getSnapshot(item.snapshotId));
      if (isRejection(decided)) return decided;
      const { block, snapshot } = acceptedPut(item, decided, this.index.ownBlock(item.snapshotId, item.index));
      accept(block, snapshot, item);
      return { rejected: false, block: { ...block } };
    });
  }
}
