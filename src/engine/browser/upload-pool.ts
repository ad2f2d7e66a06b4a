// The upload workers of one run: a bridge per worker, each worker opening the file once and replaced after its share
// of blocks (recycling-runner.ts).
import { proxy, transfer, type Remote } from 'comlink';
import type { Connection } from '../../aws/clients.ts';
import type { Packing } from '../../images/disk-route.ts';
import type { PipelineBatch, PipelineSpec, Slice } from '../block-pipeline.ts';
import type { PacerPort } from '../pacer-lease.ts';
import type { UploadOptions } from '../upload-types.ts';
import type { PipelineWorkerApi, WorkerOpenArgs } from '../upload/pipeline-worker-api.ts';
import type { StreamReaderApi } from '../upload/stream-reader-api.ts';
import type { PipelineRunner } from '../upload/upload-session.ts';
import { engineSettings } from './engine-settings.ts';
import { recyclingRunner } from './recycling-runner.ts';
import { comlinkWorker, WorkerBridge, type StartedWorker } from './worker-bridge.ts';

/** An upload worker as its bridge calls it: comlink's proxies and transfers are made here. */
interface UploadWorker extends PipelineRunner {
  open(args: WorkerOpenArgs, transferList: Transferable[]): Promise<unknown>;
}

function uploadWorker(name: string): StartedWorker<UploadWorker> {
  const w = comlinkWorker<PipelineWorkerApi>(new Worker(new URL('../../../workers/upload.worker.ts', import.meta.url), { type: 'module', name }));
  const api: UploadWorker = {
    open: (args, transferList) => w.api.open(transfer(args, transferList)),
    run: (spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacer?: PacerPort) =>
      w.api.run(spec, proxy(claim), proxy(onBatch), pacer && proxy(pacer)),
    stop: () => w.api.stop(),
  };
  return { ...w, api };
}

/** Credentials cross to workers as values or as a port; a provider of an endpoint connection is asked once here. */
async function workerConnection(c: Connection): Promise<Connection> {
  if (c.kind !== 'endpoint' || typeof c.credentials !== 'function') return c;
  return { ...c, credentials: await c.credentials() };
}

function poolSize(opts: UploadOptions): number {
  const hc = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency || 2 : 2;
  return Math.max(1, Math.floor(opts.workers ?? Math.min(hc, engineSettings.maxWorkers)));
}

/**
 * Starts the worker pool over the file (each worker gets the File once, and a credential port of its own when the
 * connection has AWS credentials): one runner per worker, each replacing its worker every `recycleBlocks` claimed
 * blocks; terminate() ends them all. A disk streamed out of its decompressor (`packing.path` 'streamed') is decoded
 * by one stream worker that outlives the upload workers, each of which reads it through a port of its own: replacing
 * an upload worker does not start the stream again.
 */
export async function startPool(file: File, connection: Connection | undefined, opts: UploadOptions, packing?: Packing): Promise<{ runners: PipelineRunner[]; terminate: () => void }> {
  const decoder = packing?.path === 'streamed' ? await streamWorker(file, packing) : undefined;
  const streamed = async (): Promise<{ args: Partial<WorkerOpenArgs>; transfer: Transferable[] }> => {
    if (!decoder || packing?.path !== 'streamed') return { args: {}, transfer: [] };
    const ch = new MessageChannel();
    await decoder.api.attach(transfer(ch.port1, [ch.port1]));
    return { args: { packing, reader: ch.port2 }, transfer: [ch.port2] };
  };
  const conn = connection && (await workerConnection(connection));
  let made = 0;
  const bridges = Array.from(
    { length: poolSize(opts) },
    () =>
      new WorkerBridge<UploadWorker>({
        spawn: () => uploadWorker(`blockport-upload-${made++}`),
        setup: async ({ api, lend }) => {
          const c = conn && lend(conn);
          const s = await streamed();
          await api.open(c ? { file, connection: c.connection, ...s.args } : { file, ...s.args }, [...(c?.transfer ?? []), ...s.transfer]);
        },
        recycleAfter: opts.recycleBlocks ?? engineSettings.recycleBlocks,
      }),
  );
  const started = await Promise.allSettled(bridges.map((b) => b.start()));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    for (const b of bridges) b.terminate();
    decoder?.terminate();
    throw failed.reason;
  }
  const runners = bridges.map((b) => recyclingRunner(b));
  return {
    runners,
    terminate: () => {
      runners.forEach((r) => r.terminate());
      decoder?.terminate();
    },
  };
}

/** Starts the stream worker that decodes a streamed disk for the upload workers. */
async function streamWorker(file: File, packing: Packing & { path: 'streamed' }): Promise<StartedWorker<Remote<StreamReaderApi>>> {
  const w = comlinkWorker<StreamReaderApi>(new Worker(new URL('../../../workers/stream.worker.ts', import.meta.url), { type: 'module', name: 'blockport-stream' }));
  try {
    await Promise.race([w.api.open(file, packing), w.failed!]);
  } catch (err) {
    w.terminate();
    throw err;
  }
  return w;
}
