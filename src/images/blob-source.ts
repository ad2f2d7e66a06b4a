import type { ByteSource } from './types.ts';

/** A ByteSource over a Blob or File (browser and Node 20 alike). */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      const end = Math.min(blob.size, offset + length);
      if (offset >= end) return new Uint8Array(0);
      return new Uint8Array(await blob.slice(offset, end).arrayBuffer());
    },
    slice: (offset, end) => blob.slice(offset, end),
  };
}
