// Zero detection: a word-wise scan of whole blocks, and the same done piecewise while a read's bytes arrive.
import { BLOCK_SIZE, Scanned, type Landed } from './types.ts';

/** True when every byte is zero (word-wise scan; falls back to bytes for odd alignments). */
export function isAllZero(bytes: Uint8Array): boolean {
  const { byteOffset, byteLength } = bytes;
  if (byteOffset % 8 === 0 && byteLength % 8 === 0) {
    const words = new BigUint64Array(bytes.buffer, byteOffset, byteLength / 8);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
    return true;
  }
  if (byteOffset % 4 === 0 && byteLength % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, byteOffset, byteLength / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < byteLength; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Whether a block is all zero, taking the reader's finding (a Scanned value) where it looked, scanning where not. */
export function blockIsZero(bytes: Uint8Array, seen: number = Scanned.NotScanned): boolean {
  return seen === Scanned.NotScanned ? isAllZero(bytes) : seen === Scanned.AllZero;
}

/**
 * Records in `scanned` (one entry per block of a read of `length` bytes) which blocks hold a nonzero byte, looking at
 * each range as it lands. `landed` goes to the reader; `finish(got)` says whether every byte read (got of them) was
 * seen, and marks the blocks Scanned.AllZero/NonZero if so, or leaves them all Scanned.NotScanned if not.
 */
export function zeroScanner(scanned: Uint8Array, length: number): { landed: Landed; finish: (got: number) => void } {
  const blocks = Math.ceil(length / BLOCK_SIZE);
  const nonzero = new Uint8Array(blocks);
  let seen = 0;
  return {
    landed(bytes, at) {
      seen += bytes.length;
      for (let o = 0; o < bytes.length; ) {
        const k = Math.floor((at + o) / BLOCK_SIZE);
        const end = Math.min(bytes.length, (k + 1) * BLOCK_SIZE - at);
        if (k < blocks && !nonzero[k] && !isAllZero(bytes.subarray(o, end))) nonzero[k] = 1;
        o = end;
      }
    },
    finish(got) {
      if (seen !== got) return;
      // Blocks past what was read hold zero padding: all zero unless they began with a nonzero tail.
      for (let k = 0; k < blocks && k < scanned.length; k++) scanned[k] = nonzero[k] ? Scanned.NonZero : Scanned.AllZero;
    },
  };
}
