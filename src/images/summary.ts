import { BlockState, type DiskImage, type ImageFormat } from './types.ts';

const GiB = 2 ** 30;

/** What the UI and `inspect` show before an upload starts. */
export interface ImageSummary {
  format: ImageFormat;
  subformat?: string;
  virtualSize: number;
  /** The EBS volume size a snapshot of this disk needs: ceil(virtualSize / GiB), at least 1. */
  volumeSizeGiB: number;
  blockCount: number;
  /** Blocks the tables say hold data (before the all-zero check): at most this many are sent. */
  allocatedBlocks: number;
}

/** EBS volume size in GiB for a disk of this many bytes. */
export function volumeSizeGiB(virtualSize: number): number {
  return Math.max(1, Math.ceil(virtualSize / GiB));
}

/** Summarises an opened image from its tables only (no data read). */
export async function summarizeImage(image: DiskImage): Promise<ImageSummary> {
  const states = await image.blockStates();
  let allocatedBlocks = 0;
  for (const s of states) if (s === BlockState.Data) allocatedBlocks++;
  return {
    format: image.format,
    ...(image.subformat !== undefined ? { subformat: image.subformat } : {}),
    virtualSize: image.virtualSize,
    volumeSizeGiB: volumeSizeGiB(image.virtualSize),
    blockCount: image.blockCount,
    allocatedBlocks,
  };
}
