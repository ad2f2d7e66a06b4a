// Test module worker: opens the posted File with openImage and returns per-block SHA-256 (hex), for e2e/images-*.spec.ts.
import { blobSource } from '../../src/images/blob-source.ts';
import { openImage } from '../../src/images/open-image.ts';
import { ImageFormatError } from '../../src/images/types.ts';

const BATCH = 8;

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

self.onmessage = async (e: MessageEvent<{ file: File }>) => {
  try {
    const image = await openImage(blobSource(e.data.file));
    const states = await image.blockStates();
    const hashes: string[] = [];
    for (let b = 0; b < image.blockCount; b += BATCH) {
      const n = Math.min(BATCH, image.blockCount - b);
      const bytes = await image.readBlocks(b, n);
      for (let k = 0; k < n; k++) hashes.push(hex(await crypto.subtle.digest('SHA-256', bytes.subarray(k * 524288, (k + 1) * 524288) as Uint8Array<ArrayBuffer>)));
    }
    self.postMessage({ ok: true, format: image.format, subformat: image.subformat, virtualSize: image.virtualSize, notices: image.notices, states: Array.from(states), hashes });
  } catch (err) {
    const e2 = err as Error;
    self.postMessage({ ok: false, name: e2.name, isImageFormatError: err instanceof ImageFormatError, code: (err as ImageFormatError).code, message: e2.message });
  }
};
