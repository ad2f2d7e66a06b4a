/** Why a download, comparison or parent read stopped, as a stable code for tests and UI. */
export type ReadErrorCode =
  | 'input'
  | 'not-found'
  | 'checksum'
  | 'unrelated'
  | 'cancelled'
  | 'target'
  | 'resume'
  | 'service';

/** A read of snapshots that failed, with a sentence that says what happened and what to do. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    message: string,
    readonly code: ReadErrorCode,
    /** The service error behind it, when there is one. */
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** The fields of an SDK service exception that decide what to do with it. */
export interface ServiceFault {
  name: string;
  reason?: string;
  status?: number;
  message: string;
}

/** Reads name, Reason and HTTP status off an SDK error (or anything thrown). */
export function serviceFault(err: unknown): ServiceFault {
  const e = err as { name?: string; Reason?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return {
    name: e?.name ?? 'Error',
    reason: e?.Reason,
    status: e?.$metadata?.httpStatusCode,
    message: e?.message ?? String(err),
  };
}

/** True for the 404 the service answers for a snapshot that is missing or not readable yet. */
export function isSnapshotNotFound(err: unknown): boolean {
  const f = serviceFault(err);
  return f.name === 'ResourceNotFoundException' && (f.reason === undefined || f.reason === 'SNAPSHOT_NOT_FOUND');
}

/** True when a block token or page token is no longer accepted (expired or foreign). */
export function isStaleToken(err: unknown, which: 'block' | 'page'): boolean {
  const f = serviceFault(err);
  return f.name === 'ValidationException' && f.reason === (which === 'block' ? 'INVALID_BLOCK_TOKEN' : 'INVALID_PAGE_TOKEN');
}

/** True when the caller aborted (AbortSignal), whatever layer threw it. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (err as { name?: string })?.name === 'AbortError';
}
