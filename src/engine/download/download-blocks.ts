import { ListSnapshotBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { DownloadError, isAbort, isSnapshotNotFound, isStaleToken } from './download-error.ts';
import type { LinkWatch } from '../link-watch.ts';
import { DEFAULT_BACKOFF, withRetry } from '../retry.ts';

/** One written block of a snapshot and the token that reads it. */
export interface ListedBlock {
  index: number;
  token: string;
}

/** A page of ListSnapshotBlocks with the volume facts that come with it. */
export interface BlockPage {
  blocks: ListedBlock[];
  volumeSize: number;
  blockSize: number;
}

/** How long and how to wait out the service's read lag (404 shortly after completion). */
export interface ReadLag {
  /** Give up after this many milliseconds of 404s; default 90 s (observed lag is 10–60 s). */
  lagMs?: number;
  signal?: AbortSignal;
  /** Injected in tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Shared by a download's calls: while the service is silent they wait for it instead of spending attempts. */
  link?: LinkWatch;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DownloadError('The download was cancelled.', 'cancelled'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DownloadError('The download was cancelled.', 'cancelled'));
    }, { once: true });
  });
}

// The read-lag 404 is handled by withReadLag with its own time budget, not by the attempt-counting policy.
const READ_POLICY = { ...DEFAULT_BACKOFF, maxLagAttempts: 1 };

/**
 * Runs fn, retrying what the service calls retryable (5xx, throttling, network) with backoff, and its
 * 404 SNAPSHOT_NOT_FOUND (the read lag after completion) until lagMs has passed.
 */
export async function withReadLag<T>(snapshotId: string, call: () => Promise<T>, lag: ReadLag = {}): Promise<T> {
  const fn = () => withRetry(call, { policy: READ_POLICY, shouldStop: () => lag.signal?.aborted ?? false, ...(lag.link ? { link: lag.link } : {}) });
  const budget = lag.lagMs ?? 90_000;
  const sleep = lag.sleep ?? ((ms: number) => defaultSleep(ms, lag.signal));
  let waited = 0;
  let delay = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (isAbort(err, lag.signal)) throw new DownloadError('The download was cancelled.', 'cancelled', err);
      if (!isSnapshotNotFound(err)) throw err;
      if (waited >= budget) {
        throw new DownloadError(
          `Snapshot ${snapshotId} cannot be read: it does not exist in this Region or is not completed yet. ` +
            'Check the snapshot id and the Region, or wait until the snapshot is completed and try again.',
          'not-found',
          err,
        );
      }
      const d = Math.min(delay, budget - waited);
      await sleep(d);
      waited += d;
      delay = Math.min(delay * 2, 8000);
    }
  }
}

/**
 * Pages of a snapshot's written blocks in ascending order, from startingBlockIndex.
 * An expired or rejected page token restarts the listing after the last block seen.
 */
export async function* listBlocks(
  ebs: EBSClient,
  snapshotId: string,
  opts: ReadLag & { startingBlockIndex?: number; pageSize?: number } = {},
): AsyncGenerator<BlockPage> {
  let next: string | undefined;
  let from = opts.startingBlockIndex ?? 0;
  for (;;) {
    let out;
    try {
      const token = next;
      out = await withReadLag(
        snapshotId,
        () =>
          ebs.send(
            new ListSnapshotBlocksCommand({
              SnapshotId: snapshotId,
              MaxResults: opts.pageSize ?? 1000,
              ...(token ? { NextToken: token } : { StartingBlockIndex: from }),
            }),
            { abortSignal: opts.signal },
          ),
        opts,
      );
    } catch (err) {
      // Page tokens live about an hour: list again from where the last page ended.
      if (next && isStaleToken(err, 'page')) {
        next = undefined;
        continue;
      }
      throw err;
    }
    const blocks: ListedBlock[] = (out.Blocks ?? []).map((b) => ({ index: b.BlockIndex ?? 0, token: b.BlockToken ?? '' }));
    if (blocks.length) from = blocks[blocks.length - 1]!.index + 1;
    yield { blocks, volumeSize: out.VolumeSize ?? 0, blockSize: out.BlockSize ?? 524288 };
    if (!out.NextToken) return;
    next = out.NextToken;
  }
}

/** A fresh token for one block (its old one expired), or undefined when the block is no longer listed. */
export async function refreshToken(ebs: EBSClient, snapshotId: string, index: number, lag: ReadLag = {}): Promise<string | undefined> {
  const out = await withReadLag(
    snapshotId,
    () => ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, StartingBlockIndex: index, MaxResults: 100 }), { abortSignal: lag.signal }),
    lag,
  );
  const hit = (out.Blocks ?? []).find((b) => b.BlockIndex === index);
  return hit?.BlockToken ?? undefined;
}
