// `blockport download` and `blockport diff` against `npm run emulator`, checked against boto3: as processes where the
// process is what is checked (output, exit code, SIGINT), in this process for the refusals and the diff listings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EBSClient } from '@aws-sdk/client-ebs';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { patternBlock, writeSnapshot } from '../../src/engine/testing/download-fixture.ts';
import { run as diffRun } from './diff.ts';
import { run as downloadRun } from './download.ts';
import { run as uploadRun } from './upload.ts';
import { runInProcess as inProcess } from '../testing/cli-kit.ts';

const run = promisify(execFile);
const BS = 524288;
const root = join(import.meta.dirname, '..', '..');
const env = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

// boto3 reads the same snapshots on its own, several in one process (each job a line of its answer):
// ListSnapshotBlocks + GetSnapshotBlock into a file (its SHA-256), and ListChangedBlocks.
const BOTO3 = `
import boto3, hashlib, json, sys
url, jobs = sys.argv[1], json.loads(sys.argv[2])
ebs = boto3.client('ebs', endpoint_url=url, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
def download(snap, size):
    data = bytearray(size)
    kw = {'SnapshotId': snap}
    while True:
        page = ebs.list_snapshot_blocks(**kw)
        for b in page['Blocks']:
            body = ebs.get_snapshot_block(SnapshotId=snap, BlockIndex=b['BlockIndex'], BlockToken=b['BlockToken'])['BlockData'].read()
            off = b['BlockIndex'] * 524288
            if off < size:
                data[off:off + len(body)] = body[:size - off]
        if not page.get('NextToken'): break
        kw = {'SnapshotId': snap, 'NextToken': page['NextToken']}
    return hashlib.sha256(bytes(data[:size])).hexdigest()
def changed(first, second):
    out, kw = [], {'FirstSnapshotId': first, 'SecondSnapshotId': second}
    while True:
        page = ebs.list_changed_blocks(**kw)
        for c in page['ChangedBlocks']:
            a, b = c.get('FirstBlockToken'), c.get('SecondBlockToken')
            out.append({'index': c['BlockIndex'], 'side': 'both' if a and b else 'first' if a else 'second'})
        if not page.get('NextToken'): break
        kw = {'FirstSnapshotId': first, 'SecondSnapshotId': second, 'NextToken': page['NextToken']}
    return out
for op, a, b in jobs:
    print(json.dumps(download(a, b) if op == 'download' else changed(a, b)))
`;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(root, 'cli', 'blockport.mjs'), ...args], { env, maxBuffer: 64 * 1048576 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

type BotoJob = ['download', string, number] | ['changed', string, string];
/** boto3's answers to the jobs, in one process: a SHA-256 (hex) per download, a block list per changed. */
async function boto3(url: string, jobs: BotoJob[]): Promise<unknown[]> {
  const out = (await run('python3', ['-c', BOTO3, url, JSON.stringify(jobs)], { maxBuffer: 64 * 1048576 })).stdout.trim();
  return out.split('\n').map((l) => JSON.parse(l) as unknown);
}

/** SHA-256 (hex) of a file's first `length` bytes, and whether the rest of it is all zeros, read 16 MiB at a time. */
function digestAndZeroTail(path: string, length: number): { sha: string; zeroTail: boolean } {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(16 * 1048576);
  const zeros = Buffer.alloc(buf.length);
  const h = createHash('sha256');
  let zeroTail = true;
  try {
    const size = statSync(path).size;
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
      const head = Math.max(0, Math.min(n, length - at));
      h.update(buf.subarray(0, head));
      if (!buf.subarray(head, n).equals(zeros.subarray(0, n - head))) zeroTail = false;
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha: h.digest('hex'), zeroTail };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// Each CLI run is a fresh process (tsx + SDK load): slow on a busy machine, hence the long per-test timeout.
describe('blockport download / diff against npm run emulator', { timeout: 300_000 }, () => {
  let emu: SpawnedEmulator;
  let ebs: EBSClient;
  let dir: string;
  let v1: string;
  let v2: string;
  let other: string;
  const v1Blocks = new Map<number, Uint8Array>();
  const v2Blocks = new Map<number, Uint8Array>();
  const V2_SIZE = 64 * BS + 12345;
  // What boto3 reads of the snapshots written here, asked once: v2 and v1's written part, and the changes both ways.
  let byBoto: { v2: string; v1: string; changes: [unknown, unknown] };

  beforeAll(async () => {
    emu = await spawnEmulator(['--latency-ms', '5']);
    ebs = new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    dir = mkdtempSync(join(tmpdir(), 'blockport-cli-dl-'));
    for (let i = 0; i < 60; i++) if (i % 7 !== 3) v1Blocks.set(i, patternBlock(i + 1));
    v1 = await writeSnapshot(ebs, v1Blocks);
    v2Blocks.set(4, patternBlock(4000)).set(5, new Uint8Array(BS)).set(6, patternBlock(7)).set(100, patternBlock(100)).set(2047, patternBlock(2047));
    v2 = await writeSnapshot(ebs, v2Blocks, { parentSnapshotId: v1 });
    other = await writeSnapshot(ebs, new Map([[0, patternBlock(9)]]));
    const [a, b, c, d] = await boto3(emu.url, [['download', v2, V2_SIZE], ['download', v1, 60 * BS], ['changed', v1, v2], ['changed', v2, v1]]);
    byBoto = { v2: a as string, v1: b as string, changes: [c, d] };
  });

  afterAll(async () => {
    ebs?.destroy();
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('downloads a child snapshot byte-identical to what boto3 reads, and to the volume written', async () => {
    const file = join(dir, 'v2.img');
    const size = V2_SIZE;
    const r = await cli(['download', v2, file, '--endpoint', emu.url, '--size', String(size), '--no-progress']);
    expect(r.stderr).toContain('every checksum verified');
    // Dozens of blocks in flight listen on one Ctrl-C signal: no Node warning about it (MaxListenersExceededWarning).
    expect(r.stderr).not.toMatch(/Warning/);
    expect(r.code).toBe(0);
    const got = readFileSync(file);
    expect(got.length).toBe(size);
    const want = new Uint8Array(size);
    for (const [i, d] of [...v1Blocks, ...v2Blocks]) if (i * BS < size) want.set(d.subarray(0, Math.min(BS, size - i * BS)), i * BS);
    expect(sha(got)).toBe(sha(want));
    expect(sha(got)).toBe(byBoto.v2);
    expect(existsSync(`${file}.blockport-download.json`)).toBe(false);
  });

  it('defaults to the volume size and prints its result as JSON', async () => {
    const file = join(dir, 'v1.img');
    const r = await cli(['download', v1, file, '--endpoint', emu.url, '--json', '--no-progress']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ snapshotId: v1, size: 1024 ** 3, blocksListed: v1Blocks.size, blocksFetched: v1Blocks.size });
    // The file is the whole volume; its written part matches boto3's read (the rest is never-written zeros).
    expect(statSync(file).size).toBe(1024 ** 3);
    expect(digestAndZeroTail(file, 60 * BS)).toEqual({ sha: byBoto.v1, zeroTail: true });
  });

  it('resumes after an interrupt (SIGINT) and fetches only what is missing', async () => {
    const file = join(dir, 'resume.img');
    const size = 60 * BS;
    // Slow every request so the interrupt lands mid-download whatever the machine's speed.
    const setLatency = (latencyMs: number) =>
      emu.admin('config', { latencyMs });
    expect((await setLatency(250)).ok).toBe(true);
    const child = spawn(process.execPath, [join(root, 'cli', 'blockport.mjs'), 'download', v1, file, '--endpoint', emu.url, '--size', String(size), '--concurrency', '1', '--no-progress'], { env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const sidecar = `${file}.blockport-download.json`;
    for (let t = 0; t < 600 && !existsSync(sidecar); t++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sidecar)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toContain('Run the same command again to resume');
    expect((await setLatency(5)).ok).toBe(true);

    const r = await cli(['download', v1, file, '--endpoint', emu.url, '--size', String(size), '--json', '--no-progress']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.blocksResumed).toBeGreaterThan(0);
    expect(res.blocksResumed + res.blocksFetched).toBe(v1Blocks.size);
    expect(sha(readFileSync(file))).toBe(byBoto.v1);
  });

  it('diff --json lists exactly what boto3 ListChangedBlocks lists, both ways', async () => {
    // In this process: `blockport diff` as a process is run by the upload --parent test below.
    for (const [k, [a, b]] of ([[v1, v2], [v2, v1]] as const).entries()) {
      const r = await inProcess(diffRun, [a, b, '--endpoint', emu.url, '--json']);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.blocks).toEqual(byBoto.changes[k]);
      expect(doc.counts.total).toBe(v2Blocks.size);
    }
    const human = await inProcess(diffRun, [v1, v2, '--endpoint', emu.url]);
    expect(human.stdout).toContain('only in the second: 2  [100, 2047]');
    expect(human.stdout).toContain('in both:            3  [4-6]');
  });

  it('upload --parent sends only the changed blocks; diff and download agree with the new image', async () => {
    const n = 16;
    const v1 = Buffer.alloc(n * BS + 1000);
    for (let i = 0; i < n; i++) if (i % 4 !== 0) Buffer.from(patternBlock(300 + i)).copy(v1, i * BS);
    const v2 = Buffer.from(v1);
    Buffer.from(patternBlock(9002)).copy(v2, 2 * BS); // rewritten
    Buffer.from(patternBlock(9009)).copy(v2, 9 * BS); // rewritten
    v2.fill(0, 5 * BS, 6 * BS); // zero over parent data
    Buffer.from(patternBlock(9012)).copy(v2, 12 * BS); // data over a parent hole
    const p1 = join(dir, 'inc-v1.img');
    const p2 = join(dir, 'inc-v2.img');
    writeFileSync(p1, v1);
    writeFileSync(p2, v2);
    // The uploads in this process (`blockport upload` as a process is upload.test.ts's); the diff as a process.
    const up1 = await inProcess(uploadRun, [p1, '--endpoint', emu.url, '--json', '--no-progress']);
    expect(up1.code).toBe(0);
    const id1 = JSON.parse(up1.stdout).SnapshotId as string;
    const up2 = await inProcess(uploadRun, [p2, '--endpoint', emu.url, '--parent', id1, '--json', '--no-progress']);
    expect(up2.code).toBe(0);
    const r2 = JSON.parse(up2.stdout);
    expect(r2.BlocksWritten).toBe(4);
    const d = await cli(['diff', id1, r2.SnapshotId, '--endpoint', emu.url, '--json']);
    expect(JSON.parse(d.stdout).blocks.map((b: { index: number }) => b.index)).toEqual([2, 5, 9, 12]);
    const out = join(dir, 'inc-v2.back');
    expect((await inProcess(downloadRun, [r2.SnapshotId, out, '--endpoint', emu.url, '--size', String(v2.length), '--no-progress'])).code).toBe(0);
    expect(sha(readFileSync(out))).toBe(sha(v2));
    expect(await boto3(emu.url, [['download', r2.SnapshotId, v2.length]])).toEqual([sha(v2)]);
  });

  it('diff of unrelated snapshots and download of a missing one fail with sentences', async () => {
    // In this process (the exit codes are what `run` returns); a failing download as a process is the SIGINT test's.
    const r = await inProcess(diffRun, [v1, other, '--endpoint', emu.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${v1} and ${other} are not related`);
    const missing = join(dir, 'missing.img');
    const d = await inProcess(downloadRun, ['snap-0123456789abcdef0', missing, '--endpoint', emu.url, '--wait', '0']);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/snap-0123456789abcdef0 cannot be read/);
    expect(existsSync(missing)).toBe(false);
    const bad = await inProcess(downloadRun, ['vol-123', missing]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a snapshot id');
  });
});
