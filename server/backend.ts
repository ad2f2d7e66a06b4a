// Binds the shared emulator model and its wire code (the same as in the browser) to the server pipeline.

import { EbsModel } from '../src/emulator/model.ts';
import { handleEbsRequest } from '../src/emulator/ebs-wire.ts';
import { handleEc2Request } from '../src/emulator/ec2-wire.ts';
import { MemoryStore } from '../src/emulator/stores/memory-store.ts';
import { FsStore } from '../src/emulator/stores/fs-store.ts';
import type { EmulatorStore } from '../src/emulator/store.ts';
import type { EmulatorBackend } from './app.ts';

/** A model over a filesystem store in `dataDir`, or over memory when it is undefined. */
export async function createBackend(opts: { dataDir?: string; completionDelayMs: number }): Promise<EmulatorBackend> {
  const store: EmulatorStore = opts.dataDir ? await FsStore.open(opts.dataDir) : new MemoryStore();
  const model = new EbsModel({ store, completionDelayMs: opts.completionDelayMs });
  return {
    storeKind: store.kind,
    ebs: (req) => handleEbsRequest(model, req),
    ec2: (req) => handleEc2Request(model, req),
    setCompletionDelay: (ms) => {
      model.config.completionDelayMs = ms;
    },
    reset: () => model.reset(),
    dump: () => model.dump(),
    close: async () => {
      if (store instanceof FsStore) await store.flush();
      store.close();
    },
  };
}
