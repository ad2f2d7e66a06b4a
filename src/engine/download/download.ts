import { GetSnapshotBlockCommand, type EBSClient, type GetSnapshotBlockCommandOutput } from '@aws-sdk/client-ebs';
import { concat } from '../../images/byte-stream.ts';
import { LinkWatch } from '../link-watch.ts';
import { listBlocks, refreshToken, withReadLag, type ListedBlock, type ReadLag } from './download-blocks.ts';
import { sha256, toBase64 } from './download-digest.ts';
import { DownloadError, isAbort, isStaleToken } from './download-error.ts';
import { Pacer } from '../pacer.ts';
import { classifyFailure } from '../retry.ts';

const GiB = 1024 ** 3;
/** Blocks in flight at most when the caller sets no ceiling: 64 MiB of blocks. */
const DEFAULT_DOWNLOAD_CEILING = 128;
/** Blocks fetched and waiting for their write at most (16 MiB): a wide window must not double the memory it holds. */
const MAX_QUEUED_WRITES = 32;

/** Where downloaded blocks go: a file opened for random-access writes. */
export interface DownloadTarget {
  /**
   * Told once, before setSize, which blocks the download will write (bit i set = block i is listed and starts
   * inside size); a target that stores blocks compactly (the OPFS staging of picked files) lays itself out here.
   */
  plan?(listed: Uint8Array, size: number, blockSize: number): Promise<void>;
  /** Makes the file exactly size bytes; bytes never written read as zeros (that is how holes become zeros). */
  setSize(size: number): Promise<void>;
  /** Writes data at offset; data may be detached afterwards. Writes are never concurrent with each other, unless `ordered`. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /**
   * The target applies writes in the order of the calls (another thread's message queue): a write may be called
   * before the previous one completed, so that thread is not left idle for a round trip per block.
   */
  ordered?: boolean;
  /**
   * Makes every write that completed before the call durable; false when the target can only do that on close.
   * Later writes may start while it runs.
   */
  flush(): Promise<boolean>;
  /** Commits and releases the file; every write is durable afterwards. */
  close(): Promise<void>;
}

/** Progress counts blocks that were written to the target, never blocks merely requested. */
export interface DownloadProgress {
  snapshotId: string;
  blocksDone: number;
  blocksTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second fetched in this session. */
  speed: number;
  /** Seconds left at the current speed; undefined until there is a speed. */
  etaSeconds?: number;
  /** Blocks fetched and verified in this session (counted as they arrive, before they are written). */
  blocksFetched?: number;
  /** 'writing' while a staged download is copied into the picked file; then bytesDone/bytesTotal count that copy. */
  phase?: 'fetching' | 'writing';
  /** The service stopped answering (sleep, network lost): the download waits and goes on by itself. */
  waiting?: boolean;
}

/** Options for downloadSnapshot. */
export interface DownloadOptions extends ReadLag {
  ebs: EBSClient;
  snapshotId: string;
  target: DownloadTarget;
  /** Size of the file in bytes (the original image size, when known); default the volume size. */
  size?: number;
  /** Ceiling of blocks in flight (the pacing finds the link below it); default 128 (64 MiB of blocks). */
  concurrency?: number;
  /** ListSnapshotBlocks MaxResults (100–10000); default 1000. */
  pageSize?: number;
  /** Blocks already written by an earlier run (bit i = block i), for resume. */
  done?: Uint8Array;
  /** Records blocks as written, called only once their bytes are durable in the target. */
  commit?: (indices: number[]) => Promise<void>;
  /** Blocks written between checkpoints (flush + commit); default 64. */
  checkpointEvery?: number;
  /** Longest time between checkpoints in ms; default 1000. */
  checkpointMs?: number;
  /** Pace: at most this many blocks per second (0 or unset: no limit). */
  blocksPerSecond?: number;
  onProgress?: (p: DownloadProgress) => void;
}

/** What a finished download did. */
export interface DownloadResult {
  snapshotId: string;
  /** Bytes of the file written. */
  size: number;
  volumeSize: number;
  blockSize: number;
  /** Written blocks of the snapshot (listed). */
  blocksListed: number;
  /** Blocks fetched and written in this run. */
  blocksFetched: number;
  /** Blocks skipped because an earlier run wrote them. */
  blocksResumed: number;
  /** Listed blocks past `size`, not written (the image was smaller than the volume). */
  blocksBeyondSize: number;
}

/** Bit helpers for the resume bitmap. */
export function bitmapHas(map: Uint8Array | undefined, i: number): boolean {
  return !!map && i >> 3 < map.length && (map[i >> 3]! & (1 << (i & 7))) !== 0;
}

/** Sets bit i, growing nothing: the map must be large enough. */
export function bitmapSet(map: Uint8Array, i: number): void {
  map[i >> 3]! |= 1 << (i & 7);
}

/** A bitmap large enough for a volume of volumeSizeGiB. */
export function newBitmap(volumeSizeGiB: number, blockSize = 524288): Uint8Array {
  return new Uint8Array(Math.ceil((volumeSizeGiB * GiB) / blockSize / 8));
}

/**
 * The bytes of a GetSnapshotBlock body. A body that arrives as one chunk (the in-browser emulator's: bytes already in
 * memory) is used as it is; the SDK's collector would copy it into a new buffer, a quarter of a download worker's time.
 */
export async function bodyBytes(body: GetSnapshotBlockCommandOutput['BlockData']): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const stream = body as unknown as Partial<ReadableStream<Uint8Array>>;
  if (typeof stream.getReader !== 'function') return body.transformToByteArray();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value?.length) {
      chunks.push(value);
      n += value.length;
    }
  }
  // One chunk is returned as it is; several are joined once.
  return concat(chunks, n);
}

/** Fetches one block with its token and verifies its SHA-256 against the service's checksum. */
export async function fetchBlock(
  ebs: EBSClient,
  snapshotId: string,
  block: ListedBlock,
  lag: ReadLag = {},
): Promise<Uint8Array> {
  let token = block.token;
  let tries = 0;
  for (;;) {
    try {
      const out = await withReadLag(
        snapshotId,
        () => ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: block.index, BlockToken: token }), { abortSignal: lag.signal }),
        lag,
      );
      const data = await bodyBytes(out.BlockData);
      const actual = toBase64(await sha256(data));
      if (out.Checksum && actual === out.Checksum && data.length === (out.DataLength ?? data.length)) return data;
      if (++tries >= 3) {
        throw new DownloadError(
          `Block ${block.index} of ${snapshotId} arrived damaged three times (checksum ${actual}, expected ${out.Checksum ?? 'none'}). ` +
            'Check the network or proxy between you and the service, then resume the download.',
          'checksum',
        );
      }
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      if (isAbort(err, lag.signal)) throw new DownloadError('The download was cancelled.', 'cancelled', err);
      // Block tokens expire (about 7 days): list again from this block for a fresh one.
      if (isStaleToken(err, 'block') && tries++ < 3) {
        const fresh = await refreshToken(ebs, snapshotId, block.index, lag);
        if (fresh === undefined) return new Uint8Array(0);
        token = fresh;
        continue;
      }
      throw err;
    }
  }
}

/** Counts the written blocks of a snapshot (and those an earlier run already wrote), for exact progress; `map` has bit i set for each listed block i. */
async function census(opts: DownloadOptions): Promise<{ listed: number; resumed: number; volumeSize: number; blockSize: number; map: Uint8Array }> {
  let listed = 0;
  let resumed = 0;
  let volumeSize = 0;
  let blockSize = 524288;
  let map: Uint8Array = new Uint8Array(0);
  for await (const page of listBlocks(opts.ebs, opts.snapshotId, { ...opts, pageSize: 10000 })) {
    volumeSize = page.volumeSize;
    blockSize = page.blockSize;
    if (map.length === 0 && volumeSize > 0) map = newBitmap(volumeSize, blockSize);
    for (const b of page.blocks) {
      listed++;
      if (b.index >> 3 < map.length) bitmapSet(map, b.index);
      if (bitmapHas(opts.done, b.index)) resumed++;
    }
  }
  return { listed, resumed, volumeSize, blockSize, map };
}

/** Clears the bits of blocks that start at or past size (they are listed but not written). */
function clipToSize(map: Uint8Array, size: number, blockSize: number): Uint8Array {
  const first = Math.ceil(size / blockSize);
  const whole = Math.ceil(first / 8);
  for (let i = first; i < whole * 8 && i >> 3 < map.length; i++) map[i >> 3]! &= ~(1 << (i & 7));
  if (whole < map.length) map.fill(0, whole);
  return map;
}

/**
 * Downloads a completed snapshot into target: every written block fetched, verified and written at its offset.
 * Holes stay zeros. Stops cleanly on abort or error with every durable block committed, so it can be resumed.
 */
export async function downloadSnapshot(opts: DownloadOptions): Promise<DownloadResult> {
  // One link for all of this download's calls: a silent service (sleep, network lost) is waited for, not failed on.
  const link = opts.link ?? new LinkWatch();
  try {
    return await downloadWith({ ...opts, link });
  } finally {
    if (!opts.link) link.close();
  }
}

/** The download itself, its calls sharing `opts.link`. */
async function downloadWith(opts: DownloadOptions): Promise<DownloadResult> {
  const { ebs, snapshotId, target, signal } = opts;
  let c: Awaited<ReturnType<typeof census>>;
  let size: number;
  try {
    c = await census(opts);
    size = opts.size ?? c.volumeSize * GiB;
    if (size > c.volumeSize * GiB) {
      throw new DownloadError(
        `The file size ${size} is larger than the volume of ${snapshotId} (${c.volumeSize} GiB). Leave the size out to use the volume size.`,
        'target',
      );
    }
    if (target.plan) await target.plan(clipToSize(c.map, size, c.blockSize), size, c.blockSize);
    await target.setSize(size);
  } catch (err) {
    // Nothing was written: release the file and report why.
    await target.close().catch(() => undefined);
    throw err;
  }

  const bs = c.blockSize;
  const total = c.listed;
  let done = c.resumed;
  let fetched = 0;
  let arrived = 0;
  let beyond = 0;
  const started = Date.now();
  const report = (): void => {
    const elapsed = (Date.now() - started) / 1000;
    const speed = elapsed > 0 ? (fetched * bs) / elapsed : 0;
    const left = (total - done) * bs;
    opts.onProgress?.({
      snapshotId,
      blocksDone: done,
      blocksTotal: total,
      bytesDone: done * bs,
      bytesTotal: total * bs,
      speed,
      etaSeconds: speed > 0 ? left / speed : undefined,
      blocksFetched: arrived,
      phase: 'fetching',
      ...(opts.link?.waiting ? { waiting: true } : {}),
    });
  };
  report();
  if (opts.link) opts.link.onChange = report;

  // Writes run one after another on this chain. Checkpoints (flush, then ledger commit) run on their own chain,
  // so fetching never waits for a flush; a lane waits only when checkpoints fall two intervals behind.
  let chain: Promise<unknown> = Promise.resolve();
  let pending: number[] = [];
  const every = opts.checkpointEvery ?? 64;
  const everyMs = opts.checkpointMs ?? 1000;
  let lastCheckpoint = Date.now();
  let checkpoints: Promise<void> = Promise.resolve();
  let checkpointing = false;
  const checkpoint = (): Promise<void> => {
    lastCheckpoint = Date.now();
    const batch = pending;
    pending = [];
    checkpointing = true;
    checkpoints = checkpoints
      .then(async () => {
        try {
          // Only blocks whose writes completed are in batch: the flush covers them all.
          if (!(await target.flush())) throw new Error('not durable before close');
          if (batch.length && opts.commit) await opts.commit(batch);
        } catch (err) {
          // Kept for the final close, which makes them durable or fails the download.
          pending = batch.concat(pending);
          if ((err as Error).message !== 'not durable before close') throw err;
        }
      })
      .finally(() => {
        checkpointing = false;
      });
    return checkpoints;
  };
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  let nextSlot = Date.now();
  // Each lane waits for its slot; a cancel ends every wait at once (at a slow pace, the last lane's slot is far off).
  const pace = async (): Promise<void> => {
    const bps = opts.blocksPerSecond ?? 0;
    if (bps <= 0 || signal?.aborted) return;
    const now = Date.now();
    const at = Math.max(now, nextSlot);
    nextSlot = at + 1000 / bps;
    if (at <= now) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, at - now);
      signal?.addEventListener('abort', done, { once: true });
    });
  };

  const pages = listBlocks(ebs, snapshotId, { ...opts, pageSize: opts.pageSize ?? 1000 });
  async function* todo(): AsyncGenerator<ListedBlock> {
    for await (const page of pages) for (const b of page.blocks) if (!bitmapHas(opts.done, b.index)) yield b;
  }
  const queue = todo();
  let failure: unknown;

  // One lane per slot of the ceiling; the pacer lets as many fetch at once as the link carries.
  const lanesCount = Math.max(1, opts.concurrency ?? DEFAULT_DOWNLOAD_CEILING);
  const pacer = new Pacer({ floor: Math.min(2, lanesCount), ceiling: lanesCount });
  let writing = 0;
  const lane = async (): Promise<void> => {
    while (!failure && !signal?.aborted) {
      const { value: block, done: end } = await queue.next();
      if (end || !block) return;
      const offset = block.index * bs;
      if (offset >= size) {
        beyond++;
        done++;
        continue;
      }
      await pace();
      if (failure || signal?.aborted) return;
      await pacer.acquire();
      const t0 = performance.now();
      let data: Uint8Array;
      try {
        data = await fetchBlock(ebs, snapshotId, block, opts);
      } catch (err) {
        pacer.release({ ok: false, throttled: classifyFailure(err) === 'throttle' });
        throw err;
      }
      pacer.release({ ok: true, latencyMs: performance.now() - t0 });
      arrived++;
      const part = offset + data.length > size ? data.subarray(0, size - offset) : data;
      // An ordered target gets the block at once; completions are still taken in order, on the chain.
      const sent = target.ordered && part.length ? target.write(offset, part) : undefined;
      sent?.catch(() => undefined);
      // The lane fetches on while its block is written; progress counts the block once the write completes.
      const written = serial(async () => {
        if (sent) await sent;
        else if (part.length) await target.write(offset, part);
        pending.push(block.index);
        fetched++;
        done++;
        report();
        if (!checkpointing && (pending.length >= every || Date.now() - lastCheckpoint >= everyMs)) {
          checkpoint().catch((err) => {
            failure ??= err;
          });
        }
      });
      writing++;
      written.then(
        () => writing--,
        (err) => {
          writing--;
          failure ??= err;
        },
      );
      // Memory stays bounded by the window: the blocks fetching plus a short queue of writes (the disk is not the link).
      if (writing > Math.min(lanesCount, MAX_QUEUED_WRITES)) await written.catch(() => undefined);
      if (pending.length >= 2 * every) await checkpoints.catch(() => undefined);
    }
  };

  const lanes = Array.from({ length: lanesCount }, () =>
    lane().catch((err) => {
      failure ??= err;
    }),
  );
  await Promise.all(lanes);
  // Every queued write, then the checkpoint the last of them may have started.
  await chain;
  await checkpoints.catch((err) => {
    failure ??= err;
  });
  // Closing makes every write durable: then the blocks not yet committed are recorded too.
  await serial(() => target.close());
  if (pending.length && opts.commit) await opts.commit(pending);

  if (failure || signal?.aborted) {
    if (failure instanceof DownloadError) throw failure;
    if (isAbort(failure, signal)) throw new DownloadError('The download was cancelled; resume it to fetch the remaining blocks.', 'cancelled', failure);
    throw failure;
  }
  report();
  return {
    snapshotId,
    size,
    volumeSize: c.volumeSize,
    blockSize: bs,
    blocksListed: total,
    blocksFetched: fetched,
    blocksResumed: c.resumed,
    blocksBeyondSize: beyond,
  };
}
