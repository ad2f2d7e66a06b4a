// A download as a resumable job: ledger record + file handle + connection → downloadSnapshot. Runs in a worker.
import { createClients, type Connection } from '../aws/clients.ts';
import { downloadSnapshot, type DownloadProgress, type DownloadResult } from './download.ts';
import { DownloadError } from './download-error.ts';
import { DownloadLedger, type DownloadRecord } from './download-ledger.ts';
import { openStagingTarget, removeStaged, stagingDir, writeStagedFile } from './download-staging.ts';
import { openHandleTarget } from './download-target.ts';

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
export async function runDownloadJob(args: DownloadJobArgs, onProgress?: (p: DownloadProgress) => void): Promise<DownloadResult> {
  const ledger = new DownloadLedger(args.ledgerDb);
  const rec = await ledger.get(args.recordId);
  if (!rec) throw new DownloadError('This download is no longer recorded; start it again.', 'resume');
  if (running.has(rec.id)) throw new DownloadError('This download is already running.', 'resume');
  const ac = new AbortController();
  running.set(rec.id, ac);
  const resuming = rec.blocksDone > 0;
  let clients: Awaited<ReturnType<typeof createClients>> | undefined;
  try {
    // Only the copy into the picked file is left: no listing, no fetching (the snapshot may even be gone).
    if (rec.staging && rec.phase === 'writing') {
      await ledger.update(rec.id, { state: 'running', error: undefined });
      await finishStaged(ledger, rec, ac.signal, onProgress, 0);
      return { snapshotId: rec.snapshotId, size: rec.size ?? 0, volumeSize: 0, blockSize: 524288, blocksListed: rec.blocksTotal, blocksFetched: 0, blocksResumed: rec.blocksDone, blocksBeyondSize: 0 };
    }
    let target;
    try {
      target = rec.staging ? await openStagingTarget(rec.staging, rec.fileName) : await openHandleTarget(rec.handle, resuming);
    } catch (err) {
      const msg = rec.staging
        ? `Blockport cannot use the browser's storage to assemble ${rec.fileName} (${(err as Error).message}). Close other tabs of Blockport, then resume.`
        : `The file ${rec.fileName} cannot be written (${(err as Error).message}). Grant access or pick another file, then resume.`;
      throw new DownloadError(msg, 'target', err);
    }
    clients = await createClients(args.connection);
    await ledger.update(rec.id, { state: 'running', error: undefined });
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
        onProgress?.(p);
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
export function cancelDownloadJob(recordId: string): boolean {
  const ac = running.get(recordId);
  ac?.abort();
  return !!ac;
}

/** Loads what a download will need before one starts (for the emulator: its modules and database), so a click starts fetching sooner. */
export async function warmDownloadJob(connection: Connection): Promise<void> {
  if (connection.kind !== 'emulator') return;
  (await createClients(connection)).close();
}
