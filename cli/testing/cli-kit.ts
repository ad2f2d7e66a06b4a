// Test kit of the CLI's tests: run `blockport <verb>` as a user would, and read a snapshot back with boto3.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Static credentials the emulator accepts, and no instance metadata lookups. */
export const TEST_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

// boto3 reads every listed block, checks its size and checksum, and answers {index: base64 sha256}: an independent
// client checks the snapshot.
const BOTO_READ = `
import base64, hashlib, json, sys, boto3
def read(endpoint, snap):
    ebs = boto3.client('ebs', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
    ec2 = boto3.client('ec2', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
    state = ec2.describe_snapshots(SnapshotIds=[snap])['Snapshots'][0]['State']
    out, kw = {}, {'SnapshotId': snap, 'MaxResults': 100}
    while True:
        page = ebs.list_snapshot_blocks(**kw)
        for b in page['Blocks']:
            r = ebs.get_snapshot_block(SnapshotId=snap, BlockIndex=b['BlockIndex'], BlockToken=b['BlockToken'])
            data = r['BlockData'].read()
            assert len(data) == 524288, len(data)
            assert base64.b64encode(hashlib.sha256(data).digest()).decode() == r['Checksum']
            out[b['BlockIndex']] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if not page.get('NextToken'): break
        kw = {'SnapshotId': snap, 'MaxResults': 100, 'NextToken': page['NextToken']}
    return {'state': state, 'volumeSize': page['VolumeSize'], 'blocks': out}
`;

/** One snapshot, named on the command line ("endpoint snapshot-id"). */
const BOTO_READER = `${BOTO_READ}
print(json.dumps(read(sys.argv[1], sys.argv[2])))
`;

export interface ReadBack {
  state: string;
  volumeSize: number;
  /** Block index → base64 SHA-256 of what boto3 read. */
  blocks: Record<string, string>;
}

/** boto3 reads every listed block of a snapshot; throws with boto3's own words when it cannot. */
export function botoRead(endpoint: string, snapshotId: string): ReadBack {
  const py = spawnSync('python3', ['-c', BOTO_READER, endpoint, snapshotId], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (py.status !== 0 || py.stderr) throw new Error(`boto3 could not read ${snapshotId}: ${py.stderr}`);
  return JSON.parse(py.stdout) as ReadBack;
}

// The same read for one snapshot per line of stdin ("endpoint snapshot-id"), one JSON answer per line (or
// {"error": …}): one Python start and boto3 import for a whole test file.
const BOTO_SERVER = `${BOTO_READ}
for line in sys.stdin:
    endpoint, snap = line.split()
    try:
        answer = read(endpoint, snap)
    except Exception as e:
        answer = {'error': '%s: %s' % (type(e).__name__, e)}
    print(json.dumps(answer), flush=True)
`;

/** boto3 in one long-lived process: `read` is botoRead's check, without a Python start per snapshot; `close` ends it. */
export interface BotoReader {
  read(endpoint: string, snapshotId: string): Promise<ReadBack>;
  close(): Promise<void>;
}

/** Starts the boto3 reader process (one per test file; reads are answered in order). */
export function botoReader(): BotoReader {
  const py = spawn('python3', ['-c', BOTO_SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buffered = '';
  let stderr = '';
  const waiting: { resolve: (r: ReadBack) => void; reject: (e: Error) => void; snap: string }[] = [];
  py.stderr.on('data', (d: Buffer) => (stderr += d));
  py.stdout.on('data', (d: Buffer) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (!w) continue;
      const answer = JSON.parse(line) as ReadBack & { error?: string };
      if (answer.error) w.reject(new Error(`boto3 could not read ${w.snap}: ${answer.error}`));
      else w.resolve(answer);
    }
  });
  const exited = new Promise<void>((r) =>
    py.once('close', () => {
      for (const w of waiting.splice(0)) w.reject(new Error(`boto3 reader ended before reading ${w.snap}: ${stderr}`));
      r();
    }),
  );
  return {
    read(endpoint, snapshotId) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject, snap: snapshotId });
        py.stdin.write(`${endpoint} ${snapshotId}\n`);
      });
    },
    async close() {
      py.stdin.end();
      await exited;
      if (stderr) throw new Error(`boto3 reader wrote to stderr: ${stderr}`);
    },
  };
}

export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  /** stderr lines with the time each arrived. */
  lines: { at: number; text: string }[];
  out(): string;
  err(): string;
}

/** Starts `blockport <verb> …` with the test credentials (plus `env`), noting when each stderr line arrived. */
export function startCli(verb: string, args: string[], env: Record<string, string> = TEST_ENV): CliRun {
  const child = spawn(process.execPath, [join(ROOT, 'cli', 'blockport.mjs'), verb, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const lines: { at: number; text: string }[] = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    for (const text of d.toString().split('\n')) if (text.trim()) lines.push({ at: Date.now(), text });
  });
  // 'close', not 'exit': by then stdout and stderr are read to their end.
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, exited, lines, out: () => stdout, err: () => stderr };
}

/** Runs `blockport <verb> …` to its end. */
export async function runCli(verb: string, args: string[], env: Record<string, string> = TEST_ENV): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCli(verb, args, env);
  const code = await run.exited;
  return { code, stdout: run.out(), stderr: run.err() };
}

/**
 * Runs a verb's `run(args)` in this process, as `blockport <verb>` would in its own (the same function behind the same
 * exit code), with the test credentials plus `env` set meanwhile and what it prints captured. A process costs seconds
 * of loading; tests that check a process (its output as a user sees it, SIGINT) use runCli.
 */
export async function runInProcess(run: (args: string[]) => Promise<number>, args: string[], env: Record<string, string> = TEST_ENV): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  const { write: outWrite } = process.stdout;
  const { write: errWrite } = process.stderr;
  const { error } = console;
  Object.assign(process.env, env);
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  console.error = (...a: unknown[]) => void err.push(`${a.map(String).join(' ')}\n`);
  try {
    const code = await run(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
    console.error = error;
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
