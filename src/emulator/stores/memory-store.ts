// In-memory store: single-threaded JavaScript makes every synchronous section atomic.
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

/** A store that lives in this JavaScript realm only (tests, Node, throwaway sessions). */
export class MemoryStore implements EmulatorStore {
  readonly kind = 'memory';
  private secret?: Uint8Array;
  private contents = new Map<string, Uint8Array>();
  private index = new SnapshotIndex((digest) => this.contents.delete(digest));

  async getSecret(): Promise<Uint8Array> {
    this.secret ??= crypto.getRandomValues(new Uint8Array(32));
    return this.secret;
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.index.getSnapshot(id);
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return this.index.listSnapshots();
  }

  async updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T> {
    const { put, result } = fn(this.index.view());
    for (const r of put ?? []) this.index.snapshots.set(r.id, structuredClone(r));
    if (put?.length) this.index.notify();
    return result;
  }

  async putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]> {
    const out: PutBlockOutcome[] = [];
    for (const item of items) {
      const decided = item.check(this.index.getSnapshot(item.snapshotId));
      if (isRejection(decided)) {
        out.push(decided);
        continue;
      }
      const { block, snapshot } = acceptedPut(item, decided, this.index.ownBlock(item.snapshotId, item.index));
      if (!this.contents.has(item.digest)) this.contents.set(item.digest, item.data.slice());
      this.index.setBlock(block, snapshot);
      out.push({ rejected: false, block: { ...block } });
    }
    if (out.some((o) => !o.rejected)) this.index.notify();
    return out;
  }

  async getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined> {
    return this.index.getOwnBlock(snapshotId, index);
  }

  async listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex = Infinity): Promise<BlockRecord[]> {
    return this.index.listOwnBlocks(snapshotId, fromIndex, limit, toIndex);
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

  subscribe(listener: () => void): () => void {
    return this.index.subscribe(listener);
  }

  close(): void {
    this.index.unsubscribeAll();
  }
}
