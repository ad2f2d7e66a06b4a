// In-memory store: single-threaded JavaScript makes every synchronous section atomic.
import {
  collectableSnapshots,
  isRejection,
  type BlockRecord,
  type EmulatorStore,
  type PutBlockItem,
  type PutBlockOutcome,
  type SnapshotRecord,
  type SnapshotUpdate,
  type StoreStats,
} from '../store.ts';

/** A store that lives in this JavaScript realm only (tests, Node, throwaway sessions). */
export class MemoryStore implements EmulatorStore {
  readonly kind = 'memory';
  private secret?: Uint8Array;
  private snapshots = new Map<string, SnapshotRecord>();
  /** snapshotId → index → block. */
  private blocks = new Map<string, Map<number, BlockRecord>>();
  private contents = new Map<string, { data: Uint8Array; refs: number }>();
  private listeners = new Set<() => void>();

  async getSecret(): Promise<Uint8Array> {
    this.secret ??= crypto.getRandomValues(new Uint8Array(32));
    return this.secret;
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    const r = this.snapshots.get(id);
    return r && structuredClone(r);
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return [...this.snapshots.values()].map((r) => structuredClone(r));
  }

  async updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T> {
    const view = new Map([...this.snapshots].map(([k, v]) => [k, structuredClone(v)]));
    const { put, result } = fn(view);
    for (const r of put ?? []) this.snapshots.set(r.id, structuredClone(r));
    if (put?.length) this.notify();
    return result;
  }

  async putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    const out: PutBlockOutcome[] = [];
    for (const item of items) {
      const current = this.snapshots.get(item.snapshotId);
      const decided = item.check(current && structuredClone(current));
      if (isRejection(decided)) {
        out.push(decided);
        continue;
      }
      let own = this.blocks.get(item.snapshotId);
      if (!own) this.blocks.set(item.snapshotId, (own = new Map()));
      const prev = own.get(item.index);
      if (prev?.digest !== item.digest) {
        this.ref(item.digest, item.data);
        if (prev) this.unref(prev.digest);
      }
      const block: BlockRecord = { snapshotId: item.snapshotId, index: item.index, digest: item.digest, puts: (prev?.puts ?? 0) + 1, writtenAt: item.now };
      own.set(item.index, block);
      this.snapshots.set(item.snapshotId, { ...decided, puts: decided.puts + 1, ownBlocks: decided.ownBlocks + (prev ? 0 : 1) });
      out.push({ rejected: false, block: { ...block } });
    }
    if (out.some((o) => !o.rejected)) this.notify();
    return out;
  }

  private ref(digest: string, data: Uint8Array): void {
    const c = this.contents.get(digest);
    if (c) c.refs++;
    else this.contents.set(digest, { data: data.slice(), refs: 1 });
  }

  private unref(digest: string): void {
    const c = this.contents.get(digest);
    if (c && --c.refs <= 0) this.contents.delete(digest);
  }

  async getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined> {
    const b = this.blocks.get(snapshotId)?.get(index);
    return b && { ...b };
  }

  async listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = Infinity): Promise<BlockRecord[]> {
    const own = this.blocks.get(snapshotId);
    if (!own) return [];
    return [...own.values()]
      .filter((b) => b.index >= fromIndex && b.index <= toIndex)
      .sort((a, b) => a.index - b.index)
      .slice(0, limit)
      .map((b) => ({ ...b }));
  }

  async readContent(digest: string): Promise<Uint8Array | undefined> {
    return this.contents.get(digest)?.data.slice();
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    const rec = this.snapshots.get(id);
    if (!rec || rec.deleted) return false;
    rec.deleted = true;
    for (const gone of collectableSnapshots(this.snapshots)) {
      for (const b of this.blocks.get(gone)?.values() ?? []) this.unref(b.digest);
      this.blocks.delete(gone);
      this.snapshots.delete(gone);
    }
    this.notify();
    return true;
  }

  async stats(): Promise<StoreStats> {
    let blockRecords = 0;
    for (const m of this.blocks.values()) blockRecords += m.size;
    let bytes = 0;
    for (const c of this.contents.values()) bytes += c.data.length;
    return { snapshots: this.snapshots.size, blockRecords, blobs: this.contents.size, bytes };
  }

  async clear(): Promise<void> {
    this.snapshots.clear();
    this.blocks.clear();
    this.contents.clear();
    this.notify();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
