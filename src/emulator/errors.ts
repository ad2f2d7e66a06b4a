// The three error shapes of the EBS direct APIs, as values the wire layer serialises.

/** Which body shape an error takes on the wire (see the reference, "three shapes"). */
export type EbsErrorShape = 'service' | 'validation' | 'signature';

/** A refusal by the emulated service: exception name, HTTP status, optional Reason and the message. */
export class EbsError extends Error {
  override readonly name = 'EbsError';
  constructor(
    /** Exception name, e.g. `ValidationException`. */
    readonly code: string,
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly shape: EbsErrorShape = 'service',
  ) {
    super(message);
  }
}

/** A refusal in the terms of another emulated service (Cognito, EC2): its error code, message and HTTP status. */
export class ServiceRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** 400 ValidationException with a Reason (service shape). */
export function validation(reason: string, message: string): EbsError {
  return new EbsError('ValidationException', 400, message, reason);
}

/** 400 ValidationException for constraint failures (shape 2: lowercase `message`, no Reason). */
export function constraintError(failures: string[]): EbsError {
  const n = failures.length;
  const text = `${n} validation error${n === 1 ? '' : 's'} detected: ${failures.join('; ')}`;
  return new EbsError('ValidationException', 400, text, undefined, 'validation');
}

/** 404 ResourceNotFoundException SNAPSHOT_NOT_FOUND for a snapshot that does not exist or is not readable. */
export function snapshotNotFound(id: string): EbsError {
  return new EbsError('ResourceNotFoundException', 404, `The snapshot '${id}' does not exist.`, 'SNAPSHOT_NOT_FOUND');
}

/** 403 InvalidSignatureException for a per-block checksum mismatch (shape 3). */
export function checksumMismatch(computed: string, supplied: string): EbsError {
  return new EbsError(
    'InvalidSignatureException',
    403,
    `The value passed in as x-amz-Checksum does not match the computed checksum. Computed checksum: ${computed} expected checksum: ${supplied}`,
    undefined,
    'signature',
  );
}
