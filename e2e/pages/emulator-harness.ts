// Browser harness for the emulator specs: runs the shared conformance scenarios and multi-tab checks on IndexedDB.
import { ListSnapshotBlocksCommand, GetSnapshotBlockCommand, StartSnapshotCommand, PutSnapshotBlockCommand, CompleteSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DescribeImagesCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { openDB } from 'idb';
import type { SnapshotRecord } from '../../src/emulator/store.ts';
import { runScenarios, makeBlock, checksumOf, type ScenarioResult } from '../../src/emulator/testing/conformance/index.ts';
import { openBrowserEmulator, IdbStore, EbsModel, createEmulatorClients, type Emulator } from '../../src/emulator/index.ts';
import { runStoreContract } from '../../src/emulator/testing/store-contract.ts';

let shared: Emulator | undefined;

const harness = {
  /** Every conformance scenario, each on a fresh IndexedDB database with its own clock. */
  async runConformance(filter?: string): Promise<ScenarioResult[]> {
    return runScenarios(
      async (name) => {
        if (shared) shared.model.store.close();
        const db = `conformance-${crypto.randomUUID()}`;
        let now = Date.now();
        shared = await openBrowserEmulator(db, { clock: () => now, completionDelayMs: 3000 });
        const emu = shared;
        void name;
        return {
          ebs: emu.ebs,
          ec2: emu.ec2,
          completionDelayMs: 3000,
          advanceTime: (ms: number) => {
            now += ms;
          },
          configure: (patch) => {
            Object.assign(emu.model.config, patch);
          },
          stats: () => emu.model.store.stats(),
          failNext: (op, fault) => emu.model.failNext(op as never, fault),
          otherAccount: async () => createEmulatorClients(new EbsModel({ store: await IdbStore.open(db), clock: () => now, accountId: '444455556666' })),
        };
      },
      filter ? (s) => s.name.includes(filter) : undefined,
    );
  },

  /** The store contract on fresh IndexedDB databases; returns failures. */
  async runStoreContract(): Promise<{ name: string; error: string }[]> {
    const names: string[] = [];
    const failures = await runStoreContract(() => {
      names.push(`contract-${crypto.randomUUID()}`);
      return IdbStore.open(names.at(-1)!);
    });
    for (const n of names) await IdbStore.destroy(n);
    return failures;
  },

  /** Opens (or reopens) a named database for the multi-tab and reload checks. */
  async open(db: string, maxPendingSnapshots = 100): Promise<void> {
    shared?.model.store.close();
    shared = await openBrowserEmulator(db, { completionDelayMs: 0, maxPendingSnapshots });
  },

  async start(clientToken?: string, parentId?: string, description?: string): Promise<string> {
    const out = await shared!.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: clientToken, ParentSnapshotId: parentId, Description: description }));
    return out.SnapshotId!;
  },

  async deleteSnapshot(id: string): Promise<void> {
    await shared!.ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
  },

  /** Starts `n` snapshots at once; returns how many were accepted and the error names of the rest. */
  async startMany(n: number): Promise<{ ok: number; errors: string[] }> {
    const res = await Promise.allSettled(Array.from({ length: n }, () => shared!.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))));
    return { ok: res.filter((r) => r.status === 'fulfilled').length, errors: res.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).name] : [])) };
  },

  /** Puts blocks `indices` with content seeds `seedBase + index`, `concurrency` at a time, Blob bodies. */
  async putMany(id: string, indices: number[], seedBase: number, concurrency = 8): Promise<number> {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < indices.length) {
        const i = indices[next++]!;
        const data = makeBlock(seedBase + i);
        await shared!.ebs.send(
          new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: i, BlockData: new Blob([data as BlobPart]), DataLength: data.length, Checksum: await checksumOf(data), ChecksumAlgorithm: 'SHA256' }),
        );
        done++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return done;
  },

  async complete(id: string, count: number): Promise<string> {
    return (await shared!.ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: count }))).Status!;
  },

  /** Every listed block with the seed its content matches (among `seedBases`), or -1. */
  async readAll(id: string, seedBases: number[]): Promise<{ index: number; base: number }[]> {
    const out: { index: number; base: number }[] = [];
    let next: string | undefined;
    do {
      const page = await shared!.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, NextToken: next, MaxResults: 100 }));
      for (const b of page.Blocks ?? []) {
        const got = await shared!.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: b.BlockIndex, BlockToken: b.BlockToken }));
        const sum = await checksumOf(await got.BlockData!.transformToByteArray());
        let base = -1;
        for (const s of seedBases) if ((await checksumOf(makeBlock(s + b.BlockIndex!))) === sum) base = s;
        out.push({ index: b.BlockIndex!, base });
      }
      next = page.NextToken ?? undefined;
    } while (next);
    return out;
  },

  /** RegisterImage over one completed snapshot; the image id. */
  async registerImage(snapshotId: string, name: string): Promise<string> {
    const out = await shared!.ec2.send(
      new RegisterImageCommand({
        Name: name,
        Architecture: 'x86_64',
        BootMode: 'uefi-preferred',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3' } }],
      }),
    );
    return out.ImageId!;
  },

  /** This account's images as DescribeImages answers. */
  async describeImages(): Promise<{ id: string; name: string; state: string; architecture: string; bootMode: string; snapshotId: string }[]> {
    const out = await shared!.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    return (out.Images ?? []).map((i) => ({
      id: i.ImageId!,
      name: i.Name!,
      state: i.State!,
      architecture: i.Architecture!,
      bootMode: i.BootMode!,
      snapshotId: i.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '',
    }));
  },

  /** Writes a database as the first schema version made it (no image store), holding one completed snapshot. */
  async makeVersion1(db: string, snapshotId: string): Promise<void> {
    const v1 = await openDB(db, 1, {
      upgrade(d) {
        d.createObjectStore('meta');
        d.createObjectStore('snapshots', { keyPath: 'id' });
        d.createObjectStore('blocks', { keyPath: ['snapshotId', 'index'] });
        d.createObjectStore('contents');
        d.createObjectStore('refs');
      },
    });
    const rec: SnapshotRecord = {
      id: snapshotId,
      ownerId: shared?.model.config.accountId ?? '111122223333',
      volumeSize: 1,
      parentId: null,
      description: 'written by version 1',
      tags: [],
      encrypted: false,
      kmsKeyArn: null,
      sseType: 'none',
      timeoutMinutes: 60,
      startTime: Date.now() - 60_000,
      lastWriteTime: null,
      clientToken: null,
      requestFingerprint: null,
      completion: { requestedAt: Date.now() - 30_000, dueAt: Date.now() - 30_000, verdict: 'completed', message: null },
      failure: null,
      deleted: false,
      ownBlocks: 0,
      puts: 0,
    };
    await v1.put('snapshots', rec);
    v1.close();
  },

  async putCounts(id: string): Promise<Record<string, number>> {
    return shared!.model.putCounts(id);
  },

  async stats() {
    return shared!.model.store.stats();
  },

  async close(): Promise<void> {
    shared?.model.store.close();
    shared = undefined;
  },

  async destroy(db: string): Promise<void> {
    shared?.model.store.close();
    shared = undefined;
    await IdbStore.destroy(db);
  },
};

declare global {
  interface Window {
    emulatorHarness: typeof harness;
  }
}

window.emulatorHarness = harness;
document.getElementById('status')!.textContent = 'ready';
