// A download as a resumable job: ledger record + file handle + connection → downloadSnapshot. Runs in a worker.
import { createClients, type Connection } from '../aws/clients.ts';
import { downloadSnapshot, type DownloadProgress, type DownloadResult } from './download.ts';
import { DownloadError } from './download-error.ts';
import { DownloadLedger } from './download-ledger.ts';
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

/** Runs the recorded download to the end (or until cancelled), keeping the ledger current. */
export async function runDownloadJob(args: DownloadJobArgs, onProgress?: (p: DownloadProgress) => void): Promise<DownloadResult> {
  const ledger = new DownloadLedger(args.ledgerDb);
  const rec = await ledger.get(args.recordId);
  if (!rec) throw new DownloadError('This download is no longer recorded; start it again.', 'resume');
  if (running.has(rec.id)) throw new DownloadError('This download is already running.', 'resume');
  const ac = new AbortController();
  running.set(rec.id, ac);
  const resuming = rec.blocksDone > 0;
  let target;
  try {
    target = await openHandleTarget(rec.handle, resuming);
  } catch (err) {
    running.delete(rec.id);
    const msg = `The file ${rec.fileName} cannot be written (${(err as Error).message}). Grant access or pick another file, then resume.`;
    await ledger.update(rec.id, { state: 'error', error: msg });
    throw new DownloadError(msg, 'target', err);
  }
  const clients = await createClients(args.connection);
  await ledger.update(rec.id, { state: 'running', error: undefined });
  try {
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
    await ledger.update(rec.id, { state: 'completed', blocksTotal: result.blocksListed, size: result.size });
    return result;
  } catch (err) {
    const cancelled = err instanceof DownloadError && err.code === 'cancelled';
    await ledger.update(rec.id, cancelled ? { state: 'paused' } : { state: 'error', error: (err as Error).message });
    throw err;
  } finally {
    running.delete(rec.id);
    clients.close();
  }
}

/** Stops a running download after the blocks in flight; it stays resumable. */
export function cancelDownloadJob(recordId: string): boolean {
  const ac = running.get(recordId);
  ac?.abort();
  return !!ac;
}
