// Main-thread controller: plans, fingerprints, records the job, drives the worker pool.
import type { FileInput, StartUploadArgs, UploadPlan, UploadRun } from './api.ts';

/** Reads the image's tables and tells what an upload would send. */
export async function planUpload(file: FileInput): Promise<UploadPlan> {
  throw new Error('not implemented yet');
}

/** Starts a new upload job in this tab. */
export async function startUpload(args: StartUploadArgs): Promise<UploadRun> {
  throw new Error('not implemented yet');
}

/** Resumes an unfinished job; throws ResumeError with the way forward when it cannot. */
export async function resumeUpload(jobId: string, file?: FileInput): Promise<UploadRun> {
  throw new Error('not implemented yet');
}
