// The page's side of reading how a snapshot boots: the call runs in a worker behind the bridge, which lends it the
// person's credentials for the call; the worker ends when idle.
import { transfer, type Remote } from 'comlink';
import type { Connection } from '../../aws/clients.ts';
import type { BootJobApi, SnapshotBoot } from './boot-job.ts';
import { comlinkWorker, WorkerBridge } from './worker-bridge.ts';

// Long enough for the next Create AMI in the Library to find the worker loaded; short enough not to hold it for nothing.
const IDLE_MS = 30_000;
let bridge: WorkerBridge<Remote<BootJobApi>> | undefined;

function bootBridge(): WorkerBridge<Remote<BootJobApi>> {
  return (bridge ??= new WorkerBridge({
    spawn: () => comlinkWorker<BootJobApi>(new Worker(new URL('../../../workers/boot.worker.ts', import.meta.url), { type: 'module' })),
    idleMs: IDLE_MS,
  }));
}

/** Boot detection and Nitro findings of a completed snapshot, read from its blocks in a worker. */
export function inspectSnapshotBoot(connection: Connection, snapshotId: string, volumeSizeGiB: number, opts: { signal?: AbortSignal } = {}): Promise<SnapshotBoot> {
  return bootBridge().call(({ api, lend }) => {
    const c = lend(connection);
    return api.inspect(transfer({ connection: c.connection, snapshotId, volumeSizeGiB }, c.transfer));
  }, opts);
}
