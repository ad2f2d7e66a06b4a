// A download as a resumable job: ledger record + file handle + connection → downloadSnapshot. Runs in a worker.
import { transfer } from 'comlink';
import { createClients, type Connection } from '../../aws/clients.ts';
import { downloadSnapshot, type DownloadProgress, type DownloadResult } from '../download/download.ts';
import { DownloadError } from '../download/download-error.ts';
import { DownloadLedger, type DownloadRecord } from './download-ledger.ts';
import { openHere, openStagingTarget, removeStaged, stagingDir, writeStagedFile } from './download-staging.ts';
import { openHandleTarget, type AsyncAccessHandle } from '../download/download-target.ts';
import type { WriterApi } from './download-writer.ts';
import { comlinkWorker, WorkerStartError } from './worker-bridge.ts';

/** What a worker needs to run (or resume) the download recorded under recordId. */
export interface DownloadJobArgs {
  recordId: string;
  /** The connection with credentials (held in memory only). */
  connection: Connection;
  ledgerDb?: string;
  concurrency?: number;
  blocksPerSecond?: number;
  /** Read-lag budget in ms (404 right after completion). */
  lagMs?: number;
}

const running = new Map<string, AbortController>();
// EBS snapshots use 512 KiB blocks; the staged slots are that size.
const BLOCK_BYTES = 524288;

/** Runs the recorded download to the end (or until cancelled), keeping the ledger current. */
async function runDownloadJob(args: DownloadJobArgs, onProgress?: (p: DownloadProgress) => void): Promise<DownloadResult> {
  const ledger = new DownloadLedger(args.ledgerDb);
  const rec = await ledger.get(args.recordId);
  if (!rec) throw new DownloadError('This download is no longer recorded; start it again.', 'resume');
  if (running.has(rec.id)) throw new DownloadError('This download is already running.', 'resume');
  const ac = new AbortController();
  running.set(rec.id, ac);
  const resuming = rec.blocksDone > 0;
  let clients: Clients | undefined;
  try {
    // The browser may have cleared the staged copy (storage pressure, site data): its blocks are gone, so
    // the ledger must not claim them; the download starts over rather than write zeros in their place.
    if (rec.staging && (rec.blocksDone > 0 || rec.phase === 'writing') && !(await stagedBytes(rec.staging))) {
      Object.assign(rec, { bitmap: new Uint8Array(0), blocksDone: 0, phase: 'fetching' });
      await ledger.update(rec.id, { bitmap: rec.bitmap, blocksDone: 0, phase: 'fetching' });
    }
    // Only the copy into the picked file is left: no listing, no fetching (the snapshot may even be gone).
    if (rec.staging && rec.phase === 'writing') {
      await ledger.update(rec.id, { state: 'running', error: undefined });
      await finishStaged(ledger, rec, ac.signal, onProgress, 0);
      return { snapshotId: rec.snapshotId, size: rec.size ?? 0, volumeSize: 0, blockSize: 524288, blocksListed: rec.blocksTotal, blocksFetched: 0, blocksResumed: rec.blocksDone, blocksBeyondSize: 0 };
    }
    clients = await clientsFor(args.connection);
    let target;
    try {
      target = rec.staging ? await openStagingTarget(rec.staging, rec.fileName, { open: openInWriter }) : await openHandleTarget(rec.handle, resuming, openInWriter);
    } catch (err) {
      const msg = rec.staging
        ? `Blockport cannot use the browser's storage to assemble ${rec.fileName} (${(err as Error).message}). Close other tabs of Blockport, then resume.`
        : `The file ${rec.fileName} cannot be written (${(err as Error).message}). Grant access or pick another file, then resume.`;
      throw new DownloadError(msg, 'target', err);
    }
    await ledger.update(rec.id, { state: 'running', error: undefined });
    let lastSent = -Infinity;
    let lastWaiting = false;
    const result = await downloadSnapshot({
      ebs: clients.ebs,
      snapshotId: rec.snapshotId,
      target,
      size: rec.size,
      done: rec.bitmap,
      concurrency: args.concurrency,
      blocksPerSecond: args.blocksPerSecond,
      lagMs: args.lagMs,
      signal: ac.signal,
      commit: (indices) => ledger.commit(rec.id, indices),
      onProgress: (p) => {
        if (p.blocksTotal !== rec.blocksTotal) {
          rec.blocksTotal = p.blocksTotal;
          void ledger.update(rec.id, { blocksTotal: p.blocksTotal });
        }
        // Progress crosses to the page (a message each way) at most every 50 ms, and always at the start and end.
        const now = performance.now();
        if (now - lastSent >= 50 || p.blocksDone === 0 || p.blocksDone === p.blocksTotal || !!p.waiting !== lastWaiting) {
          lastSent = now;
          lastWaiting = !!p.waiting;
          onProgress?.(p);
        }
      },
    });
    if (rec.staging) {
      // Every block is staged and durable: from here a resume only redoes the copy.
      await ledger.update(rec.id, { phase: 'writing', blocksTotal: result.blocksListed, size: result.size });
      Object.assign(rec, { phase: 'writing', blocksTotal: result.blocksListed, size: result.size });
      await finishStaged(ledger, rec, ac.signal, onProgress, result.blocksFetched);
    } else await ledger.update(rec.id, { state: 'completed', blocksTotal: result.blocksListed, size: result.size });
    return result;
  } catch (err) {
    const cancelled = err instanceof DownloadError && err.code === 'cancelled';
    await ledger.update(rec.id, cancelled ? { state: 'paused' } : { state: 'error', error: (err as Error).message });
    throw err;
  } finally {
    running.delete(rec.id);
    clients?.close();
  }
}

/** Size of a staged file, 0 when it is missing. */
async function stagedBytes(name: string): Promise<number> {
  try {
    return (await (await (await stagingDir()).getFileHandle(name)).getFile()).size;
  } catch {
    return 0;
  }
}

/** The last step of a picked-file download: the staged file copied into the picked one, then deleted. */
async function finishStaged(
  ledger: DownloadLedger,
  rec: DownloadRecord,
  signal: AbortSignal,
  onProgress: ((p: DownloadProgress) => void) | undefined,
  blocksFetched: number,
): Promise<void> {
  const dir = await stagingDir();
  const staged = await (await dir.getFileHandle(rec.staging!)).getFile();
  // The ledger's bitmap, as committed, says which blocks the staged slots hold.
  const fresh = await ledger.get(rec.id);
  if (!fresh || fresh.size === undefined) throw new DownloadError('This download is no longer recorded; start it again.', 'resume');
  const started = Date.now();
  let picked;
  try {
    await writeStagedFile(staged, fresh.bitmap, fresh.size, BLOCK_BYTES, async () => (picked = await rec.handle.createWritable({ keepExistingData: false })), {
      signal,
      onProgress: (done: number, total: number) => {
        const s = (Date.now() - started) / 1000;
        const speed = s > 0 ? done / s : 0;
        onProgress?.({
          snapshotId: rec.snapshotId,
          blocksDone: rec.blocksTotal,
          blocksTotal: rec.blocksTotal,
          bytesDone: done,
          bytesTotal: total,
          speed,
          etaSeconds: speed > 0 ? (total - done) / speed : undefined,
          blocksFetched,
          phase: 'writing',
        });
      },
    });
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    const what = picked ? 'could not be written' : 'cannot be opened for writing';
    throw new DownloadError(
      `${rec.fileName} ${what} (${(err as Error).message}). Every block is kept in the browser's storage: ` +
        'free disk space or allow access when asked, then resume to write the file again.',
      'target',
      err,
    );
  }
  await ledger.update(rec.id, { state: 'completed', phase: undefined });
  // The picked file is committed: the staged copy is no longer needed.
  await removeStaged(rec.staging!, dir).catch(() => undefined);
}

/** Stops a running download after the blocks in flight; it stays resumable. */
function cancelDownloadJob(recordId: string): boolean {
  const ac = running.get(recordId);
  ac?.abort();
  return !!ac;
}

type Clients = Awaited<ReturnType<typeof createClients>>;

// The in-browser emulator's clients, opened once per worker (per database) and kept: a worker runs many downloads.
const emulatorClients = new Map<string, Promise<Clients>>();

/** Clients for one run; close() releases them (a no-op for the kept emulator clients). */
async function clientsFor(c: Connection): Promise<Clients> {
  if (c.kind !== 'emulator') return createClients(c);
  const key = c.dbName ?? '';
  let p = emulatorClients.get(key);
  if (!p) {
    p = createClients(c);
    emulatorClients.set(key, p);
    p.catch(() => emulatorClients.delete(key));
  }
  return { ...(await p), close: () => undefined };
}

/** Loads what a download will need before one starts (for the emulator: its modules and database), so a click starts fetching sooner. */
async function warmDownloadJob(connection: Connection): Promise<void> {
  if (connection.kind === 'emulator') await clientsFor(connection);
}

/** An exactly-sized buffer to transfer (a view into a larger buffer is copied first). */
function owned(data: Uint8Array): Uint8Array<ArrayBuffer> {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data as Uint8Array<ArrayBuffer>;
  return data.slice() as Uint8Array<ArrayBuffer>;
}

/**
 * Opens file's sync access handle in a writer worker of its own, so synchronous writes do not stall this thread's
 * fetching and verifying; where a worker cannot start one (or the file is not in OPFS), opens it here.
 */
async function openInWriter(file: FileSystemFileHandle): Promise<AsyncAccessHandle> {
  if (typeof Worker === 'undefined') return openHere(file);
  const writer = comlinkWorker<WriterApi>(new Worker(new URL('../../../workers/download-writer.worker.ts', import.meta.url), { type: 'module', name: 'blockport-download-writer' }));
  const { api } = writer;
  const end = (): void => writer.terminate();
  try {
    await Promise.race([api.open(file), writer.failed]);
  } catch (err) {
    end();
    // A file outside OPFS has no sync access handle anywhere: let the caller choose another way.
    if (!(err instanceof WorkerStartError)) throw err;
    return openHere(file);
  }
  return {
    // comlink posts each call as a message and the writer handles them one by one, in order.
    ordered: true,
    getSize: () => api.getSize(),
    truncate: (size) => api.truncate(size),
    write: (data, at) => {
      const d = owned(data);
      return api.write(transfer(d, [d.buffer]), at);
    },
    flush: () => api.flush(),
    async close() {
      try {
        await api.close();
      } finally {
        end();
      }
    },
  };
}

/** What the download worker exposes: run (or resume) a recorded download, cancel it, load ahead. */
export const downloadJobApi = { run: runDownloadJob, cancel: cancelDownloadJob, warm: warmDownloadJob };
export type DownloadJobApi = typeof downloadJobApi;
