// `blockport upload <image>`: the upload engine in Node, credentials from the standard AWS chain, resumable through
// a state file (the ledger) beside the image.
import { basename } from 'node:path';
import { rm, stat } from 'node:fs/promises';
import { publicConnection, type Connection } from '../../src/aws/clients.ts';
import { ImageFormatError, type DiskImage } from '../../src/images/types.ts';
import { ResumeError, UploadError, type SnapshotParams, type UploadOptions, type UploadProgress, type UploadReport } from '../../src/engine/upload-types.ts';
import { zeroBlocksChoice, type ZeroBlocks } from '../../src/engine/zero-blocks.ts';
import { startJobSession } from '../../src/engine/upload/upload-image.ts';
import { bestSha256 } from '../../src/engine/block-digest.ts';
import { fingerprintOf } from '../../src/engine/fingerprint.ts';
import { checkSameDisk, checkSameFile, prepareJob, type ReopenWords } from '../../src/engine/upload/job.ts';
import { checkResumableSnapshot } from '../../src/engine/upload/resume-check.ts';
import { fileSource } from '../node-source.ts';
import { packedDisk, type PackedDisk } from '../packed-disk.ts';
import { detectBoot } from '../../src/images/boot/detect-boot.ts';
import { RegisterImageError, type RegisteredImage } from '../../src/engine/register-image.ts';
import { imageJson, parseArchitecture, parseBootMode, registerAndWait } from './register-image.ts';
import { openFileLedger, StateFileError, type FileLedgerStore } from '../upload-ledger-file.ts';
import { endpointFlag, NO_REGION, noCredentials, nodeClients, regionOf, tagFlag, UsageError, walkArgs, wholeNumber } from '../shared.ts';
import { windowCeiling } from '../../src/engine/window-ceiling.ts';

export const usage = `Usage: blockport upload <image> [options]

Uploads a disk image (raw, qcow2, VMDK, VHD(X), VDI, OVA) as an EBS snapshot through the EBS direct APIs.
Credentials come from the standard AWS chain (environment, profile, SSO, IMDS).

Packed images (.xz, .gz, .zst, .bz2, inside .tar or .zip, nested up to three deep) are recognised by content. A raw
disk or a streamOptimized VMDK is streamed out of the decompressor (no temporary file; a resume decompresses from the
start and skips what was sent); other formats are unpacked to a temporary file in BLOCKPORT_TMPDIR (or the system's) first.

Options:
  --endpoint URL        EBS (and EC2) endpoint, e.g. http://127.0.0.1:4566 for \`npm run emulator\`
  --region R            AWS Region (default: AWS_REGION / AWS_DEFAULT_REGION; us-east-1 with --endpoint)
  --description D       snapshot description (≤ 255 characters)
  --tag k=v             a tag; repeat for more (≤ 50)
  --volume-size N       volume size in GiB (default: image size rounded up to whole GiB)
  --timeout MINUTES     StartSnapshot timeout, 10–4320 (default 1440)
  --zero-blocks M       empty blocks: write (default; the snapshot reads back identical on any volume, encrypted
                        or not) or skip (less to send; safe only if no volume made from the snapshot is ever
                        encrypted). An encrypted snapshot (--encrypted, or the account's encryption by default)
                        writes them whatever is chosen, and says so. A resumed upload keeps its first choice.
  --encrypted           encrypted snapshot
  --kms-key-arn ARN     KMS key for --encrypted
  --parent SNAPSHOT_ID  new version over a completed parent snapshot: only blocks that differ from it are sent
  --parent-compare M    how differences are found: read (the parent's blocks, default) or all (send every block)
  --concurrency N       ceiling of blocks in flight (default 512, 256 MiB; pacing finds the link below it)
  --no-verify-ssl       accept a self-signed certificate (the emulator's --tls)
  --no-progress         no progress lines on stderr
  --json                print the final report as JSON on stdout
  --state FILE          where the upload's progress is kept (default: <image>.blockport-upload.json)
  --restart             ignore an earlier interrupted upload of this image and start a new snapshot
  --register-image NAME once the snapshot is completed, register it as an AMI named NAME and wait until it is
                        available (architecture and boot mode read from the image)
  --architecture A      x86_64 or arm64, when the image does not tell (with --register-image)
  --boot-mode M         legacy-bios, uefi or uefi-preferred, when the image does not tell (with --register-image)
  --help                this text

An interrupted upload (Ctrl-C, a lost connection, a crash) resumes when the same command is run again: the
state file holds the snapshot id and every acknowledged block. It is removed once the snapshot is completed.

Exit status: 0 when the snapshot reached 'completed', 1 when it failed or was interrupted, 2 for a bad command line.`;

interface Parsed {
  image: string;
  endpoint?: string;
  region?: string;
  options: UploadOptions;
  progress: boolean;
  json: boolean;
  verifySsl: boolean;
  /** The ledger file (default beside the image). */
  state?: string;
  restart: boolean;
  /** Register an AMI of this name after the upload. */
  registerImage?: string;
  architecture?: 'x86_64' | 'arm64';
  bootMode?: 'legacy-bios' | 'uefi' | 'uefi-preferred';
}

/** Parses the arguments of `upload`; throws UsageError with a sentence. */
export function parseUploadArgs(args: string[]): Parsed {
  const out: Parsed = { image: '', options: {}, progress: true, json: false, verifySsl: true, restart: false };
  const tags: Record<string, string> = {};
  const option = (flag: string, value: () => string): boolean => {
    switch (flag) {
      case '--endpoint':
        out.endpoint = endpointFlag(value());
        break;
      case '--region':
        out.region = value();
        break;
      case '--description':
        out.options.description = value();
        break;
      case '--tag':
        tagFlag(value(), tags);
        break;
      case '--volume-size':
        out.options.volumeSizeGiB = wholeNumber(flag, value(), 1, 65536);
        break;
      case '--timeout':
        out.options.timeoutMinutes = wholeNumber(flag, value(), 10, 4320);
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
      case '--zero-blocks': {
        const m = value();
        if (m !== 'write' && m !== 'skip') throw new UsageError(`--zero-blocks takes write or skip, got ${m}.`);
        out.options.zeroBlocks = m;
        break;
      }
      case '--concurrency':
        out.options.concurrency = wholeNumber(flag, value(), 1, 1024);
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
      case '--state':
        out.state = value();
        break;
      case '--restart':
        out.restart = true;
        break;
      case '--register-image':
        out.registerImage = value();
        break;
      case '--architecture':
        out.architecture = parseArchitecture(value());
        break;
      case '--boot-mode':
        out.bootMode = parseBootMode(value());
        break;
      default:
        return false;
    }
    return true;
  };
  walkArgs(
    'upload',
    args,
    option,
    (a) => {
      if (out.image) throw new UsageError(`Only one image can be uploaded at a time (got ${out.image} and ${a}).`);
      out.image = a;
    },
    { equals: true },
  );
  if (!out.image) throw new UsageError('Name the image to upload: blockport upload <image>.');
  if (Object.keys(tags).length) out.options.tags = tags;
  if ((out.architecture || out.bootMode) && !out.registerImage) throw new UsageError('--architecture and --boot-mode go with --register-image NAME.');
  return out;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

function progressLine(p: UploadProgress): string {
  const pct = p.totalBlocks ? Math.floor((100 * p.ackedBlocks) / p.totalBlocks) : 100;
  const eta = p.etaSeconds === null ? '' : ` ETA ${Math.floor(p.etaSeconds / 60)}m${String(p.etaSeconds % 60).padStart(2, '0')}s`;
  // The service went silent (sleep, network lost): the upload waits and goes on by itself when it answers again.
  const phase = p.waitingForNetwork ? `waiting for the network (resumes by itself) at` : p.phase;
  return `${phase} ${pct}% blocks ${p.ackedBlocks}/${p.totalBlocks} (written ${p.writtenBlocks}, skipped ${p.skippedBlocks}) ${mib(p.bytesAcked)} MiB ${p.speedMiBps.toFixed(1)} MiB/s in-flight ${p.inFlight}/${p.concurrency} retries ${p.retried}${eta}`;
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
    ...(r.zeroBlocksNote ? { ZeroBlocksNote: r.zeroBlocksNote } : {}),
  };
}

/** How a refusal to resume is told: the image by the path given, the upload by its state file. */
function resumeWords(image: string, state: string): ReopenWords {
  return {
    file: image,
    upload: `the upload recorded in ${state}`,
    advice: 'Put the original image back to resume, or pass --restart to upload this one as a new snapshot.',
    changedAction: 'restart',
    restart: 'Pass --restart to start over.',
  };
}

function sameConnection(a: Connection, b: Connection): boolean {
  return JSON.stringify(publicConnection(a)) === JSON.stringify(publicConnection(b));
}

/** The snapshot options given now that differ from those the resumed snapshot was started with (as flag names). */
export function ignoredOnResume(given: UploadOptions, started: SnapshotParams, startedZeroBlocks?: ZeroBlocks): string[] {
  const out: string[] = [];
  const differs = <T>(flag: string, now: T | undefined, then: T | undefined) => {
    if (now !== undefined && JSON.stringify(now) !== JSON.stringify(then)) out.push(flag);
  };
  differs('--description', given.description, started.description);
  differs('--tag', given.tags && Object.keys(given.tags).length ? given.tags : undefined, started.tags);
  differs('--volume-size', given.volumeSizeGiB, started.volumeSizeGiB);
  differs('--timeout', given.timeoutMinutes, started.timeoutMinutes);
  differs('--encrypted', given.encrypted || undefined, started.encrypted || undefined);
  differs('--kms-key-arn', given.kmsKeyArn, started.kmsKeyArn);
  differs('--parent', given.parentSnapshotId, started.parentSnapshotId);
  differs('--zero-blocks', given.zeroBlocks, startedZeroBlocks);
  return out;
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
  const region = regionOf(p);
  if (!region) {
    console.error(`blockport upload: ${NO_REGION}`);
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
  const statePath = p.state ?? `${p.image}.blockport-upload.json`;
  let store: FileLedgerStore;
  try {
    store = await openFileLedger(statePath, { ignoreExisting: p.restart });
  } catch (err) {
    if (!(err instanceof StateFileError)) throw err;
    console.error(`blockport upload: ${err.message}`);
    return 1;
  }
  const connection: Connection = { kind: 'endpoint', region, ...(p.endpoint ? { endpoint: p.endpoint } : {}) };
  // A socket per block in flight: the agent must never be the window's limit.
  const clients = await nodeClients(connection, { verifySsl: p.verifySsl, sockets: p.options.concurrency ?? windowCeiling({ browser: false }).ceiling });
  const source = await fileSource(p.image);
  // A packed disk (.xz, .tar.gz, .zip, …): a raw one or a streamOptimized VMDK is streamed out of its decompressor, others unpacked to a
  // temporary file on each run; a resume skips what was sent.
  let disk: PackedDisk | undefined;
  let lastLine = 0;
  const tty = process.stderr.isTTY;
  let interrupted = false;
  let onSigint: (() => void) | undefined;
  try {
    const { sha256 } = await bestSha256();
    // Whole milliseconds, rounded as fs.Stats.mtime is (sub-millisecond mtimes do not survive every copy tool).
    const fingerprint = await fingerprintOf(source, { name: basename(p.image), lastModified: Math.round(st.mtimeMs) }, sha256);
    const words = resumeWords(p.image, statePath);
    if (store.job) checkSameFile(store.job, fingerprint, words);
    // The plan before the work: how the disk inside a packed file is read, and what a resume does again.
    const resumed = store.job?.packing;
    disk = await packedDisk(source, {
      name: p.image,
      ...(resumed ? { resumed } : {}),
      say: (line) => (line.startsWith('notice:') || p.progress) && process.stderr.write(`${tty && p.progress ? '\r\x1b[K' : ''}${line}\n`),
      ...(p.progress && tty ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line}`) } : {}),
    });
    let job = store.job;
    let resumedBlocks = 0;
    // The disk as read for a new job; a resumed one opens it once its record has been checked.
    let opened: { image: DiskImage; blockStates: Uint8Array } | undefined;
    if (job) {
      if (!sameConnection(job.connection, connection)) {
        const where = (c: Connection) => (c.kind === 'endpoint' ? (c.endpoint ?? `AWS ${c.region}`) : c.kind);
        throw new ResumeError(
          `The upload recorded in ${statePath} goes to ${where(job.connection)}, not ${where(connection)}. Run it with the same --endpoint and --region to resume, or pass --restart.`,
          'restart',
          'connection',
        );
      }
      if (job.state === 'completed' && job.report) {
        console.error(`blockport upload: ${p.image} was already uploaded as ${job.report.snapshotId} (completed).`);
        if (p.json) process.stdout.write(`${JSON.stringify(reportJson(job.report), null, 2)}\n`);
        await rm(statePath, { force: true });
        return 0;
      }
      try {
        await checkResumableSnapshot(clients.ec2, job);
      } catch (err) {
        if (!(err instanceof ResumeError)) throw err;
        // Completed after the last record (a crash between CompleteSnapshot and the ledger write): nothing to do.
        if (err.code === 'finished') {
          console.error(`blockport upload: ${err.message}`);
          await rm(statePath, { force: true });
          return 0;
        }
        throw new ResumeError(`${err.message.replace(/ Start the upload again[^.]*\./, '')} Pass --restart to upload the image as a new snapshot.`, err.action, err.code);
      }
      resumedBlocks = store.writtenBlocks();
      const ignored = ignoredOnResume(p.options, job.params, zeroBlocksChoice(job));
      if (ignored.length)
        console.error(`blockport upload: ${ignored.join(', ')} differ${ignored.length === 1 ? 's' : ''} from the upload being resumed, which keeps what it was started with; pass --restart to upload with the new value${ignored.length === 1 ? '' : 's'}.`);
      if (p.progress)
        console.error(`blockport upload: resuming ${job.snapshotId ?? 'the upload'} from ${statePath}: ${resumedBlocks} of ${job.counters.blocksToSend} blocks already sent.`);
    } else {
      const image = await disk.open();
      opened = { image, blockStates: await image.blockStates() };
      // The ClientToken is on disk before StartSnapshot is sent: a re-run after a lost answer finds the same snapshot.
      job = await prepareJob({ ...opened, fingerprint: async () => fingerprint, connection, options: p.options, store, ...(disk.packing ? { packing: disk.packing } : {}) });
    }
    if (!opened) {
      const image = await disk.open();
      checkSameDisk(job, image, words);
      opened = { image, blockStates: await image.blockStates() };
    }
    const session = await startJobSession(job, opened.image, { store, ebs: clients.ebs, ec2: clients.ec2, sha256, options: p.options, blockStates: opened.blockStates });
    // Why empty blocks are written although skipping was chosen: said once, with or without progress lines.
    let noted = false;
    session.onProgress((pr) => {
      if (noted || !pr.zeroBlocksNote) return;
      noted = true;
      process.stderr.write(`${p.progress && tty ? '\r\x1b[K' : ''}blockport upload: ${pr.zeroBlocksNote}\n`);
    });
    if (p.progress) {
      let lastPhase = '';
      session.onProgress((pr) => {
        const now = Date.now();
        // Every phase change prints; within a phase, a line every 250 ms (terminal) or 2 s (log).
        const phase = pr.waitingForNetwork ? 'waiting-for-network' : pr.phase;
        if (phase === lastPhase && now - lastLine < (tty ? 250 : 2000)) return;
        lastPhase = phase;
        lastLine = now;
        process.stderr.write(tty ? `\r\x1b[K${progressLine(pr)}` : `${progressLine(pr)}\n`);
      });
    }
    onSigint = () => {
      // A second Ctrl-C leaves at once: every ledger write is atomic, so the state file is whole either way.
      if (interrupted) process.exit(1);
      interrupted = true;
      // Stop claiming blocks, let those in flight be acknowledged and recorded, keep the job resumable.
      void session.release();
    };
    process.on('SIGINT', onSigint);
    let report: UploadReport;
    try {
      report = await session.done;
    } catch (err) {
      if (interrupted) {
        if (p.progress && tty) process.stderr.write('\n');
        console.error(
          `blockport upload: interrupted; ${store.writtenBlocks()} of ${job.counters.blocksToSend} blocks of ${session.progress().snapshotId ?? 'the snapshot'} are recorded in ${statePath}. Run the same command again to resume.`,
        );
        return 1;
      }
      throw err;
    }
    if (p.progress && tty) process.stderr.write('\n');
    let registered: RegisteredImage | undefined;
    let refused: string | undefined;
    if (p.registerImage && report.state === 'completed') {
      // The boot facts come from the image itself; flags fill in what it does not tell.
      const boot = await detectBoot(await disk.openForBoot());
      const architecture = p.architecture ?? boot.architecture;
      const bootMode = p.bootMode ?? boot.bootMode;
      if (!architecture || !bootMode) {
        refused = `${p.image} does not say how it boots (${boot.evidence.at(-1)}); the snapshot ${report.snapshotId} is complete: register it with \`blockport register-image ${report.snapshotId} --name ${p.registerImage} --architecture x86_64|arm64 --boot-mode uefi|legacy-bios|uefi-preferred\`.`;
      } else {
        try {
          registered = await registerAndWait(clients.ec2, region, { snapshotId: report.snapshotId, name: p.registerImage, architecture, bootMode, ...(p.options.description ? { description: p.options.description } : {}) }, { quiet: !p.progress });
        } catch (err) {
          if (!(err instanceof RegisterImageError)) throw err;
          refused = `the snapshot ${report.snapshotId} is complete, but ${err.message}`;
        }
      }
    }
    if (p.json) process.stdout.write(`${JSON.stringify({ ...reportJson(report), BlocksResumed: resumedBlocks, ...(registered ? imageJson(registered) : {}) }, null, 2)}\n`);
    if (report.state !== 'completed') {
      console.error(`blockport upload: snapshot ${report.snapshotId} ended in state error: ${report.stateMessage ?? 'no message'}.`);
      return 1;
    }
    // Nothing left to resume.
    await rm(statePath, { force: true });
    if (refused) {
      console.error(`blockport upload: ${refused}`);
      return 1;
    }
    if (registered && registered.state !== 'available') {
      console.error(`blockport upload: the image ${registered.imageId} is ${registered.state}${registered.stateReason ? ` (${registered.stateReason})` : ''}.`);
      return 1;
    }
    if (!p.json)
      console.error(
        `blockport upload: ${report.snapshotId} completed: ${report.blocksWritten} blocks written${resumedBlocks ? ` (${resumedBlocks} before resuming)` : ''}, ${report.blocksSkipped} skipped, ${mib(report.bytesWritten)} MiB in ${(report.durationMs / 1000).toFixed(1)} s (${report.avgMiBps.toFixed(1)} MiB/s), checksum ${report.aggregateChecksum}.`,
      );
    return 0;
  } catch (err) {
    if (p.progress && tty) process.stderr.write('\n');
    if (err instanceof UploadError || err instanceof ResumeError || err instanceof ImageFormatError || err instanceof StateFileError) {
      const resumable = err instanceof UploadError && store.job?.state !== 'completed' && store.job !== undefined;
      // A snapshot that expired or vanished cannot be resumed: the way forward is a new one.
      const restart = err instanceof UploadError && err.action === 'restart' && resumable;
      console.error(
        `blockport upload: ${err.message}${restart ? ' Pass --restart to upload the image as a new snapshot.' : resumable ? ` The progress is kept in ${statePath}: run the same command again to resume.` : ''}`,
      );
      return 1;
    }
    console.error(`blockport upload: ${noCredentials(err) ?? (err as Error).message ?? err}`);
    return 1;
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    await disk?.dispose();
    await source.close();
    clients.close();
  }
}
