// Packed-image worker: exposes finding and unpacking the disk inside a packed file with comlink and does nothing else.
import { expose } from 'comlink';
import { createPackedWorkerApi } from '../src/engine/browser/packed-worker-api.ts';

const api = createPackedWorkerApi();
expose(api);
export type Api = typeof api;
