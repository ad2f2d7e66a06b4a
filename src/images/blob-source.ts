import type { ByteSource } from './types.ts';

/** A ByteSource over a Blob or File (browser and Node 20 alike). */
export function blobSource(blob: Blob): ByteSource {
  // Set once a BYOB reader turns out to be unavailable (Node 20's Blob streams are not byte streams).
  let noByob = false;
  return {
    size: blob.size,
    async read(offset, length) {
      const end = Math.min(blob.size, offset + length);
      if (offset >= end) return new Uint8Array(0);
      return new Uint8Array(await blob.slice(offset, end).arrayBuffer());
    },
    slice: (offset, end) => blob.slice(offset, end),
    async readInto(offset, target) {
      const end = Math.min(blob.size, offset + target.length);
      if (offset >= end) return target.subarray(0, 0);
      const part = blob.slice(offset, end);
      const length = end - offset;
      let reader: ReadableStreamBYOBReader | null = null;
      if (!noByob) {
        try {
          reader = part.stream().getReader({ mode: 'byob' });
        } catch {
          noByob = true;
        }
      }
      if (!reader) {
        target.set(new Uint8Array(await part.arrayBuffer()));
        return target.subarray(0, length);
      }
      // Each read transfers the buffer and hands it back filled a little further; the last buffer is the caller's.
      let buffer = target.buffer as ArrayBuffer;
      const base = target.byteOffset;
      let got = 0;
      try {
        while (got < length) {
          const { value, done } = await reader.read(new Uint8Array(buffer, base + got, length - got));
          if (value) buffer = value.buffer as ArrayBuffer;
          if (done) break;
          got += value!.byteLength;
        }
      } finally {
        reader.releaseLock();
      }
      return new Uint8Array(buffer, base, got);
    },
  };
}
