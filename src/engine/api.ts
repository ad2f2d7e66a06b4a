// The engine's public surface for the UI: types and main-thread entry points. Keep this file stable.
export * from './upload-types.ts';
export { planUpload, startUpload, resumeUpload, engineSettings, errorSentence } from './upload-controller.ts';
export { listJobs, getJob, discardJob } from './jobs.ts';
export type { DiscardOptions, DiscardOutcome } from './jobs.ts';
export { watchJob, requestTakeover, isJobBusy } from './job-lock.ts';
export { registerImage, waitForImage, imageConsoleUrl, RegisterImageError, ROOT_DEVICE } from './register-image.ts';
export type { RegisterImageRequest, RegisteredImage } from './register-image.ts';
export type { BootInfo, BootArchitecture, BootMode } from '../images/boot/detect-boot.ts';
export type { NitroFinding } from '../images/boot/nitro-check.ts';
export { inspectSnapshotBoot } from './snapshot-boot.ts';
