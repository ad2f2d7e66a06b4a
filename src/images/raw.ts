import { BLOCK_SIZE, BlockState, type ByteSource, type DiskImage } from './types.ts';

/** A raw image: the file is the disk, every block holds data. */
export function openRaw(source: ByteSource): DiskImage {
  const virtualSize = source.size;
  const blockCount = Math.ceil(virtualSize / BLOCK_SIZE);
  return {
    format: 'raw',
    virtualSize,
    blockCount,
    notices: [],
    async blockStates() {
      return new Uint8Array(blockCount).fill(BlockState.Data);
    },
    async readBlocks(first, count) {
      const out = new Uint8Array(count * BLOCK_SIZE);
      const bytes = await source.read(first * BLOCK_SIZE, count * BLOCK_SIZE);
      out.set(bytes);
      return out;
    },
  };
}
