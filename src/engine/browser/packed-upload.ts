// Main-thread side of packed images (.xz, .tar.gz, .zip, …): the plan says how the disk will be read, a worker finds
// it and unpacks it where needed, and the upload then runs as for any disk. Nothing is decoded on this thread.
import { proxy, wrap } from 'comlink';
import { blobSource } from '../../images/blob-source.ts';
import { chainLabel, detectContainer, spoolFull } from '../../images/container-magic.ts';
import type { DiskRoute, Packing } from '../../images/disk-route.ts';
import { openRaw } from '../../images/raw.ts';
import { BLOCK_SIZE, BlockState, ImageFormatError, type DiskImage } from '../../images/types.ts';
import { bestSha256 } from '../block-digest.ts';
import { fingerprintOf } from '../fingerprint.ts';
import { resolveParams } from '../job-record.ts';
import { defaultVolumeSizeGiB } from '../volume.ts';
import { checkSameDisk, prepareJob, type ReopenWords } from '../upload/job.ts';
import type { LedgerStore } from '../ledger.ts';
import { type Connection, type Fingerprint, type JobRecord, type PackedPlan, type UploadOptions, type UploadPlan, type UploadRun } from '../upload-types.ts';
import { removeOpfsSpools, sweepOpfsSpools } from './opfs-spool.ts';
import type { BootFindings, PackedWorkerApi, RoutedPacked, UnpackedDisk, WorkerError } from './packed-worker-api.ts';
import { UnpackingRun } from './unpack-run.ts';

/** An opened disk and its block states, as the controller runs it. */
export interface Prepared {
  image: DiskImage;
  blockStates: Uint8Array;
}

/** What the controller lends: how it opens a disk, records and runs a job, plans a bare disk. */
export interface PackedHost {
  openFile(file: File): Promise<Prepared>;
  /** Where jobs are recorded. */
  store: LedgerStore;
  /** Runs a recorded job over the file the pool reads (the disk itself, or the packed file when streamed). */
  run(job: JobRecord, opts: UploadOptions, source: { file: File; prepared: Prepared }): Promise<UploadRun>;
  /** A dry run over the file the pool reads (nothing sent). */
  dryRun(file: File, opts: UploadOptions, prepared: Prepared, packing?: Packing): Promise<UploadRun>;
}

/** True when a file's first bytes announce a container (4 KiB read here; nothing is decoded). */
export async function isPacked(file: Blob): Promise<boolean> {
  return detectContainer(new Uint8Array(await file.slice(0, 4096).arrayBuffer())) !== undefined;
}

/** Starts the image worker (boot detection, packed files); terminate() ends it (and anything it was reading). */
function packedWorker(): { api: ReturnType<typeof wrap<PackedWorkerApi>>; terminate(): void } {
  const w = new Worker(new URL('../../../workers/packed.worker.ts', import.meta.url), { type: 'module', name: 'blockport-packed' });
  return { api: wrap<PackedWorkerApi>(w), terminate: () => w.terminate() };
}

function isWorkerError(r: object): r is WorkerError {
  return 'message' in r && 'name' in r;
}

/** The page's error for what the worker refused: an ImageFormatError keeps its sentence and code. */
function rebuilt(e: WorkerError): Error {
  if (e.name === 'ImageFormatError') return new ImageFormatError(e.message, undefined, e.code);
  return Object.assign(new Error(e.message), { name: e.name });
}

/**
 * How a bare disk boots and its Nitro findings, read in the image worker through its format reader; nothing where the
 * worker could not read them (the plan then has no Boots row, as when detection finds nothing to read).
 */
export async function bootInWorker(file: File): Promise<BootFindings> {
  let w: ReturnType<typeof packedWorker> | undefined;
  try {
    w = packedWorker();
    const r = await w.api.boot(file);
    return isWorkerError(r) ? {} : r;
  } catch {
    return {};
  } finally {
    w?.terminate();
  }
}

// Routes found while planning, by file identity, so Start does not measure a stream again.
const routes = new Map<string, RoutedPacked>();
const identity = (f: File) => `${f.name}\u0000${f.size}\u0000${f.lastModified}`;

async function routeOf(file: File, progress?: (fraction: number) => void): Promise<RoutedPacked> {
  const known = routes.get(identity(file));
  if (known) return known;
  const w = packedWorker();
  try {
    const r = await w.api.route(file, progress ? proxy(progress) : undefined);
    if (isWorkerError(r)) throw rebuilt(r);
    routes.clear();
    routes.set(identity(file), r);
    return r;
  } finally {
    w.terminate();
  }
}

const GiB = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;

async function freeRoom(): Promise<number | undefined> {
  const e = await navigator.storage?.estimate?.().catch(() => undefined);
  return e?.quota !== undefined ? e.quota - (e.usage ?? 0) : undefined;
}

/** The plan's sentences for a route. */
async function howOf(r: DiskRoute & { path: 'in-place' | 'streamed' | 'unpacked' }): Promise<string[]> {
  const chain = chainLabel(r.container);
  if (r.path === 'in-place') return [`The disk lies in the archive (${chain}) as it is, so it is read where it lies; nothing is unpacked.`];
  if (r.path === 'streamed') {
    return [
      r.format === 'vmdk'
        ? `Streamed: the streamOptimized VMDK inside (${chain}) is decompressed in the browser grain by grain as it is read and each block is sent as it comes; nothing is unpacked to storage.`
        : `Streamed: the raw disk inside (${chain}) is decompressed in the browser as it is read and each block is sent as it comes; nothing is unpacked to storage.`,
      ...(r.measured ? ['Its unpacked size was measured by decompressing it once, as the file does not declare it.'] : []),
      'A resumed upload decompresses from the start again and skips the blocks already sent.',
      ...(r.container.at(-1) === 'xz' && r.format === 'raw' ? ['If the xz file is made of several blocks (as `xz -T0` writes it), a resume starts at the block where it stopped instead.'] : []),
      ...(r.container.at(-1) === 'zstd' && r.format === 'raw' ? ['If the zstd file carries a seek table (the seekable format), a resume starts at the frame where it stopped instead.'] : []),
    ];
  }
  const free = await freeRoom();
  return [
    `Unpacked first: the ${r.format ?? 'disk'} inside (${chain}) must be read at random, so it is unpacked to this browser's private storage before any block is sent${
      r.unpackedSize !== undefined ? ` (${GiB(r.unpackedSize)}${free !== undefined ? `, ${GiB(free)} free` : ''})` : free !== undefined ? ` (its unpacked size is not declared; ${GiB(free)} free, checked as it grows)` : ''
    }.`,
    ...(r.virtualSize === undefined ? ['Its disk size is read once it is unpacked; a volume size below it is raised to fit.'] : []),
    'A resumed upload reuses what was unpacked while it is intact; it is deleted when the upload completes or is discarded.',
  ];
}

/** A raw disk of `size` bytes as the page plans it; its bytes are read in the worker, never here. */
function plannedRaw(size: number): Prepared {
  const image = openRaw({
    size,
    read: () => Promise.reject(new Error('a streamed disk is read in the upload worker')),
  });
  return { image, blockStates: new Uint8Array(image.blockCount).fill(BlockState.Data) };
}

/**
 * The plan of a packed file: how its disk will be read, with what can be known before (a disk unpacked first gives
 * its size from its header where the format has one). Undefined when the file turns out to be a bare disk (an OVA).
 */
export async function planPacked(file: File, host: Pick<PackedHost, 'openFile'> & { planDisk(file: File): Promise<UploadPlan> }, progress?: (fraction: number) => void): Promise<UploadPlan | undefined> {
  const { route, boot, nitro } = await routeOf(file, progress);
  if (route.path === 'direct') return undefined;
  const packed: PackedPlan = { container: route.container, path: route.path, how: await howOf(route), sizeKnown: route.path !== 'unpacked' || route.virtualSize !== undefined };
  if (route.path === 'in-place') {
    const plan = await host.planDisk(diskOf(file, route));
    return { ...plan, notices: [...route.notices, ...plan.notices], packed };
  }
  const size = route.path === 'streamed' ? route.size : (route.virtualSize ?? BLOCK_SIZE);
  const { image, blockStates } = plannedRaw(size);
  return {
    format: route.format ?? 'raw',
    virtualSize: size,
    volumeSizeGiB: resolveParams({}, size).volumeSizeGiB,
    blockCount: image.blockCount,
    blocksToSend: image.blockCount,
    blockStates,
    notices: route.notices,
    ...(boot ? { boot } : {}),
    ...(nitro ? { nitro } : {}),
    packed,
  };
}

/** The disk of an in-place route: a File over its bytes in the picked file (no copy). */
function diskOf(file: File, r: { offset: number; length: number }): File {
  return new File([file.slice(r.offset, r.offset + r.length)], file.name, { lastModified: file.lastModified });
}

/** The key a job's kept unpacked disk is stored under in OPFS: a hash of the picked file's fingerprint. */
export async function spoolKey(f: Fingerprint): Promise<string> {
  const text = JSON.stringify([f.name, f.size, f.lastModified, f.firstBlockSha256, f.lastBlockSha256]);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Deletes what was unpacked for a job (it completed, was cancelled or discarded). */
export async function forgetUnpacked(job: Pick<JobRecord, 'fingerprint' | 'packing'>): Promise<void> {
  if (job.packing?.path !== 'unpacked' || typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return;
  await removeOpfsSpools(await spoolKey(job.fingerprint)).catch(() => undefined);
}

/** Deletes the kept disk once the run ends for good (completed or cancelled); a failed run keeps it for its resume. */
function forgetWhenFinished(run: UploadRun, job: JobRecord): UploadRun {
  run.done.then(
    (r) => (r.state === 'completed' ? forgetUnpacked(job) : undefined),
    (e: unknown) => ((e as { code?: string }).code === 'cancelled' ? forgetUnpacked(job) : undefined),
  );
  return run;
}

/**
 * Unpacks the disk of `file` in a worker, under the job's key (a kept, intact copy is reused), holding a lock on the
 * key meanwhile so no other tab sweeps it; what no unfinished job needs is swept first.
 */
async function unpackInWorker(file: File, key: string, host: PackedHost, progress: (f: number) => void, abortable: (abort: () => void) => void): Promise<UnpackedDisk> {
  const keep = new Set<string>([key]);
  for (const j of await host.store.listJobs().catch(() => [])) if (j.packing?.path === 'unpacked' && j.state !== 'completed' && j.state !== 'cancelled') keep.add(await spoolKey(j.fingerprint));
  const held = await navigator.locks?.query?.().catch(() => undefined);
  for (const l of held?.held ?? []) {
    const m = /^blockport-unpack-([0-9a-f]{32})$/.exec(l.name ?? '');
    if (m) keep.add(m[1]!);
  }
  await sweepOpfsSpools(keep).catch(() => undefined);
  const work = async (): Promise<UnpackedDisk> => {
    const w = packedWorker();
    // Cancel ends the worker at once; the call it was answering never returns, so the wait is ended here.
    const aborted = new Promise<never>((_, reject) => abortable(() => (w.terminate(), reject(new Error('aborted')))));
    aborted.catch(() => undefined);
    try {
      const r = await Promise.race([w.api.unpack(file, key, proxy(progress)), aborted]);
      if (isWorkerError(r)) throw rebuilt(r);
      return r;
    } finally {
      w.terminate();
    }
  };
  return navigator.locks ? navigator.locks.request(`blockport-unpack-${key}`, work) : work();
}

/** Arguments of startPacked. */
export interface StartPackedArgs {
  connection: Connection;
  options: UploadOptions;
  fileHandle?: FileSystemFileHandle;
}

/**
 * Options for a run over a streamed disk: one upload worker reads the one stream in order (a stream worker decodes
 * it, so the upload worker is still replaced as it goes), replaced every STREAMED_RECYCLE claimed blocks: where OPFS
 * cannot keep the blocks it sends (block-spool.ts), they go to fetch as Blobs of bytes that wait in the browser process
 * until the worker's next full collection (a 1 GiB .raw.xz held all 128 MiB of its data there, bench:memory), and
 * ending the worker frees them.
 */
const streamedOptions = (opts: UploadOptions): UploadOptions => ({ ...opts, workers: 1, recycleBlocks: opts.recycleBlocks ?? STREAMED_RECYCLE });
const STREAMED_RECYCLE = 256;

/** Starts an upload of a packed file; undefined when it turns out to be a bare disk (the caller uploads it as one). */
export async function startPacked(file: File, args: StartPackedArgs, host: PackedHost): Promise<UploadRun | undefined> {
  const { route } = await routeOf(file);
  if (route.path === 'direct') return undefined;
  const opts = args.options;
  const { sha256 } = await bestSha256();
  const fingerprint = await fingerprintOf(blobSource(file), { name: file.name, lastModified: file.lastModified }, sha256);
  // The ClientToken is persisted before StartSnapshot is ever sent.
  const record = (prepared: Prepared, packing: Packing, options: UploadOptions, id?: string): Promise<JobRecord> =>
    prepareJob({
      ...prepared,
      fingerprint: async () => fingerprint,
      connection: args.connection,
      options,
      store: host.store,
      packing,
      ...(id ? { id } : {}),
      ...(args.fileHandle ? { fileHandle: args.fileHandle } : {}),
    });
  if (route.path === 'in-place' || route.path === 'streamed') {
    const packing: Packing = route.path === 'in-place' ? { path: 'in-place', container: route.container, offset: route.offset, length: route.length } : { path: 'streamed', container: route.container, steps: route.steps, size: route.size };
    const streamed = route.path === 'streamed';
    const runFile = streamed ? file : diskOf(file, route);
    const prepared = streamed ? plannedRaw(route.size) : await host.openFile(runFile);
    const o = streamed ? streamedOptions(opts) : opts;
    if (opts.dryRun) return host.dryRun(runFile, o, prepared, streamed ? packing : undefined);
    return host.run(await record(prepared, packing, opts), o, { file: runFile, prepared });
  }
  // Unpacked first: checked against the room before anything is written.
  const free = await freeRoom();
  if (route.unpackedSize !== undefined && free !== undefined && route.unpackedSize > free) throw spoolFull(route.unpackedSize, free, "this site's browser storage");
  const key = await spoolKey(fingerprint);
  const jobId = crypto.randomUUID();
  const estimate = Math.ceil((route.virtualSize ?? 0) / BLOCK_SIZE);
  let abort = () => {};
  return new UnpackingRun(
    jobId,
    estimate,
    async (progress, cancelled) => {
      const unpacked = await unpackInWorker(file, key, host, progress, (a) => (abort = a));
      const prepared = await host.openFile(unpacked.disk);
      if (cancelled()) throw new Error('cancelled');
      const packing: Packing = { path: 'unpacked', container: unpacked.container };
      // A size the plan could not know (VHDX, a zip inside a stream) gets at least the volume the disk needs.
      const need = defaultVolumeSizeGiB(prepared.image.virtualSize);
      const o = route.virtualSize === undefined && (opts.volumeSizeGiB ?? need) < need ? { ...opts, volumeSizeGiB: need } : opts;
      if (o.dryRun) return host.dryRun(unpacked.disk, o, prepared);
      const job = await record(prepared, packing, o, jobId);
      return forgetWhenFinished(await host.run(job, o, { file: unpacked.disk, prepared }), job);
    },
    () => {
      abort();
      // Nothing was recorded: what was unpacked so far goes too.
      void removeOpfsSpools(key).catch(() => undefined);
    },
    'The upload was cancelled while its disk was being unpacked; nothing was sent, and what was unpacked is deleted.',
  );
}

/** Resumes a packed job over the picked file (its fingerprint already matched): the disk reached as it was recorded. */
export async function resumePacked(job: JobRecord, file: File, opts: UploadOptions, host: PackedHost, words: ReopenWords): Promise<UploadRun> {
  const packing = job.packing!;
  const same = (prepared: Prepared) => (checkSameDisk(job, prepared.image, words), prepared);
  if (packing.path === 'streamed') return host.run(job, streamedOptions(opts), { file, prepared: same(plannedRaw(packing.size)) });
  if (packing.path === 'in-place') {
    const disk = diskOf(file, packing);
    return host.run(job, opts, { file: disk, prepared: same(await host.openFile(disk)) });
  }
  const key = await spoolKey(job.fingerprint);
  let abort = () => {};
  return new UnpackingRun(
    job.id,
    job.counters.totalBlocks,
    async (progress, cancelled) => {
      const unpacked = await unpackInWorker(file, key, host, progress, (a) => (abort = a));
      const prepared = same(await host.openFile(unpacked.disk));
      if (cancelled()) throw new Error('cancelled');
      return forgetWhenFinished(await host.run(job, opts, { file: unpacked.disk, prepared }), job);
    },
    () => abort(),
    'Unpacking was stopped before any block was sent; the upload stays unfinished. Resume or discard it under Jobs.',
  );
}
