// Upload worker: exposes the block pipeline with comlink and does nothing else.
import { expose } from 'comlink';
import { createPipelineWorkerApi } from '../src/engine/upload/pipeline-worker-api.ts';

const api = createPipelineWorkerApi();
expose(api);
export type Api = typeof api;
