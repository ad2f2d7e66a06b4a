// Behaviour every EmulatorStore must show, as plain async checks: run by Vitest (memory), Chromium (IndexedDB)
// and usable by any other store (e.g. a filesystem store) with `runStoreContract(() => openMyStore())`.
import { BLOCK_SIZE, type EmulatorStore, type ImageRecord, type PutBlockItem, type SnapshotRecord } from '../store.ts';
import { sha256Base64 } from '../tokens.ts';

/** One named check over a fresh store. */
export interface StoreCheck {
  name: string;
  run: (store: EmulatorStore) => Promise<void>;
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`store contract: ${msg}`);
}

function same(a: unknown, b: unknown, msg: string): void {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  assert(x === y, `${msg}: expected ${y}, got ${x}`);
}

function record(id: string, over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    id,
    ownerId: '111122223333',
    volumeSize: 1,
    parentId: null,
    description: null,
    tags: [],
    encrypted: false,
    kmsKeyArn: null,
    sseType: 'none',
    timeoutMinutes: 60,
    startTime: 0,
    lastWriteTime: null,
    clientToken: null,
    requestFingerprint: null,
    completion: null,
    failure: null,
    deleted: false,
    ownBlocks: 0,
    puts: 0,
    ...over,
  };
}

function block(fill: number): Uint8Array {
  return new Uint8Array(BLOCK_SIZE).fill(fill);
}

async function item(snapshotId: string, index: number, fill: number, check?: PutBlockItem['check']): Promise<PutBlockItem> {
  const data = block(fill);
  return { snapshotId, index, data, digest: await sha256Base64(data), now: 1, check: check ?? ((r) => (r ? { ...r, lastWriteTime: 1 } : { rejected: true, error: new Error('missing') })) };
}

function image(id: string, name: string, over: Partial<ImageRecord> = {}): ImageRecord {
  return {
    id,
    name,
    description: null,
    ownerId: '111122223333',
    creationDate: 1,
    availableAt: 2,
    architecture: 'x86_64',
    bootMode: 'uefi',
    rootDeviceName: '/dev/xvda',
    enaSupport: true,
    imdsSupport: 'v2.0',
    virtualizationType: 'hvm',
    mappings: [{ deviceName: '/dev/xvda', snapshotId: 'snap-1', volumeSize: 1, volumeType: 'gp3', deleteOnTermination: true, encrypted: false }],
    tags: [{ key: 'k', value: 'v' }],
    ...over,
  };
}

async function create(store: EmulatorStore, ...recs: SnapshotRecord[]): Promise<void> {
  await store.updateSnapshots(() => ({ put: recs, result: undefined }));
}

/** The contract, check by check. */
export const storeChecks: StoreCheck[] = [
  {
    name: 'the secret is stable and 32 bytes',
    async run(store) {
      const a = await store.getSecret();
      const b = await store.getSecret();
      assert(a.length === 32, 'secret length');
      same([...a], [...b], 'secret stable');
    },
  },
  {
    name: 'updateSnapshots writes what fn returns, and nothing when fn throws',
    async run(store) {
      await create(store, record('snap-01'));
      same((await store.getSnapshot('snap-01'))?.id, 'snap-01', 'inserted');
      let threw = false;
      try {
        await store.updateSnapshots(() => {
          throw new Error('refused');
        });
      } catch (e) {
        threw = (e as Error).message === 'refused';
      }
      assert(threw, 'the error of fn propagates');
      const n = await store.updateSnapshots((all) => ({ result: all.size }));
      same(n, 1, 'fn sees every record');
      same((await store.listSnapshots()).map((r) => r.id), ['snap-01'], 'listSnapshots');
    },
  },
  {
    name: 'putBlocks: checks run against the current record; rejections write nothing; counters maintained',
    async run(store) {
      await create(store, record('snap-02'));
      const out = await store.putBlocks([
        await item('snap-02', 5, 1),
        await item('snap-02', 5, 1),
        await item('snap-02', 7, 2),
        await item('snap-0404', 1, 3),
        await item('snap-02', 9, 4, () => ({ rejected: true, error: 'no' })),
      ]);
      same(out.map((o) => o.rejected), [false, false, false, true, true], 'outcomes in item order');
      same(out[4]!.rejected && (out[4] as { error: unknown }).error, 'no', 'rejection handed back unchanged');
      const rec = (await store.getSnapshot('snap-02'))!;
      same([rec.puts, rec.ownBlocks, rec.lastWriteTime], [3, 2, 1], 'puts, ownBlocks, check result stored');
      same((await store.getOwnBlock('snap-02', 5))?.puts, 2, 'per-index put count');
      same(await store.getOwnBlock('snap-02', 9), undefined, 'rejected put left no block');
      same((await store.stats()).blobs, 2, 'rejected content not stored');
      const got = await store.readContent((await store.getOwnBlock('snap-02', 7))!.digest);
      assert(got && got.length === BLOCK_SIZE && got[0] === 2 && got[BLOCK_SIZE - 1] === 2, 'content readable');
    },
  },
  {
    name: 'a check sees the writes of earlier items (one atomic step per item)',
    async run(store) {
      await create(store, record('snap-03'));
      // Allow at most two puts: each check reads `puts` as left by the previous item.
      const cap: PutBlockItem['check'] = (r) => (r && r.puts < 2 ? r : { rejected: true, error: 'full' });
      const items = await Promise.all([0, 1, 2, 3].map((i) => item('snap-03', i, 10 + i, cap)));
      const out = (await Promise.all(items.map((it) => store.putBlocks([it])))).flat();
      same(out.filter((o) => !o.rejected).length, 2, 'exactly two accepted under concurrency');
    },
  },
  {
    name: 'listOwnBlocks: ascending, inclusive range, limit',
    async run(store) {
      await create(store, record('snap-05'));
      const idx = [40, 3, 17, 8, 25];
      await store.putBlocks(await Promise.all(idx.map((i) => item('snap-05', i, 7))));
      same((await store.listOwnBlocks('snap-05', 0, 100)).map((b) => b.index), [3, 8, 17, 25, 40], 'all ascending');
      same((await store.listOwnBlocks('snap-05', 8, 2)).map((b) => b.index), [8, 17], 'from inclusive, limit');
      same((await store.listOwnBlocks('snap-05', 4, 100, 25)).map((b) => b.index), [8, 17, 25], 'to inclusive');
      same((await store.listOwnBlocks('snap-050', 0, 100)).length, 0, 'other snapshot ids do not leak in');
      same((await stats(store)).blobs, 1, 'one content for five identical blocks');
    },
  },
  {
    name: 'overwrites move references; deleting frees only unreferenced contents; inherited parents are kept',
    async run(store) {
      await create(store, record('snap-06'), record('snap-07'));
      await store.putBlocks([await item('snap-06', 0, 1), await item('snap-06', 1, 2), await item('snap-07', 0, 1)]);
      await store.putBlocks([await item('snap-06', 1, 3)]);
      same((await stats(store)).blobs, 2, 'overwritten content freed (1 and 3 remain)');
      await create(store, record('snap-08', { parentId: 'snap-06' }));
      await store.putBlocks([await item('snap-08', 5, 4)]);
      assert(await store.deleteSnapshot('snap-06'), 'delete parent');
      assert(!(await store.deleteSnapshot('snap-06')), 'second delete is false');
      assert(!(await store.deleteSnapshot('snap-0999')), 'unknown delete is false');
      same((await store.getSnapshot('snap-06'))?.deleted, true, 'parent hidden, kept for its child');
      same((await stats(store)).blobs, 3, 'inherited contents kept');
      assert(await store.deleteSnapshot('snap-08'), 'delete child');
      same(await store.getSnapshot('snap-06'), undefined, 'hidden parent removed with its last heir');
      const s = await stats(store);
      same([s.blobs, s.bytes, s.blockRecords, s.snapshots], [1, BLOCK_SIZE, 1, 1], 'only snap-07 and its content remain');
    },
  },
  {
    name: 'images are written, replaced and removed atomically; a throwing update writes nothing',
    run: async (store) => {
      let notified = 0;
      const off = store.subscribe(() => notified++);
      const a = image('ami-a', 'first');
      same(await store.updateImages((all) => ({ put: [a, image('ami-b', 'second')], result: all.size })), 0, 'saw none before');
      assert(notified > 0, 'subscribers told about new images');
      off();
      same((await store.listImages()).sort((x, y) => x.id.localeCompare(y.id)), [a, image('ami-b', 'second')], 'both listed whole');
      let threw = false;
      try {
        await store.updateImages(() => {
          throw new Error('refused');
        });
      } catch {
        threw = true;
      }
      assert(threw, 'the error reaches the caller');
      same(await store.updateImages((all) => ({ put: [{ ...all.get('ami-a')!, name: 'renamed' }], remove: ['ami-b'], result: [...all.keys()].sort() })), ['ami-a', 'ami-b'], 'the update saw both');
      same(await store.listImages(), [{ ...a, name: 'renamed' }], 'replaced and removed');
      same(await stats(store), { snapshots: 0, blockRecords: 0, blobs: 0, bytes: 0 }, 'images are not snapshots');
    },
  },
  {
    name: 'clear removes snapshots, blocks and contents but keeps the secret',
    async run(store) {
      const secret = [...(await store.getSecret())];
      await create(store, record('snap-09'));
      await store.putBlocks([await item('snap-09', 0, 1)]);
      await store.updateImages(() => ({ put: [image('ami-c', 'third')], result: undefined }));
      let notified = 0;
      const off = store.subscribe(() => notified++);
      await store.clear();
      off();
      same(await stats(store), { snapshots: 0, blockRecords: 0, blobs: 0, bytes: 0 }, 'empty');
      same([...(await store.getSecret())], secret, 'secret kept');
      same(await store.listImages(), [], 'images cleared');
      assert(notified > 0, 'subscribers told about the change');
    },
  },
];

function stats(store: EmulatorStore) {
  return store.stats();
}

/** Runs every check, each on a fresh store from `open`; returns failures (empty when the store conforms). */
export async function runStoreContract(open: () => Promise<EmulatorStore>): Promise<{ name: string; error: string }[]> {
  const failures: { name: string; error: string }[] = [];
  for (const c of storeChecks) {
    const store = await open();
    try {
      await c.run(store);
    } catch (e) {
      failures.push({ name: c.name, error: (e as Error).stack ?? String(e) });
    } finally {
      store.close();
    }
  }
  return failures;
}
