// `blockport upload <image>`: the upload engine in Node, credentials from the standard AWS chain.
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createClients, type Connection } from '../../src/aws/clients.ts';
import { ImageFormatError } from '../../src/images/types.ts';
import { ResumeError, UploadError, type UploadOptions, type UploadProgress, type UploadReport } from '../../src/engine/upload-types.ts';
import { uploadInProcess } from '../../src/engine/upload-image.ts';
import { fileSource } from '../node-source.ts';

export const usage = `Usage: blockport upload <image> [options]

Uploads a disk image (raw today; qcow2, VMDK, VHD(X), VDI, OVA as their readers land) as an EBS snapshot
through the EBS direct APIs. Credentials come from the standard AWS chain (environment, profile, SSO, IMDS).

Options:
  --endpoint URL        EBS (and EC2) endpoint, e.g. http://127.0.0.1:4566 for \`npm run emulator\`
  --region R            AWS Region (default: AWS_REGION / AWS_DEFAULT_REGION; us-east-1 with --endpoint)
  --description D       snapshot description (≤ 255 characters)
  --tag k=v             a tag; repeat for more (≤ 50)
  --volume-size N       volume size in GiB (default: image size rounded up to whole GiB)
  --timeout MINUTES     StartSnapshot timeout, 10–4320 (default 1440)
  --encrypted           encrypted snapshot (zero blocks are then written, not skipped)
  --kms-key-arn ARN     KMS key for --encrypted
  --parent SNAPSHOT_ID  new version over a completed parent snapshot: only blocks that differ from it are sent
  --parent-compare M    how differences are found: read (the parent's blocks, default) or all (send every block)
  --concurrency N       ceiling of blocks in flight (default 16; pacing adapts below it)
  --no-verify-ssl       accept a self-signed certificate (the emulator's --tls)
  --no-progress         no progress lines on stderr
  --json                print the final report as JSON on stdout
  --help                this text

Exit status: 0 when the snapshot reached 'completed', 1 when it failed, 2 for a bad command line.`;

/** A bad command line, with the sentence to print. */
class UsageError extends Error {}

interface Parsed {
  image: string;
  endpoint?: string;
  region?: string;
  options: UploadOptions;
  progress: boolean;
  json: boolean;
  verifySsl: boolean;
}

function intFlag(flag: string, v: string | undefined, lo: number, hi: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${flag} needs a whole number between ${lo} and ${hi}, got ${v ?? 'nothing'}.`);
  return n;
}

/** Parses the arguments of `upload`; throws UsageError with a sentence. */
export function parseUploadArgs(args: string[]): Parsed {
  const out: Parsed = { image: '', options: {}, progress: true, json: false, verifySsl: true };
  const tags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value.`);
      return v;
    };
    switch (flag) {
      case '--endpoint':
        out.endpoint = value();
        if (!/^https?:\/\//.test(out.endpoint)) throw new UsageError(`--endpoint needs a URL starting with http:// or https://, got ${out.endpoint}.`);
        break;
      case '--region':
        out.region = value();
        break;
      case '--description':
        out.options.description = value();
        break;
      case '--tag': {
        const kv = value();
        const k = kv.indexOf('=');
        if (k <= 0) throw new UsageError(`--tag needs key=value, got ${kv}.`);
        tags[kv.slice(0, k)] = kv.slice(k + 1);
        break;
      }
      case '--volume-size':
        out.options.volumeSizeGiB = intFlag(flag, value(), 1, 65536);
        break;
      case '--timeout':
        out.options.timeoutMinutes = intFlag(flag, value(), 10, 4320);
        break;
      case '--encrypted':
        out.options.encrypted = true;
        break;
      case '--kms-key-arn':
        out.options.kmsKeyArn = value();
        break;
      case '--parent':
        out.options.parentSnapshotId = value();
        out.options.parentCompare ??= 'read';
        break;
      case '--parent-compare': {
        const m = value();
        if (m !== 'read' && m !== 'all') throw new UsageError(`--parent-compare takes read or all, got ${m}.`);
        out.options.parentCompare = m;
        break;
      }
      case '--concurrency':
        out.options.concurrency = intFlag(flag, value(), 1, 1024);
        break;
      case '--no-progress':
        out.progress = false;
        break;
      case '--json':
        out.json = true;
        break;
      case '--no-verify-ssl':
        out.verifySsl = false;
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`Unknown option ${a}. Run \`blockport upload --help\` for the options.`);
        if (out.image) throw new UsageError(`Only one image can be uploaded at a time (got ${out.image} and ${a}).`);
        out.image = a;
    }
  }
  if (!out.image) throw new UsageError('Name the image to upload: blockport upload <image>.');
  if (Object.keys(tags).length) out.options.tags = tags;
  return out;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

function progressLine(p: UploadProgress): string {
  const pct = p.totalBlocks ? Math.floor((100 * p.ackedBlocks) / p.totalBlocks) : 100;
  const eta = p.etaSeconds === null ? '' : ` ETA ${Math.floor(p.etaSeconds / 60)}m${String(p.etaSeconds % 60).padStart(2, '0')}s`;
  return `${p.phase} ${pct}% blocks ${p.ackedBlocks}/${p.totalBlocks} (written ${p.writtenBlocks}, skipped ${p.skippedBlocks}) ${mib(p.bytesAcked)} MiB ${p.speedMiBps.toFixed(1)} MiB/s in-flight ${p.inFlight}/${p.concurrency} retries ${p.retried}${eta}`;
}

/** The JSON report printed with --json (AWS-style keys). */
export function reportJson(r: UploadReport): Record<string, unknown> {
  return {
    SnapshotId: r.snapshotId,
    State: r.state,
    ...(r.stateMessage ? { StateMessage: r.stateMessage } : {}),
    VolumeSize: r.volumeSizeGiB,
    ChangedBlocksCount: r.changedBlocksCount,
    Checksum: r.aggregateChecksum,
    ChecksumAlgorithm: 'SHA256',
    ChecksumAggregationMethod: 'LINEAR',
    BlocksWritten: r.blocksWritten,
    BlocksSkipped: r.blocksSkipped,
    BytesWritten: r.bytesWritten,
    DurationMs: r.durationMs,
    AverageMiBps: Number(r.avgMiBps.toFixed(2)),
  };
}

/** Runs `blockport upload`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parseUploadArgs(args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`blockport upload: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const region = p.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (p.endpoint ? 'us-east-1' : undefined);
  if (!region) {
    console.error('blockport upload: no AWS Region: pass --region, or set AWS_REGION.');
    return 2;
  }
  let st;
  try {
    st = await stat(p.image);
  } catch (err) {
    console.error(`blockport upload: cannot open ${p.image} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check the path.`);
    return 1;
  }
  if (!st.isFile()) {
    console.error(`blockport upload: ${p.image} is not a regular file.`);
    return 1;
  }
  const connection: Connection = { kind: 'endpoint', region, ...(p.endpoint ? { endpoint: p.endpoint } : {}) };
  const agentOpts = { keepAlive: true, maxSockets: Math.max(50, (p.options.concurrency ?? 16) * 2) };
  const requestHandler = new NodeHttpHandler({
    httpAgent: new HttpAgent(agentOpts),
    httpsAgent: new HttpsAgent({ ...agentOpts, rejectUnauthorized: p.verifySsl }),
    requestTimeout: 120_000,
  });
  const clients = await createClients(connection, { defaultCredentials: fromNodeProviderChain(), requestHandler });
  const source = await fileSource(p.image);
  let lastLine = 0;
  const tty = process.stderr.isTTY;
  try {
    const session = await uploadInProcess({ source, name: basename(p.image), lastModified: st.mtimeMs, connection, clients, options: p.options });
    if (p.progress) {
      let lastPhase = '';
      session.onProgress((pr) => {
        const now = Date.now();
        // Every phase change prints; within a phase, a line every 250 ms (terminal) or 2 s (log).
        if (pr.phase === lastPhase && now - lastLine < (tty ? 250 : 2000)) return;
        lastPhase = pr.phase;
        lastLine = now;
        process.stderr.write(tty ? `\r\x1b[K${progressLine(pr)}` : `${progressLine(pr)}\n`);
      });
    }
    const onSigint = () => {
      void session.cancel();
    };
    process.once('SIGINT', onSigint);
    const report = await session.done.finally(() => process.off('SIGINT', onSigint));
    if (p.progress && tty) process.stderr.write('\n');
    if (p.json) process.stdout.write(`${JSON.stringify(reportJson(report), null, 2)}\n`);
    if (report.state !== 'completed') {
      console.error(`blockport upload: snapshot ${report.snapshotId} ended in state error: ${report.stateMessage ?? 'no message'}.`);
      return 1;
    }
    if (!p.json)
      console.error(
        `blockport upload: ${report.snapshotId} completed: ${report.blocksWritten} blocks written, ${report.blocksSkipped} skipped, ${mib(report.bytesWritten)} MiB in ${(report.durationMs / 1000).toFixed(1)} s (${report.avgMiBps.toFixed(1)} MiB/s), checksum ${report.aggregateChecksum}.`,
      );
    return 0;
  } catch (err) {
    if (p.progress && tty) process.stderr.write('\n');
    if (err instanceof UploadError || err instanceof ResumeError || err instanceof ImageFormatError) {
      console.error(`blockport upload: ${err.message}`);
      return 1;
    }
    const name = (err as Error).name;
    if (name === 'CredentialsProviderError')
      console.error(`blockport upload: no AWS credentials found (${(err as Error).message}). Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE.`);
    else console.error(`blockport upload: ${(err as Error).message ?? err}`);
    return 1;
  } finally {
    await source.close();
    clients.close();
  }
}
