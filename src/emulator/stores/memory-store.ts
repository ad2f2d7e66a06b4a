// In-memory store: single-threaded JavaScript makes every synchronous section atomic.
import type { EmulatorStore, ImageRecord, ImageUpdate, PutBlockItem, PutBlockOutcome, SnapshotRecord, SnapshotUpdate, StoreStats } from '../store.ts';
import { IndexedStore, SnapshotIndex } from './snapshot-index.ts';

/** A store that lives in this JavaScript realm only (tests, Node, throwaway sessions). */
export class MemoryStore extends IndexedStore implements EmulatorStore {
  readonly kind = 'memory';
  private secret?: Uint8Array;
  private contents = new Map<string, Uint8Array>();
  protected readonly index = new SnapshotIndex((digest) => this.contents.delete(digest));

  async getSecret(): Promise<Uint8Array> {
    this.secret ??= crypto.getRandomValues(new Uint8Array(32));
    return this.secret;
  }

  async updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T> {
    const { put, result } = fn(this.index.view());
    for (const r of put ?? []) this.index.snapshots.set(r.id, structuredClone(r));
    if (put?.length) this.index.notify();
    return result;
  }

  updateImages<T>(fn: (all: ReadonlyMap<string, ImageRecord>) => ImageUpdate<T>): Promise<T> {
    return this.decideImages(fn, async (put, remove) => this.index.setImages(put, remove));
  }

  async putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    const out = this.decideEach(items, (block, snapshot, item) => {
      if (!this.contents.has(item.digest)) this.contents.set(item.digest, item.data.slice());
      this.index.setBlock(block, snapshot);
    });
    if (out.some((o) => !o.rejected)) this.index.notify();
    return out;
  }

  async readContent(digest: string): Promise<Uint8Array | undefined> {
    return this.contents.get(digest)?.slice();
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    if (!this.index.markDeleted(id)) return false;
    this.index.notify();
    return true;
  }

  async stats(): Promise<StoreStats> {
    let bytes = 0;
    for (const c of this.contents.values()) bytes += c.length;
    return { ...this.index.counts(), bytes };
  }

  async clear(): Promise<void> {
    this.index.clear();
    this.contents.clear();
    this.index.notify();
  }

  close(): void {
    this.index.unsubscribeAll();
  }
}
