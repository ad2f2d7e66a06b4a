// `blockport download <snapshot-id> <file>`: the download engine in Node, resumable through a sidecar file.
import { setMaxListeners } from 'node:events';
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import type { Clients } from '../../src/aws/clients.ts';
import { downloadSnapshot, newBitmap, type DownloadProgress, type DownloadTarget } from '../../src/engine/download/download.ts';
import { DownloadError } from '../../src/engine/download/download-error.ts';
import { checkSnapshotId, parseReadArgs, readClients, readErrorSentence, UsageError, wholeNumber, type ReadFlags } from '../shared.ts';

export const usage = `Usage: blockport download <snapshot-id> <file> [options]

Downloads a completed EBS snapshot to a local file through the EBS direct APIs (ListSnapshotBlocks,
GetSnapshotBlock): every block's SHA-256 is checked and written at its offset; blocks never written
become zeros. An interrupted download resumes when run again with the same arguments (progress is
kept in <file>.blockport-download.json). Credentials come from the standard AWS chain.

Options:
  --endpoint URL      EBS endpoint, e.g. http://127.0.0.1:4566 for \`npm run emulator\`
  --region R          AWS Region (default: AWS_REGION / AWS_DEFAULT_REGION; us-east-1 with --endpoint)
  --size BYTES        size of the file (e.g. the original image size); default the volume size
  --concurrency N     ceiling of blocks in flight (default 512; pacing finds the link below it)
  --wait SECONDS      how long to retry a snapshot that is not readable yet (default 90)
  --restart           ignore an earlier interrupted download of this file
  --no-verify-ssl     accept a self-signed certificate (the emulator's --tls)
  --no-progress       no progress lines on stderr
  --json              print the result as JSON on stdout
  --help              this text

Exit status: 0 when the file is complete, 1 when the download failed or was interrupted, 2 for a bad command line.`;

interface Parsed extends ReadFlags {
  snapshotId: string;
  file: string;
  size?: number;
  concurrency: number;
  waitSeconds: number;
  restart: boolean;
}

/** Parses the arguments of `download`; throws UsageError with a sentence. */
export function parseDownloadArgs(args: string[]): Parsed {
  const out: Parsed = { snapshotId: '', file: '', concurrency: 512, waitSeconds: 90, restart: false, verifySsl: true, progress: true, json: false };
  const positional = parseReadArgs('download', args, out, (a, next) => {
    if (a === '--size') out.size = wholeNumber(a, next(), 1, 65536 * 1024 ** 3);
    else if (a === '--concurrency') out.concurrency = wholeNumber(a, next(), 1, 1024);
    else if (a === '--wait') out.waitSeconds = wholeNumber(a, next(), 0, 3600);
    else if (a === '--restart') out.restart = true;
    else return false;
    return true;
  });
  if (positional.length !== 2) throw new UsageError('Name the snapshot and the file: blockport download <snapshot-id> <file>.');
  out.snapshotId = checkSnapshotId(positional[0]!);
  out.file = positional[1]!;
  return out;
}

/** A DownloadTarget over a local file: positioned writes, durable on datasync. */
export function fileTarget(fh: FileHandle): DownloadTarget {
  return {
    async setSize(size) {
      if ((await fh.stat()).size !== size) await fh.truncate(size);
    },
    async write(offset, data) {
      let done = 0;
      while (done < data.length) done += (await fh.write(data, done, data.length - done, offset + done)).bytesWritten;
    },
    async flush() {
      await fh.datasync();
      return true;
    },
    async close() {
      await fh.datasync();
      await fh.close();
    },
  };
}

interface Sidecar {
  snapshotId: string;
  size?: number;
  bitmap: string;
}

function progressLine(p: DownloadProgress): string {
  const pct = p.blocksTotal ? Math.floor((100 * p.blocksDone) / p.blocksTotal) : 100;
  const eta = p.etaSeconds === undefined ? '' : ` ETA ${Math.floor(p.etaSeconds / 60)}m${String(Math.round(p.etaSeconds % 60)).padStart(2, '0')}s`;
  return `downloading ${pct}% blocks ${p.blocksDone}/${p.blocksTotal} ${(p.bytesDone / 1048576).toFixed(0)} MiB ${(p.speed / 1048576).toFixed(1)} MiB/s${eta}`;
}

/** Runs `blockport download`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let p: Parsed;
  let clients: Clients;
  try {
    p = parseDownloadArgs(args);
    clients = await readClients(p, p.concurrency);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`blockport download: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const sidecarPath = `${p.file}.blockport-download.json`;
  let done: Uint8Array | undefined;
  let earlier: Sidecar | undefined;
  if (!p.restart) {
    earlier = await readFile(sidecarPath, 'utf8').then((t) => JSON.parse(t) as Sidecar).catch(() => undefined);
    if (earlier && earlier.snapshotId === p.snapshotId && (p.size === undefined || p.size === earlier.size)) {
      done = Uint8Array.from(Buffer.from(earlier.bitmap, 'base64'));
      p.size ??= earlier.size;
    } else earlier = undefined;
  }
  let fh: FileHandle;
  try {
    fh = await open(p.file, earlier ? 'r+' : 'w');
  } catch (err) {
    clients.close();
    console.error(`blockport download: cannot write ${p.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check the path and its permissions.`);
    return 1;
  }
  done ??= newBitmap(0);
  let bitmap = done;
  const saveSidecar = async (): Promise<void> => {
    const tmp = `${sidecarPath}.tmp`;
    await writeFile(tmp, JSON.stringify({ snapshotId: p.snapshotId, ...(p.size !== undefined ? { size: p.size } : {}), bitmap: Buffer.from(bitmap).toString('base64') } satisfies Sidecar));
    await rename(tmp, sidecarPath);
  };
  const ac = new AbortController();
  // Every block in flight listens for Ctrl-C on this one signal (up to the ceiling of 512): not a leak, so Node's warning
  // past ten listeners is turned off for it.
  setMaxListeners(0, ac.signal);
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  try {
    const result = await downloadSnapshot({
      ebs: clients.ebs,
      snapshotId: p.snapshotId,
      target: fileTarget(fh),
      ...(p.size !== undefined ? { size: p.size } : {}),
      done,
      concurrency: p.concurrency,
      lagMs: p.waitSeconds * 1000,
      signal: ac.signal,
      commit: async (indices) => {
        const need = (Math.max(...indices) >> 3) + 1;
        if (need > bitmap.length) {
          const grown = new Uint8Array(Math.max(need, bitmap.length * 2, 1024));
          grown.set(bitmap);
          bitmap = grown;
        }
        for (const i of indices) bitmap[i >> 3]! |= 1 << (i & 7);
        await saveSidecar();
      },
      onProgress: (pr) => {
        if (!p.progress) return;
        const now = Date.now();
        if (now - lastLine < (tty ? 250 : 2000) && pr.blocksDone !== pr.blocksTotal) return;
        lastLine = now;
        process.stderr.write(tty ? `\r\x1b[K${progressLine(pr)}` : `${progressLine(pr)}\n`);
      },
    });
    if (p.progress && tty) process.stderr.write('\n');
    await rm(sidecarPath, { force: true });
    if (p.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      console.error(
        `blockport download: ${p.snapshotId} → ${p.file}: ${result.size} bytes, ${result.blocksFetched} blocks fetched` +
          `${result.blocksResumed ? `, ${result.blocksResumed} kept from the interrupted run` : ''}, every checksum verified.`,
      );
    return 0;
  } catch (err) {
    if (p.progress && tty) process.stderr.write('\n');
    const resumable = err instanceof DownloadError && err.code === 'cancelled';
    // A file this run created and never wrote to is removed, so a typo leaves nothing behind.
    if (!earlier && err instanceof DownloadError && (err.code === 'not-found' || err.code === 'target')) await rm(p.file, { force: true });
    console.error(`blockport download: ${readErrorSentence(err)}${resumable ? ' Run the same command again to resume.' : ''}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    clients.close();
  }
}
