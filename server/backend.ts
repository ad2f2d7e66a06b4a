// Binds the shared emulator model and its wire code (the same as in the browser) to the server pipeline.
// One model per account, all over one store: snapshots carry their owner, so accounts see and write only their own.

import { EbsModel, type EbsOperation, type InjectedFault } from '../src/emulator/model.ts';
import { handleEbsRequest } from '../src/emulator/ebs-wire.ts';
import { handleEc2Request } from '../src/emulator/ec2-wire.ts';
import { imagesOf } from '../src/emulator/images.ts';
import { MemoryStore } from '../src/emulator/stores/memory-store.ts';
import { FsStore } from '../src/emulator/stores/fs-store.ts';
import type { EmulatorStore } from '../src/emulator/store.ts';
import type { EmulatorBackend, ModelSettings } from './app.ts';

/** The account of the default key pair and of Cognito-issued credentials (the model's default owner). */
export const DEFAULT_ACCOUNT = '111122223333';

/** Models over a filesystem store in `dataDir`, or over memory when it is undefined. */
export async function createBackend(opts: { dataDir?: string } & ModelSettings): Promise<EmulatorBackend> {
  const { dataDir, ...initial } = opts;
  const store: EmulatorStore = dataDir ? await FsStore.open(dataDir) : new MemoryStore();
  let offsetMs = 0;
  // A frozen clock moves only when told (POST /__admin/clock), as scenarios with exact per-second quotas need.
  let frozenAt: number | undefined;
  const now = (): number => (frozenAt ?? Date.now()) + offsetMs;
  const settings: ModelSettings = { ...initial };
  let models = new Map<string, EbsModel>();
  const model = (account = DEFAULT_ACCOUNT): EbsModel => {
    let m = models.get(account);
    if (!m) {
      m = new EbsModel({ store, clock: now, ...settings, accountId: account });
      models.set(account, m);
    }
    return m;
  };
  model();
  return {
    storeKind: store.kind,
    ebs: (req, account) => handleEbsRequest(model(account), req),
    ec2: (req, account) => handleEc2Request(model(account), req),
    configure: (patch) => {
      Object.assign(settings, patch);
      for (const m of models.values()) Object.assign(m.config, patch);
    },
    snapshotTags: async (id, account) => (id.startsWith('ami-') ? (await imagesOf(model(account)).get(id))?.tags : (await model(account).describeSnapshot(id))?.tags),
    failNext: (op, fault, account) => model(account).failNext(op as EbsOperation, fault as InjectedFault),
    advanceClock: (ms, freeze) => {
      if (freeze === true && frozenAt === undefined) frozenAt = Date.now();
      if (freeze === false && frozenAt !== undefined) {
        offsetMs += frozenAt - Date.now();
        frozenAt = undefined;
      }
      offsetMs += ms;
      return { offsetMs, frozen: frozenAt !== undefined, now: now() };
    },
    reset: async () => {
      offsetMs = 0;
      frozenAt = undefined;
      // Fresh models also forget queued faults and quota counters.
      models = new Map();
      await model().reset();
    },
    dump: async () => ({ ...(await model().dump()), clockOffsetMs: offsetMs, stats: await store.stats() }),
    close: async () => {
      if (store instanceof FsStore) await store.flush();
      store.close();
    },
  };
}
