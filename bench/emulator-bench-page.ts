// Browser side of bench/emulator.bench.ts: raw IndexedDB batched writes vs PutSnapshotBlock into the IndexedDB store.
import { CompleteSnapshotCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { openDB, deleteDB } from 'idb';
import { IdbStore, EbsModel, createEmulatorClients, type IdbStoreOptions } from '../src/emulator/index.ts';

const BLOCK = 524288;

/** `n` distinct random blocks and their base64 SHA-256. */
async function makeBlocks(n: number): Promise<{ data: Uint8Array; sum: string }[]> {
  const out: { data: Uint8Array; sum: string }[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(BLOCK);
    for (let o = 0; o < BLOCK; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    out.push({ data, sum: btoa(String.fromCharCode(...d)) });
  }
  return out;
}

let blocks: { data: Uint8Array; sum: string }[] = [];

const bench = {
  async prepare(n: number): Promise<void> {
    blocks = await makeBlocks(n);
  },

  /**
   * MiB/s of raw IndexedDB puts of the prepared blocks, `perTx` per readwrite transaction, `queued` transactions open at
   * once (the store batches up to 32 puts and queues 2, so a ceiling of one transaction at a time was beaten by it).
   */
  async ceiling(perTx = 32, queued = 2): Promise<number> {
    const name = `bench-ceiling-${crypto.randomUUID()}`;
    const db = await openDB(name, 1, { upgrade: (d) => void d.createObjectStore('b') });
    const t0 = performance.now();
    const open: Promise<void>[] = [];
    for (let i = 0; i < blocks.length; i += perTx) {
      const tx = db.transaction('b', 'readwrite');
      for (let j = i; j < Math.min(i + perTx, blocks.length); j++) void tx.store.put(blocks[j]!.data.buffer.slice(0), j);
      open.push(tx.done);
      if (open.length >= queued) await open.shift();
    }
    await Promise.all(open);
    const s = (performance.now() - t0) / 1000;
    db.close();
    await deleteDB(name);
    return (blocks.length * BLOCK) / 1048576 / s;
  },

  /** MiB/s of PutSnapshotBlock through @aws-sdk/client-ebs (or the model directly) into the IndexedDB store, Blob bodies. */
  async emulator(concurrency = 16, storeOpts: IdbStoreOptions = {}, mode: 'blob' | 'bytes' | 'direct' = 'blob'): Promise<number> {
    const name = `bench-emulator-${crypto.randomUUID()}`;
    const model = new EbsModel({ store: await IdbStore.open(name, storeOpts), completionDelayMs: 0 });
    const emu = { model, ...createEmulatorClients(model) };
    const volume = Math.max(1, Math.ceil(blocks.length / 2048));
    const { SnapshotId } = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: volume }));
    // Bodies are made before the clock starts: creating a Blob is the client's cost, reading it is the emulator's.
    const bodies = blocks.map((b) => (mode === 'blob' ? new Blob([b.data as BlobPart]) : b.data));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < blocks.length) {
          const i = next++;
          const b = blocks[i]!;
          if (mode === 'direct') await model.putSnapshotBlock({ snapshotId: SnapshotId!, index: i, data: b.data, dataLength: BLOCK, checksum: b.sum, checksumAlgorithm: 'SHA256' });
          else {
            await emu.ebs.send(
              new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: bodies[i], DataLength: BLOCK, Checksum: b.sum, ChecksumAlgorithm: 'SHA256' }),
            );
          }
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    await emu.ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: blocks.length }));
    const stats = await emu.model.store.stats();
    if (stats.blobs !== blocks.length) throw new Error(`expected ${blocks.length} stored blocks, found ${stats.blobs}`);
    emu.model.store.close();
    await IdbStore.destroy(name);
    return (blocks.length * BLOCK) / 1048576 / s;
  },
};

declare global {
  interface Window {
    emulatorBench: typeof bench;
  }
}
window.emulatorBench = bench;
document.getElementById('status')!.textContent = 'ready';
