// Downloads of this origin: start (picker or OPFS), progress from the worker, cancel, resume after a reload.
import { proxy, transfer, wrap, type Remote } from 'comlink';
import { connectionForWorker, publicConnection, type Connection } from '../../aws/clients.ts';
import type { DownloadProgress } from '../../engine/api.ts';
import { DownloadLedger, type DownloadRecord } from '../../engine/api.ts';
import { removeStaged } from '../../engine/api.ts';
import { idbManifestStore } from '../../engine/api.ts';
import type { DownloadWorkerApi } from '../../../workers/download.worker.ts';

/** A download as the page shows it: its record plus live progress while it runs here. */
export interface DownloadRow {
  record: DownloadRecord;
  progress?: DownloadProgress;
  /** True while a worker of this tab runs it. */
  live: boolean;
  /** Object URL of the finished OPFS file, offered as a normal download. */
  url?: string;
}

type SavePicker = (opts: { suggestedName?: string }) => Promise<FileSystemFileHandle>;
type WorkerPair = { worker: Worker; api: Remote<DownloadWorkerApi> };

const SNAPSHOT_ID = /^snap-[0-9a-f]{8,60}$/;

/** The page's downloads. */
export class DownloadsState {
  rows = $state.raw<DownloadRow[]>([]);
  /** The snapshot id in the form (other views fill it in before showing the download view). */
  snapshotId = $state('');
  problem = $state<string | null>(null);
  /** Pace in blocks per second (0 = no limit). */
  blocksPerSecond = $state(0);
  private ledger = new DownloadLedger();
  private workers = new Map<string, WorkerPair & { done: Promise<void> }>();
  /** A worker started ahead of the next download, its modules (and the emulator's database) already loaded. */
  private spare?: { pair: WorkerPair; kind: Connection['kind'] };
  private progress = new Map<string, DownloadProgress>();
  private urls = new Map<string, string>();

  /** Reads the recorded downloads. */
  async refresh(): Promise<void> {
    const records = await this.ledger.list();
    this.rows = records.map((record) => ({
      record,
      progress: this.progress.get(record.id),
      live: this.workers.has(record.id),
      url: this.urls.get(record.id),
    }));
  }

  /** Starts a worker ahead of the next download (on showing the view, and before the picker opens). */
  warm(connection: Connection): void {
    if (this.spare?.kind === connection.kind) return;
    this.spare?.pair.worker.terminate();
    const pair = this.spawn();
    this.spare = { pair, kind: connection.kind };
    // Only the emulator has something to open ahead (its database); credentials are never sent for a warm-up.
    if (connection.kind === 'emulator') void pair.api.warm(publicConnection(connection)).catch(() => undefined);
  }

  private spawn(): WorkerPair {
    const worker = new Worker(new URL('../../../workers/download.worker.ts', import.meta.url), { type: 'module' });
    return { worker, api: wrap<DownloadWorkerApi>(worker) };
  }

  /** Starts downloading snapshotId: a save picker where the browser has one (call from a click), OPFS otherwise. */
  async start(snapshotId: string, connection: Connection): Promise<string | undefined> {
    this.problem = null;
    const id = snapshotId.trim();
    if (!SNAPSHOT_ID.test(id)) {
      this.problem = `"${snapshotId}" is not a snapshot id. Enter an id like snap-0123456789abcdef0.`;
      return undefined;
    }
    const suggestedName = `${id}.img`;
    this.warm(connection);
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
      this.problem = `No file to save into (${(e as Error).message}). Allow the browser to save files, or free some storage, and try again.`;
      return undefined;
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
    await this.ledger.create(record);
    void this.run(record.id, connection);
    await this.refresh();
    return record.id;
  }

  /** Resumes a recorded download (call from a click: a picked file may need permission again). */
  async resume(recordId: string, connection: Connection): Promise<void> {
    this.problem = null;
    const rec = await this.ledger.get(recordId);
    if (!rec || this.workers.has(recordId)) return;
    const h = rec.handle as FileSystemFileHandle & {
      queryPermission?: (d: { mode: string }) => Promise<PermissionState>;
      requestPermission?: (d: { mode: string }) => Promise<PermissionState>;
    };
    if (h.queryPermission && (await h.queryPermission({ mode: 'readwrite' })) !== 'granted') {
      if ((await h.requestPermission?.({ mode: 'readwrite' })) !== 'granted') {
        this.problem = `Blockport may not write ${rec.fileName} any more. Allow it when the browser asks, then resume.`;
        return;
      }
    }
    void this.run(recordId, connection);
    await this.refresh();
  }

  /** Stops a running download after the blocks in flight; it stays resumable. */
  async cancel(recordId: string): Promise<void> {
    await this.workers.get(recordId)?.api.cancel(recordId);
  }

  /** Forgets a download (the file stays as it is). */
  async remove(recordId: string): Promise<void> {
    await this.cancel(recordId);
    await this.workers.get(recordId)?.done;
    const rec = await this.ledger.get(recordId);
    // The staged copy is the only thing Blockport itself stored; the picked file stays as it is.
    if (rec?.staging) {
      try {
        await removeStaged(rec.staging);
      } catch (e) {
        this.problem = `The partial copy of ${rec.fileName} in the browser's storage could not be deleted (${(e as Error).message}). Close other Blockport tabs and remove it again.`;
        return;
      }
    }
    await this.ledger.delete(recordId);
    const url = this.urls.get(recordId);
    if (url) URL.revokeObjectURL(url);
    this.urls.delete(recordId);
    this.progress.delete(recordId);
    await this.refresh();
  }

  private run(recordId: string, connection: Connection): Promise<void> {
    const spare = this.spare?.kind === connection.kind ? this.spare.pair : undefined;
    if (spare) this.spare = undefined;
    const pair = spare ?? this.spawn();
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    this.workers.set(recordId, { ...pair, done });
    return this.drive(recordId, connection, pair).finally(finished);
  }

  private async drive(recordId: string, connection: Connection, { worker, api }: WorkerPair): Promise<void> {
    const { connection: forWorker, transfer: transferList, release } = connectionForWorker(connection);
    let last = 0;
    try {
      await api.run(
        transfer({ recordId, connection: forWorker, blocksPerSecond: this.blocksPerSecond || undefined }, transferList),
        proxy((p: DownloadProgress) => {
          this.progress.set(recordId, p);
          // The row is redrawn at most ten times a second, from the progress alone: re-reading every record from
          // IndexedDB (handles, bitmaps) and redrawing the list on each tick took CPU from the download itself.
          const now = performance.now();
          if (now - last > 100 || p.blocksDone === p.blocksTotal) {
            last = now;
            this.rows = this.rows.map((r) => (r.record.id === recordId ? { ...r, progress: p, live: true } : r));
          }
        }),
      );
      const rec = await this.ledger.get(recordId);
      if (rec?.viaOpfs) this.urls.set(recordId, URL.createObjectURL(await rec.handle.getFile()));
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (!/cancelled/.test(msg)) this.problem = msg;
    } finally {
      // The run has ended: its credential port is closed (the worker keeps no credentials between runs).
      release();
      this.workers.delete(recordId);
      // The run has ended and its files are closed: the worker, modules loaded, serves the next download.
      if (!this.spare) this.spare = { pair: { worker, api }, kind: connection.kind };
      else worker.terminate();
      await this.refresh();
    }
  }
}

/** The one downloads state of the page. */
export const downloads = new DownloadsState();
