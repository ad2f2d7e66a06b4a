// The page's side of downloads: where a download goes (the picked file, or OPFS where the browser has no save
// picker), its record, and the worker that runs it; a worker stays ready for the next download.
import { proxy, transfer, type Remote } from 'comlink';
import { publicConnection, type Connection } from '../../aws/clients.ts';
import type { DownloadProgress } from '../download/download.ts';
import { DownloadError } from '../download/download-error.ts';
import type { DownloadJobApi } from './download-job.ts';
import { DownloadLedger, type DownloadRecord } from './download-ledger.ts';
import { removeStaged } from './download-staging.ts';
import { idbManifestStore } from './manifest-idb.ts';
import { comlinkWorker, WorkerBridge } from './worker-bridge.ts';

/** How a download run ended: completed (with the file to hand over as a normal download when it went to OPFS), or stopped by cancelDownload (it stays resumable). */
export type DownloadEnd = { state: 'completed'; file?: File } | { state: 'stopped' };

/** A download running in this tab. */
export interface DownloadRun {
  /** Its record's id. */
  id: string;
  /** Calls fn with each progress report (the latest one at once, if any); returns the function that stops it. */
  onProgress(fn: (p: DownloadProgress) => void): () => void;
  /** Settles when the run ends; rejects with a sentence when the download failed (its record says so too). */
  done: Promise<DownloadEnd>;
}

/** How a run goes. */
export interface DownloadRunOptions {
  /** Pace in blocks per second (0 or unset: no limit). */
  blocksPerSecond?: number;
}

type SavePicker = (opts: { suggestedName?: string }) => Promise<FileSystemFileHandle>;
type Bridge = WorkerBridge<Remote<DownloadJobApi>>;

const SNAPSHOT_ID = /^snap-[0-9a-f]{8,60}$/;
const ledger = new DownloadLedger();
/** Runs of this tab, by record id. */
const running = new Map<string, { bridge: Bridge; ended: Promise<unknown> }>();
/** A worker started ahead of the next download, its modules (and the emulator's database) already loaded. */
let spare: { bridge: Bridge; kind: Connection['kind'] } | undefined;

function newBridge(): Bridge {
  return new WorkerBridge({ spawn: () => comlinkWorker<DownloadJobApi>(new Worker(new URL('../../../workers/download.worker.ts', import.meta.url), { type: 'module' })) });
}

/** The recorded downloads of this origin, newest first. */
export function listDownloads(): Promise<DownloadRecord[]> {
  return ledger.list();
}

/** Starts a worker ahead of the next download (on showing the view, and before the picker opens). */
export function warmDownloads(connection: Connection): void {
  if (spare?.kind === connection.kind) return;
  spare?.bridge.terminate();
  const bridge = newBridge();
  spare = { bridge, kind: connection.kind };
  // Only the emulator has something to open ahead (its database); credentials are never sent for a warm-up.
  if (connection.kind === 'emulator') void bridge.call(({ api }) => api.warm(publicConnection(connection))).catch(() => undefined);
  else void bridge.start().catch(() => undefined);
}

/**
 * Starts downloading snapshotId into a file the person picks where the browser has a save picker (call from a
 * click), into OPFS otherwise. Resolves undefined when the person closed the picker; rejects with a sentence when the
 * id is not a snapshot id or there is no file to save into.
 */
export async function startDownload(snapshotId: string, connection: Connection, opts: DownloadRunOptions = {}): Promise<DownloadRun | undefined> {
  const id = snapshotId.trim();
  if (!SNAPSHOT_ID.test(id)) throw new DownloadError(`"${snapshotId}" is not a snapshot id. Enter an id like snap-0123456789abcdef0.`, 'input');
  const suggestedName = `${id}.img`;
  warmDownloads(connection);
  let handle: FileSystemFileHandle;
  let viaOpfs = false;
  const picker = (globalThis as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  try {
    if (picker) handle = await picker({ suggestedName });
    else {
      const dir = await navigator.storage.getDirectory();
      handle = await dir.getFileHandle(suggestedName, { create: true });
      viaOpfs = true;
    }
  } catch (e) {
    if ((e as DOMException).name === 'AbortError') return undefined;
    throw new DownloadError(`No file to save into (${(e as Error).message}). Allow the browser to save files, or free some storage, and try again.`, 'target', e);
  }
  // The library knows the original image size of snapshots Blockport uploaded: restore exactly that.
  const manifest = await idbManifestStore().get(id).catch(() => undefined);
  const recordId = crypto.randomUUID();
  const record: DownloadRecord = {
    id: recordId,
    snapshotId: id,
    connection: publicConnection(connection),
    handle,
    viaOpfs,
    // A picked file commits only when closed: blocks are staged in OPFS (resumable) and copied in at the end.
    ...(viaOpfs ? {} : { staging: `${recordId}.part`, phase: 'fetching' as const }),
    fileName: handle.name,
    ...(manifest?.imageSize ? { size: manifest.imageSize } : {}),
    bitmap: new Uint8Array(0),
    blocksDone: 0,
    blocksTotal: 0,
    state: 'running',
    created: Date.now(),
    updated: Date.now(),
  };
  await ledger.create(record);
  return run(recordId, connection, opts);
}

/**
 * Resumes a recorded download (call from a click: a picked file may need permission again). Resolves undefined when
 * it is not recorded or already runs here; rejects with a sentence when the file may not be written.
 */
export async function resumeDownload(recordId: string, connection: Connection, opts: DownloadRunOptions = {}): Promise<DownloadRun | undefined> {
  const rec = await ledger.get(recordId);
  if (!rec || running.has(recordId)) return undefined;
  const h = rec.handle as FileSystemFileHandle & {
    queryPermission?: (d: { mode: string }) => Promise<PermissionState>;
    requestPermission?: (d: { mode: string }) => Promise<PermissionState>;
  };
  if (h.queryPermission && (await h.queryPermission({ mode: 'readwrite' })) !== 'granted') {
    if ((await h.requestPermission?.({ mode: 'readwrite' })) !== 'granted') {
      throw new DownloadError(`Blockport may not write ${rec.fileName} any more. Allow it when the browser asks, then resume.`, 'target');
    }
  }
  return run(recordId, connection, opts);
}

/** Stops a running download after the blocks in flight; it stays resumable. */
export async function cancelDownload(recordId: string): Promise<void> {
  await running.get(recordId)?.bridge.interrupt(({ api }) => api.cancel(recordId));
}

/** Forgets a download (a picked file stays as it is; the partial copy in the browser's storage goes). */
export async function removeDownload(recordId: string): Promise<void> {
  await cancelDownload(recordId);
  await running.get(recordId)?.ended;
  const rec = await ledger.get(recordId);
  // The staged copy is the only thing Blockport itself stored; the picked file stays as it is.
  if (rec?.staging) {
    try {
      await removeStaged(rec.staging);
    } catch (e) {
      throw new DownloadError(
        `The partial copy of ${rec.fileName} in the browser's storage could not be deleted (${(e as Error).message}). Close other Blockport tabs and remove it again.`,
        'target',
        e,
      );
    }
  }
  await ledger.delete(recordId);
}

/** Runs a recorded download on the spare worker (or a new one); afterwards the worker is the spare, or ends. */
function run(recordId: string, connection: Connection, opts: DownloadRunOptions): DownloadRun {
  const bridge = spare?.kind === connection.kind ? spare.bridge : newBridge();
  if (spare?.bridge === bridge) spare = undefined;
  const listeners = new Set<(p: DownloadProgress) => void>();
  let latest: DownloadProgress | undefined;
  const progress = (p: DownloadProgress) => {
    latest = p;
    for (const fn of listeners) fn(p);
  };
  const done = drive(recordId, connection, opts, bridge, progress).finally(() => {
    running.delete(recordId);
    // The run has ended and its files are closed: the worker, modules loaded, serves the next download.
    if (!spare) spare = { bridge, kind: connection.kind };
    else bridge.terminate();
  });
  running.set(recordId, { bridge, ended: done.catch(() => undefined) });
  return {
    id: recordId,
    done,
    onProgress(fn) {
      listeners.add(fn);
      if (latest) fn(latest);
      return () => listeners.delete(fn);
    },
  };
}

async function drive(recordId: string, connection: Connection, opts: DownloadRunOptions, bridge: Bridge, onProgress: (p: DownloadProgress) => void): Promise<DownloadEnd> {
  try {
    // The credential port lives as long as the run: the worker keeps no credentials between runs.
    await bridge.call(({ api, lend }) => {
      const c = lend(connection);
      return api.run(transfer({ recordId, connection: c.connection, blocksPerSecond: opts.blocksPerSecond || undefined }, c.transfer), proxy(onProgress));
    });
  } catch (e) {
    // Errors cross from the worker as message and name only.
    if (/cancelled/.test((e as Error).message ?? '')) return { state: 'stopped' };
    throw e;
  }
  const rec = await ledger.get(recordId);
  return rec?.viaOpfs ? { state: 'completed', file: await rec.handle.getFile() } : { state: 'completed' };
}
