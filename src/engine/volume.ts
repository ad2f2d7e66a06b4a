// Volume sizing and block arithmetic shared by planner, pipeline and CLI.
import { BLOCK_SIZE } from '../images/types.ts';

/** Bytes in a GiB. */
export const GIB = 1024 ** 3;
/** Blocks per GiB (EBS block index limit = VolumeSize × 2048). */
export const BLOCKS_PER_GIB = GIB / BLOCK_SIZE;
/** The EBS volume size limits, GiB. */
export const MIN_VOLUME_GIB = 1;
export const MAX_VOLUME_GIB = 65536;

/** The smallest volume that holds the image: size rounded up to whole GiB, at least 1. */
export function defaultVolumeSizeGiB(virtualSize: number): number {
  return Math.max(MIN_VOLUME_GIB, Math.ceil(virtualSize / GIB));
}

/** Checks a requested volume size against the image; returns the sentence when it is refused. */
export function volumeSizeProblem(requested: number, virtualSize: number): string | undefined {
  const need = defaultVolumeSizeGiB(virtualSize);
  if (!Number.isInteger(requested) || requested < MIN_VOLUME_GIB || requested > MAX_VOLUME_GIB)
    return `The volume size ${requested} GiB is not valid: choose a whole number between ${MIN_VOLUME_GIB} and ${MAX_VOLUME_GIB}.`;
  if (requested < need)
    return `The image needs a volume of at least ${need} GiB, but ${requested} GiB was asked for: choose ${need} GiB or more.`;
  return undefined;
}

/** Checks a StartSnapshot Timeout; returns the sentence when it is out of range. */
export function timeoutProblem(minutes: number): string | undefined {
  if (!Number.isInteger(minutes) || minutes < 10 || minutes > 4320)
    return `The snapshot timeout ${minutes} minutes is not valid: choose a whole number of minutes between 10 and 4320 (72 hours).`;
  return undefined;
}
