// What the stream worker exposes over comlink: the one decoder of a packed disk streamed out of its containers, which
// upload workers read through ports of their own. The decoder outlives the upload workers, so they can be replaced
// (their garbage goes with them) while the stream carries on where it was.
import { expose, transfer, wrap, type Remote } from 'comlink';
import { blobSource } from '../../images/blob-source.ts';
import { chainLabel, type Packing } from '../../images/disk-route.ts';
import { streamedFormat, streamedImage, type StreamedImage } from '../../images/streamed-raw.ts';
import { BLOCK_SIZE, BlockState, type DiskImage } from '../../images/types.ts';
import { isAllZero } from '../../images/zero-scan.ts';

/** What an upload worker calls through its port. */
export interface StreamPortApi {
  /**
   * Blocks [first, first+count) read into `buffer` at `offset` (transferred there and back: no copy), as readBlocksInto
   * gives them.
   */
  read(first: number, count: number, buffer: ArrayBuffer, offset: number): Promise<Uint8Array>;
}

/**
 * Where an upload worker keeps each decoded block it sends until the block is acknowledged, so its body is a Blob over
 * stored bytes rather than over bytes in memory (browser: OPFS, see engine/browser/block-spool.ts).
 */
export interface BlockSpool {
  /** A Blob over a kept copy of the block's bytes; null where it could not be kept (the bytes are sent instead). */
  keep(index: number, bytes: Uint8Array): Promise<Blob | null>;
  /** The block was acknowledged or will not be sent again by this worker: its copy goes. */
  release(index: number): void;
}

/** Creates the API object the stream worker exposes (also usable in-process). */
export function createStreamReaderApi() {
  let image: StreamedImage | null = null;
  const ports: MessagePort[] = [];
  const portApi: StreamPortApi = {
    async read(first, count, buffer, offset) {
      if (!image) throw new Error('open() first');
      const out = await image.readBlocksInto!(first, count, new Uint8Array(buffer, offset, count * BLOCK_SIZE));
      return transfer(out, [out.buffer]);
    },
  };
  return {
    /** Opens the packed file's stream (nothing is decoded until the first read). */
    open(file: Blob, packing: Packing & { path: 'streamed' }): void {
      image = streamedImage(blobSource(file), packing.steps, packing.size, `${chainLabel(packing.container)} file`);
    },
    /** Serves reads on a port an upload worker holds the other end of. */
    attach(port: MessagePort): void {
      ports.push(port);
      expose(portApi, port);
    },
    /** Stops the stream and closes the ports. */
    async close(): Promise<void> {
      await image?.close();
      image = null;
      for (const p of ports.splice(0)) p.close();
    },
  };
}

/** The stream worker's API type (comlink Remote<StreamReaderApi> on the main thread). */
export type StreamReaderApi = ReturnType<typeof createStreamReaderApi>;

/**
 * The disk a stream worker decodes, as an upload worker reads it through `port`: each read's buffer goes to the stream
 * worker and comes back filled. With a spool, each block sent is a Blob over its kept copy (one shared Blob for an
 * empty block).
 */
export function portImage(port: MessagePort, packing: Packing & { path: 'streamed' }, spool?: BlockSpool): DiskImage {
  const remote: Remote<StreamPortApi> = wrap<StreamPortApi>(port);
  const size = packing.size;
  const blockCount = Math.ceil(size / BLOCK_SIZE);
  const readInto = async (first: number, count: number, target: Uint8Array): Promise<Uint8Array> => {
    const got = await remote.read(first, count, transfer(target.buffer as ArrayBuffer, [target.buffer as ArrayBuffer]), target.byteOffset);
    return got;
  };
  return {
    ...streamedFormat(packing.steps),
    virtualSize: size,
    blockCount,
    notices: [],
    async blockStates() {
      return new Uint8Array(blockCount).fill(BlockState.Data);
    },
    readBlocks: (first, count) => readInto(first, count, new Uint8Array(count * BLOCK_SIZE)),
    readBlocksInto: (first, count, target) => readInto(first, count, target),
    ...(spool ? spooled(spool) : {}),
  };
}

/** The block Blobs of a spool: kept copies, so a failed put has no file to read again. */
function spooled(spool: BlockSpool): Pick<DiskImage, 'blockBlob' | 'releaseBlock' | 'blockBlobsKept'> {
  let zeros: Blob | undefined;
  return {
    blockBlobsKept: true,
    blockBlob: (index, bytes) => {
      if (!bytes || bytes.length !== BLOCK_SIZE) return null;
      if (isAllZero(bytes)) return (zeros ??= new Blob([new Uint8Array(BLOCK_SIZE)]));
      return spool.keep(index, bytes);
    },
    releaseBlock: (index) => spool.release(index),
  };
}
