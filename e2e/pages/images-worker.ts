// Test module worker: opens the posted File with openImage and returns per-block SHA-256 (hex), read alternately with
// readBlocks and readBlocksInto, for e2e/images-*.spec.ts.
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
    // Every other batch goes into a reused buffer left full of other bytes, as the pipeline reads (a BYOB read may hand
    // the memory to a new buffer: the one returned is kept).
    let reused = new Uint8Array(BATCH * 524288);
    for (let b = 0; b < image.blockCount; b += BATCH) {
      const n = Math.min(BATCH, image.blockCount - b);
      const into = (b / BATCH) % 2 === 1 && image.readBlocksInto;
      const bytes = into ? await image.readBlocksInto!(b, n, reused.fill(0xa5)) : await image.readBlocks(b, n);
      if (into) reused = new Uint8Array(bytes.buffer as ArrayBuffer);
      for (let k = 0; k < n; k++) hashes.push(hex(await crypto.subtle.digest('SHA-256', bytes.subarray(k * 524288, (k + 1) * 524288) as Uint8Array<ArrayBuffer>)));
    }
    self.postMessage({ ok: true, format: image.format, subformat: image.subformat, virtualSize: image.virtualSize, notices: image.notices, states: Array.from(states), hashes });
  } catch (err) {
    const e2 = err as Error;
    self.postMessage({ ok: false, name: e2.name, isImageFormatError: err instanceof ImageFormatError, code: (err as ImageFormatError).code, message: e2.message });
  }
};
