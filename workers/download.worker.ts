// Download worker: exposes the download job API with comlink and does nothing else.
import { expose } from 'comlink';
import { cancelDownloadJob, runDownloadJob, warmDownloadJob } from '../src/engine/browser/download-job.ts';

const api = { run: runDownloadJob, cancel: cancelDownloadJob, warm: warmDownloadJob };
expose(api);
export type DownloadWorkerApi = typeof api;
