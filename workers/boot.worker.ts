// Boot worker: exposes reading how a snapshot boots with comlink and does nothing else.
import { expose } from 'comlink';
import { bootJobApi } from '../src/engine/browser/boot-job.ts';

expose(bootJobApi);
export type BootWorkerApi = typeof bootJobApi;
