// Upload worker: exposes the block pipeline with comlink and does nothing else.
import { expose } from 'comlink';
import { createPipelineWorkerApi } from '../src/engine/upload/pipeline-worker-api.ts';
import { opfsBlockSpool } from '../src/engine/browser/block-spool.ts';

const api = createPipelineWorkerApi({ blockSpool: opfsBlockSpool });
expose(api);
export type Api = typeof api;
