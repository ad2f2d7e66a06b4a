import { BLOCK_SIZE, BlockState, type ByteSource, type DiskImage } from './types.ts';
import { zeroScanner } from './zero-scan.ts';

/** A raw image: the file is the disk, every block holds data. */
export function openRaw(source: ByteSource): DiskImage {
  const virtualSize = source.size;
  const blockCount = Math.ceil(virtualSize / BLOCK_SIZE);
  const slice = source.slice?.bind(source);
  const readInto = source.readInto?.bind(source);
  return {
    format: 'raw',
    virtualSize,
    blockCount,
    notices: [],
    async blockStates() {
      return new Uint8Array(blockCount).fill(BlockState.Data);
    },
    async readBlocks(first, count) {
      const bytes = await source.read(first * BLOCK_SIZE, count * BLOCK_SIZE);
      // A whole read is the answer as is (readers only read it); only a short tail needs a zero-padded copy.
      if (bytes.length === count * BLOCK_SIZE) return bytes;
      const out = new Uint8Array(count * BLOCK_SIZE);
      out.set(bytes);
      return out;
    },
    ...(readInto
      ? {
          async readBlocksInto(first: number, count: number, target: Uint8Array, scanned?: Uint8Array) {
            const length = count * BLOCK_SIZE;
            // Zero detection rides along with the read, on each piece as it lands (still in cache).
            const scan = scanned ? zeroScanner(scanned, length) : null;
            const got = await readInto(first * BLOCK_SIZE, target.subarray(0, length), scan?.landed);
            scan?.finish(got.length);
            // The buffer is reused: past the end of the file it still holds an earlier slice, so zero it.
            const out = new Uint8Array(got.buffer, got.byteOffset, length);
            if (got.length < length) out.fill(0, got.length);
            return out;
          },
        }
      : {}),
    // Every whole block lies in the file as is; the short last block needs zero padding, so it is read instead.
    ...(slice ? { blockBlob: (index: number) => ((index + 1) * BLOCK_SIZE <= virtualSize ? slice(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE) : null) } : {}),
  };
}
