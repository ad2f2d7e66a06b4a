// The engine's public surface for the UI: types and main-thread entry points. Keep this file stable.
export * from './upload-types.ts';
export { planUpload, startUpload, resumeUpload, errorSentence } from './browser/upload-controller.ts';
export { engineSettings } from './browser/engine-settings.ts';
export { listJobs, getJob, discardJob } from './browser/jobs.ts';
export type { DiscardOptions, DiscardOutcome } from './browser/jobs.ts';
export { watchJob, requestTakeover, isJobBusy } from './browser/job-lock.ts';

// Jobs, manifests, compare and download: what the page needs beyond uploads, so it imports no other engine file.
export { completionPending } from './job-record.ts';
export { idbManifestStore } from './browser/manifest-idb.ts';
export { compareSnapshots, type Comparison } from './compare.ts';
export { blockMap, comparisonToCsv, comparisonToJson, type MapCell } from './compare-export.ts';
export type { DownloadProgress } from './download/download.ts';
export type { DownloadRecord } from './browser/download-ledger.ts';
export { listDownloads, warmDownloads, startDownload, resumeDownload, cancelDownload, removeDownload } from './browser/download-host.ts';
export type { DownloadRun, DownloadEnd, DownloadRunOptions } from './browser/download-host.ts';
export { registerImage, waitForImage, imageConsoleUrl, RegisterImageError, ROOT_DEVICE } from './register-image.ts';
export type { RegisterImageRequest, RegisteredImage } from './register-image.ts';
export type { BootInfo, BootArchitecture, BootMode } from '../images/boot/detect-boot.ts';
export type { NitroFinding } from '../images/boot/nitro-check.ts';
// Read in a worker: the page's thread fetches no snapshot block for it.
export { inspectSnapshotBoot } from './browser/boot-host.ts';
export type { SnapshotBoot } from './browser/boot-job.ts';
