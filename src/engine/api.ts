// The engine's public surface for the UI: types and main-thread entry points. Keep this file stable.
export * from './upload-types.ts';
export { planUpload, startUpload, resumeUpload, engineSettings, errorSentence } from './browser/upload-controller.ts';
export { listJobs, getJob, discardJob } from './browser/jobs.ts';
export type { DiscardOptions, DiscardOutcome } from './browser/jobs.ts';
export { watchJob, requestTakeover, isJobBusy } from './browser/job-lock.ts';
