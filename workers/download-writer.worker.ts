// Download writer worker: exposes the writer API (an OPFS sync access handle) with comlink and does nothing else.
import { expose } from 'comlink';
import { writerApi } from '../src/engine/browser/download-writer.ts';

expose(writerApi);
export type DownloadWriterWorkerApi = typeof writerApi;
