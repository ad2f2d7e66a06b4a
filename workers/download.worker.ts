// Download worker: exposes the download job API with comlink and does nothing else.
import { expose } from 'comlink';
import { downloadJobApi } from '../src/engine/browser/download-job.ts';

expose(downloadJobApi);
export type DownloadWorkerApi = typeof downloadJobApi;
