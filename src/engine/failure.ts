// Turns an SDK, network or file error into a sentence and a way forward.
import type { ResumeAction } from './upload-types.ts';
import { classifyFailure } from './retry.ts';

/** A failure as it crosses the worker boundary (plain data). */
export interface FailureInfo {
  message: string;
  code: string;
  action?: ResumeAction;
}

/** Sentence and code for a failure; context says which block and whether it was a read. */
export function describeFailure(err: unknown, ctx: { index?: number; reading?: boolean; snapshotId?: string } = {}): FailureInfo {
  const e = (err ?? {}) as { name?: string; message?: string; Reason?: string };
  const name = e.name ?? 'Error';
  const msg = e.message ?? String(err);
  const where = ctx.index !== undefined ? ` at block ${ctx.index}` : '';
  // A packed disk read as a stream finds damage only when it gets there: the container's own sentence says what to do.
  if (name === 'ImageFormatError') return { message: msg, code: 'image-format', action: 'repick' };
  if (ctx.reading || name === 'NotReadableError' || name === 'NotFoundError')
    return {
      message: `The image file could not be read${where} (${name}: ${msg}); it may have changed on disk or been moved. Pick the file again to resume.`,
      code: 'source-changed',
      action: 'repick',
    };
  // A per-person IAM policy names the snapshot it refused: someone else's, which no reconnect will open.
  const refused = /AccessDenied|UnauthorizedOperation/.test(name) ? /on resource: arn:\S*:snapshot\/(snap-[0-9a-f]+)/.exec(msg)?.[1] : undefined;
  if (refused) {
    return {
      message: `Snapshot ${refused} is not yours: each person may read, write, delete or build on only the snapshots they started. Pick one of your own, or sign in as the person who started it.`,
      code: 'not-yours',
    };
  }
  const cls = classifyFailure(err);
  const snap = ctx.snapshotId ? ` ${ctx.snapshotId}` : '';
  switch (cls) {
    case 'credentials':
      return { message: `The service refused the credentials (${name}: ${msg}). Reconnect, then resume the upload.`, code: 'credentials', action: 'reconnect' };
    case 'lag':
      return {
        message: `The snapshot${snap} no longer exists (${msg}); it probably timed out. Start the upload again.`,
        code: 'snapshot-gone',
        action: 'restart',
      };
    case 'retry':
    case 'throttle':
      return { message: `The service kept failing${where} after repeated retries (${name}: ${msg}). Resume later; acknowledged blocks are kept.`, code: 'service' };
    default:
      if (name === 'ServiceQuotaExceededException')
        return { message: `An EBS quota was exceeded (${msg}). Wait for other snapshots to finish or ask AWS for a higher quota, then resume.`, code: 'quota' };
      if (name === 'ValidationException' && /already completed/i.test(msg))
        return { message: `The snapshot${snap} is already completed; it cannot take more blocks. Start a new upload.`, code: 'validation', action: 'restart' };
      return { message: `The service refused the request${where} (${name}: ${msg}).`, code: 'validation' };
  }
}
