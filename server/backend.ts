// Binds the shared emulator model and its wire code (the same as in the browser) to the server pipeline.

import { EbsModel } from '../src/emulator/model.ts';
import { handleEbsRequest } from '../src/emulator/ebs-wire.ts';
import { handleEc2Request } from '../src/emulator/ec2-wire.ts';
import { MemoryStore } from '../src/emulator/stores/memory-store.ts';
import { FsStore } from '../src/emulator/stores/fs-store.ts';
import type { EmulatorStore } from '../src/emulator/store.ts';
import type { EmulatorBackend, ModelSettings } from './app.ts';

/** A model over a filesystem store in `dataDir`, or over memory when it is undefined. */
export async function createBackend(opts: { dataDir?: string } & ModelSettings): Promise<EmulatorBackend> {
  const { dataDir, ...settings } = opts;
  const store: EmulatorStore = dataDir ? await FsStore.open(dataDir) : new MemoryStore();
  let offsetMs = 0;
  const model = new EbsModel({ store, clock: () => Date.now() + offsetMs, ...settings });
  return {
    storeKind: store.kind,
    ebs: (req) => handleEbsRequest(model, req),
    ec2: (req) => handleEc2Request(model, req),
    configure: (patch) => {
      Object.assign(model.config, patch);
    },
    advanceClock: (ms) => (offsetMs += ms),
    reset: async () => {
      offsetMs = 0;
      await model.reset();
    },
    dump: async () => ({ ...(await model.dump()), clockOffsetMs: offsetMs, stats: await store.stats() }),
    close: async () => {
      if (store instanceof FsStore) await store.flush();
      store.close();
    },
  };
}
