import { openRaw } from './raw.ts';
import type { ByteSource, DiskImage } from './types.ts';

/** Opens a disk image, detecting its format by content; throws ImageFormatError for what it refuses. */
export async function openImage(source: ByteSource): Promise<DiskImage> {
  // Format detection lands with the format readers; until then every file is raw.
  return openRaw(source);
}
