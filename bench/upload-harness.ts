// Browser side of bench/upload.bench.ts: runs the engine's pieces on a picked file and reports bytes and milliseconds.
import { proxy, wrap } from 'comlink';
import { startUpload, type Connection, type UploadOptions } from '../src/engine/api.ts';
import type { PipelineWorkerApi } from '../src/engine/upload/pipeline-worker-api.ts';
import type { Slice } from '../src/engine/block-pipeline.ts';
import { PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { createClients } from '../src/aws/clients.ts';
import { toBase64, webCryptoSha256 } from '../src/engine/block-digest.ts';

function pickedFile(): File {
  const f = (document.getElementById('bench-file') as HTMLInputElement | null)?.files?.[0];
  if (!f) throw new Error('no file picked');
  return f;
}

function sliceClaimer(blocks: number, sliceBlocks: number): () => Promise<Slice | null> {
  let at = 0;
  return async () => {
    if (at >= blocks) return null;
    const s = { first: at, count: Math.min(sliceBlocks, blocks - at) };
    at += sliceBlocks;
    return s;
  };
}

type ReadMode = 'read' | 'read-stream-each' | 'read-new' | 'scan' | 'hash';

/**
 * `workers` upload workers read the picked file in `mode` (see PipelineWorkerApi.readAll), `sliceBytes` at a time,
 * claiming `claimBlocks` blocks at once; timed from the first claim. Returns bytes read and what open() chose.
 */
async function workersRead(workers: number, mode: ReadMode, sliceBytes: number, claimBlocks: number, hash?: 'webcrypto' | 'wasm'): Promise<{ bytes: number; ms: number; kind: string }> {
  const file = pickedFile();
  const ws = Array.from({ length: workers }, () => new Worker(new URL('../workers/upload.worker.ts', import.meta.url), { type: 'module' }));
  try {
    const apis = ws.map((w) => wrap<PipelineWorkerApi>(w));
    const kinds = await Promise.all(apis.map((a) => a.open({ file, ...(hash ? { hash } : {}) })));
    const claim = sliceClaimer(Math.ceil(file.size / 524288), claimBlocks);
    const t0 = performance.now();
    const bytes = (await Promise.all(apis.map((a) => a.readAll(proxy(claim), mode, sliceBytes / 524288)))).reduce((a, b) => a + b, 0);
    return { bytes, ms: performance.now() - t0, kind: `${kinds[0]!.hash}, ${kinds[0]!.zeroScan} zero scan` };
  } finally {
    for (const w of ws) w.terminate();
  }
}

/**
 * (a) Read ceiling: workers read 16 MiB slices of the File into one reused buffer and discard them; 'read' continues
 * one stream across a worker's consecutive slices, 'read-stream-each' opens one per slice, 'read-new' takes a new
 * ArrayBuffer per slice. One worker claims slice after slice; several claim runs of 128 MiB, so each one's slices
 * still follow each other.
 */
function readCeiling(workers = 1, sliceBytes = 16 * 1048576, mode: 'read' | 'read-stream-each' | 'read-new' = 'read'): Promise<{ bytes: number; ms: number }> {
  const slice = sliceBytes / 524288;
  return workersRead(workers, mode, sliceBytes, workers > 1 ? Math.max(slice, 256) : slice);
}

/**
 * A run of the engine (dry when connection is null); returns the report and wall time. Empty blocks are skipped unless
 * the options say otherwise: the figures are MiB/s of data and peaks over mostly-empty images, as measured before
 * writing every block became the default.
 */
async function engineRun(
  connection: Connection | null,
  options: UploadOptions = {},
): Promise<{ avgMiBps: number; ms: number; bytes: number; state: string; written: number; skipped: number; snapshotId: string; window: { max: number; meanInFlight: number } }> {
  const file = pickedFile();
  const t0 = performance.now();
  const run = await startUpload({ file, connection: connection ?? { kind: 'emulator' }, options: { zeroBlocks: 'skip', ...options, ...(connection ? {} : { dryRun: true }) } });
  // The window the pacers reached and the blocks actually in flight, from the progress samples of the upload phase.
  let max = 0;
  let sum = 0;
  let n = 0;
  run.onProgress((p) => {
    if (p.phase !== 'uploading') return;
    // Before the first batch the meter shows the ceiling as the window: only a sample with blocks in flight has one.
    if (p.inFlight > 0) max = Math.max(max, p.concurrency);
    sum += p.inFlight;
    n++;
  });
  const r = await run.done;
  return { avgMiBps: r.avgMiBps, ms: performance.now() - t0, bytes: r.bytesWritten, state: r.state, written: r.blocksWritten, skipped: r.blocksSkipped, snapshotId: r.snapshotId, window: { max, meanInFlight: n ? sum / n : 0 } };
}

/** Read, zero-scan and hash through two workers with a chosen hash implementation (WebCrypto vs hash-wasm), 16 MiB slices of 128 MiB runs. */
function hashRun(hash: 'webcrypto' | 'wasm', workers = 2): Promise<{ bytes: number; ms: number; kind: string }> {
  return workersRead(workers, 'hash', 16 * 1048576, 256, hash);
}

/**
 * The picked image's data blocks (not all zero), every one of them in turn until `blocks` are taken at an even spacing:
 * random and text in the image's proportions, repeats and all, as an upload of it puts them.
 */
async function imageDataBlocks(blocks: number): Promise<Uint8Array[]> {
  const file = pickedFile();
  const data: number[] = [];
  const SLICE = 16 * 1048576;
  for (let at = 0; at < file.size; at += SLICE) {
    const buf = await file.slice(at, Math.min(file.size, at + SLICE)).arrayBuffer();
    const words = new Uint32Array(buf, 0, buf.byteLength >> 2);
    for (let w = 0; w < words.length; w += 131072) {
      const end = Math.min(words.length, w + 131072);
      for (let k = w; k < end; k++) {
        if (words[k] !== 0) {
          data.push((at + w * 4) / 524288);
          break;
        }
      }
    }
  }
  const step = Math.max(1, data.length / blocks);
  const picked = Array.from({ length: Math.min(blocks, data.length) }, (_, k) => data[Math.floor(k * step)]!);
  return Promise.all(picked.map(async (i) => new Uint8Array(await file.slice(i * 524288, (i + 1) * 524288).arrayBuffer())));
}

/**
 * Transport ceiling: PutSnapshotBlock of pre-hashed blocks straight from this page, `concurrency` in flight, bodies as
 * the engine sends them. The blocks are distinct (the stores keep each content once, so repeated bodies would be
 * cheaper than an upload's), or with `fromImage` the image's own data blocks: Chromium's IndexedDB compresses what
 * it stores, so the in-browser emulator's ceiling is only one for an upload of the same bytes.
 */
async function rawPuts(connection: Connection, blocks: number, concurrency: number, blobBodies = connection.kind !== 'emulator', fromImage = false): Promise<{ bytes: number; ms: number }> {
  const { ebs, close } = await createClients(connection, { blobBodies });
  try {
    const snap = await ebs.send(new StartSnapshotCommand({ VolumeSize: Math.max(1, Math.ceil(blocks / 2048)) }));
    const data = fromImage
      ? await imageDataBlocks(blocks)
      : Array.from({ length: blocks }, (_, k) => {
          const b = new Uint8Array(524288);
          crypto.getRandomValues(b.subarray(0, 65536));
          new DataView(b.buffer).setUint32(100000, k + 1);
          return b;
        });
    const sums = await Promise.all(data.map(async (d) => toBase64(await webCryptoSha256(d))));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < data.length; i = next++) {
          await ebs.send(new PutSnapshotBlockCommand({ SnapshotId: snap.SnapshotId!, BlockIndex: i, BlockData: data[i]!, DataLength: 524288, Checksum: sums[i]!, ChecksumAlgorithm: 'SHA256' }));
        }
      }),
    );
    return { bytes: data.length * 524288, ms: performance.now() - t0 };
  } finally {
    close();
  }
}

/**
 * Pieces of the dry run on their own: two workers claim runs of 128 MiB and read them a slice at a time ('read'), also
 * zero-scan what lands ('scan'), or also hash the blocks with data ('hash').
 */
function readRun(mode: 'read' | 'scan' | 'hash', workers = 2, sliceBytes = 4 * 1048576): Promise<{ bytes: number; ms: number }> {
  return workersRead(workers, mode, sliceBytes, 256);
}

Object.assign(window, { __bench: { readCeiling, readRun, engineRun, hashRun, rawPuts } });
