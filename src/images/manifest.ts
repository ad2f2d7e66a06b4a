import { BLOCK_SIZE, BlockState, type DiskImage, type ImageFormat } from './types.ts';
import { volumeSizeGiB } from './summary.ts';
import { isAllZero } from './zero-scan.ts';

/** What a new unencrypted snapshot of the image would receive with empty blocks skipped: every non-zero block and its SHA-256. */
export interface UploadManifest {
  format: ImageFormat;
  virtualSize: number;
  blockSize: number;
  volumeSizeGiB: number;
  /** Blocks an upload writes by default (every block of the image, zero blocks included). */
  allBlocksCount: number;
  /** Non-zero blocks: what an upload writes when empty blocks are skipped (the blocks listed here). */
  changedBlocksCount: number;
  /** base64(SHA-256 of the concatenated raw digests of the listed blocks, in index order): EBS's LINEAR aggregate. */
  aggregateChecksum: string;
  /** Block index → base64 SHA-256 of its 512 KiB. */
  blocks: Record<string, string>;
}

// Blocks read per call: large reads are faster, and memory stays at this many × 512 KiB.
const READ_BLOCKS = 16;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

/** Reads the image and builds its upload manifest, hashing with WebCrypto; `onProgress` gets blocks done. */
export async function buildManifest(image: DiskImage, onProgress?: (done: number, total: number) => void): Promise<UploadManifest> {
  const states = await image.blockStates();
  const blocks: Record<string, string> = {};
  const digests: Uint8Array[] = [];
  let i = 0;
  while (i < image.blockCount) {
    if (states[i] !== BlockState.Data) {
      i++;
      continue;
    }
    let n = 1;
    while (n < READ_BLOCKS && i + n < image.blockCount && states[i + n] === BlockState.Data) n++;
    const bytes = await image.readBlocks(i, n);
    for (let k = 0; k < n; k++) {
      const block = bytes.subarray(k * BLOCK_SIZE, (k + 1) * BLOCK_SIZE);
      if (isAllZero(block)) continue;
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', block as Uint8Array<ArrayBuffer>));
      digests.push(d);
      blocks[String(i + k)] = base64(d);
    }
    i += n;
    onProgress?.(i, image.blockCount);
  }
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, k) => all.set(d, k * 32));
  return {
    format: image.format,
    virtualSize: image.virtualSize,
    blockSize: BLOCK_SIZE,
    volumeSizeGiB: volumeSizeGiB(image.virtualSize),
    allBlocksCount: image.blockCount,
    changedBlocksCount: digests.length,
    aggregateChecksum: base64(new Uint8Array(await crypto.subtle.digest('SHA-256', all))),
    blocks,
  };
}
