// What an upload worker exposes over comlink: open the file once, run pipelines on claimed slices, measure.
import { releaseProxy } from 'comlink';
import { createClients, type Clients, type Connection } from '../../aws/clients.ts';
import { blobSource } from '../../images/blob-source.ts';
import { openImage } from '../../images/open-image.ts';
import { streamedImage } from '../../images/streamed-raw.ts';
import { chainLabel, type Packing } from '../../images/disk-route.ts';
import type { DiskImage } from '../../images/types.ts';
import { blockIsZero, zeroScanKind } from '../../images/zero-scan.ts';
import { bestSha256, type Sha256 } from '../block-digest.ts';
import { portImage, type BlockSpool } from './stream-reader-api.ts';
import { BlockPipeline, type PipelineBatch, type PipelineOutcome, type PipelineSpec, type Slice } from '../block-pipeline.ts';
import { ebsBlockSink } from './ebs-sink.ts';
import type { PacerPort } from '../pacer-lease.ts';

/** Arguments of open(): the file (or handle) crosses to the worker once; bytes never do. */
export interface WorkerOpenArgs {
  file: Blob | FileSystemFileHandle;
  /** Absent for dry runs and read measurements. */
  connection?: Connection;
  hash?: 'webcrypto' | 'wasm';
  /** A raw disk or streamOptimized VMDK streamed out of the decompressor around it (the file is the packed one). */
  packing?: Packing & { path: 'streamed' };
  /** With `packing`: a port to the stream worker that decodes it (else this worker decodes it itself). */
  reader?: MessagePort;
}

/**
 * Creates the API object a worker exposes (also usable in-process). `blockSpool`: where a worker reading a streamed
 * disk keeps each block it sends (the browser's worker passes OPFS; without it the bytes are sent).
 */
export function createPipelineWorkerApi(host: { blockSpool?: () => BlockSpool } = {}) {
  let image: DiskImage | null = null;
  let blob: Blob | null = null;
  let clients: Clients | null = null;
  let sha256: Sha256 | null = null;
  let pipeline: BlockPipeline | null = null;

  return {
    /** Opens the image and (when a connection is given) the SDK clients; returns the hash and zero scan chosen. */
    async open(args: WorkerOpenArgs): Promise<{ hash: 'webcrypto' | 'wasm'; zeroScan: 'simd' | 'js'; virtualSize: number }> {
      blob = args.file instanceof Blob ? args.file : await args.file.getFile();
      const file = blobSource(blob);
      const streamed = args.packing;
      image = streamed
        ? args.reader
          ? portImage(args.reader, streamed, host.blockSpool?.())
          : streamedImage(file, streamed.steps, streamed.size, `${chainLabel(streamed.container)} file`)
        : await openImage(file);
      const best = await bestSha256(args.hash);
      sha256 = best.sha256;
      // Blob bodies speed up fetch only; the in-browser emulator would read each one back (3-5x slower than bytes).
      const overFetch = args.connection !== undefined && args.connection.kind !== 'emulator';
      clients = args.connection ? await createClients(args.connection, { blobBodies: overFetch }) : null;
      const ebs = clients?.ebs;
      pipeline = new BlockPipeline(image, ebs ? (id) => ebsBlockSink(ebs, id) : null, sha256, { fileBodies: overFetch });
      return { hash: best.kind, zeroScan: zeroScanKind(), virtualSize: image.virtualSize };
    },

    /** Runs the pipeline on slices from claim(); batches go to onBatch. */
    async run(spec: PipelineSpec, claim: () => Promise<Slice | null>, onBatch: (b: PipelineBatch) => unknown, pacer?: PacerPort): Promise<PipelineOutcome> {
      try {
        if (!pipeline) throw new Error('open() first');
        return await pipeline.run(spec, claim, onBatch, pacer);
      } finally {
        // Over comlink the callbacks and the pacer lease are proxies, each a MessagePort the caller exposed: close them with the run.
        for (const f of [claim, onBatch, pacer]) (f as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
      }
    },

    /** Stops claiming; in-flight blocks finish. */
    stop(): void {
      pipeline?.stop();
    },

    /**
     * Measurements: read claimed slices of the file and discard them ('read': into one reused buffer, continuing one
     * stream while the slices follow each other, the fastest way a worker reads; 'read-stream-each': the same with a
     * stream of its own per slice; 'read-new': a new ArrayBuffer per slice), or read the image and also zero-scan
     * ('scan') and hash ('hash'); returns bytes read.
     */
    async readAll(claim: () => Promise<Slice | null>, mode: 'read' | 'read-stream-each' | 'read-new' | 'scan' | 'hash' = 'read', sliceBlocks = 32): Promise<number> {
      if (!blob || !image) throw new Error('open() first');
      const file = blobSource(blob);
      let reused = new Uint8Array(0);
      let total = 0;
      // A claim may be a long run: it is read a slice at a time, as the pipeline reads.
      for (let run = await claim(); run; run = await claim()) {
        for (let first = run.first; first < run.first + run.count; first += sliceBlocks) {
          const count = Math.min(sliceBlocks, run.first + run.count - first);
          const [from, length] = [first * 524288, count * 524288];
          let bytes: Uint8Array;
          let scanned = new Uint8Array(0);
          if (mode === 'read-new') bytes = await file.read(from, length);
          else {
            if (reused.length < length) reused = new Uint8Array(length);
            if (mode === 'read') bytes = await file.readInto!(from, reused.subarray(0, length));
            // A source over just the slice: its one stream ends with the slice.
            else if (mode === 'read-stream-each') bytes = await blobSource(blob.slice(from, from + length)).readInto!(0, reused.subarray(0, length));
            else bytes = image.readBlocksInto ? await image.readBlocksInto(first, count, reused, (scanned = new Uint8Array(count))) : await image.readBlocks(first, count);
            reused = new Uint8Array(bytes.buffer as ArrayBuffer);
          }
          total += bytes.length;
          if (mode !== 'scan' && mode !== 'hash') continue;
          for (let o = 0; o < bytes.length; o += 524288) {
            const b = bytes.subarray(o, o + 524288);
            if (!blockIsZero(b, scanned[o / 524288]) && mode === 'hash') await sha256!(b);
          }
        }
      }
      return total;
    },

    /** Releases clients; the worker can then be terminated. */
    close(): void {
      clients?.close();
      clients = null;
      pipeline = null;
    },
  };
}

/** The worker API type (comlink Remote<PipelineWorkerApi> on the main thread). */
export type PipelineWorkerApi = ReturnType<typeof createPipelineWorkerApi>;
