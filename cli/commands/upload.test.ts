import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { blockDigestsOfFile, writeImageFile } from '../../bench/upload-image-file.ts';
import { parseUploadArgs, run } from './upload.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// boto3 reads every listed block and prints {index: base64 sha256}: an independent client checks our snapshot.
const BOTO_READER = `
import base64, hashlib, json, sys, boto3
endpoint, snap = sys.argv[1], sys.argv[2]
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
print(json.dumps({'state': state, 'volumeSize': page['VolumeSize'], 'blocks': out}))
`;

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'cli', 'blockport.mjs'), 'upload', ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('blockport upload (arguments)', () => {
  it('parses flags, repeated tags and the image', () => {
    const p = parseUploadArgs(['disk.img', '--endpoint', 'http://127.0.0.1:1', '--tag', 'a=1', '--tag=b=x=y', '--volume-size', '8', '--concurrency=4', '--json', '--no-progress']);
    expect(p).toMatchObject({ image: 'disk.img', endpoint: 'http://127.0.0.1:1', json: true, progress: false, options: { tags: { a: '1', b: 'x=y' }, volumeSizeGiB: 8, concurrency: 4 } });
  });

  it('refuses a bad command line with exit 2 and a sentence', async () => {
    expect(() => parseUploadArgs(['--volume-size', '0', 'x'])).toThrow(/--volume-size needs a whole number between 1 and 65536, got 0/);
    expect(() => parseUploadArgs(['--tag', 'novalue', 'x'])).toThrow(/--tag needs key=value/);
    expect(() => parseUploadArgs([])).toThrow(/Name the image/);
    expect(await run(['--bogus', 'x'])).toBe(2);
  });

  it('fails with exit 1 and a sentence for a missing file', async () => {
    expect(await run(['/nonexistent/disk.img', '--endpoint', 'http://127.0.0.1:9'])).toBe(1);
  });
});

describe('blockport upload against npm run emulator', () => {
  let emu: SpawnedEmulator;
  let dir: string;

  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '200']);
    dir = await mkdtemp(join(tmpdir(), 'blockport-cli-upload-'));
  });

  afterAll(async () => {
    await emu?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads an image that boto3 reads back byte-identical, with a JSON report on stdout', async () => {
    const image = join(dir, 'disk.img');
    await writeImageFile(image, [['random', 10], ['zero', 12], ['text', 8], ['zero', 3], ['random', 5]], 54321);
    const expected = await blockDigestsOfFile(image);
    const res = await runCli([image, '--endpoint', emu.url, '--description', 'cli test', '--tag', 'team=blockport', '--json'], {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    });
    expect(res.stderr).toMatch(/uploading \d+%/);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as Record<string, unknown>;
    const dataBlocks = expected.zero.filter((z) => !z).length;
    expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: dataBlocks, BlocksSkipped: expected.zero.length - dataBlocks, VolumeSize: 1 });
    expect(report.SnapshotId).toMatch(/^snap-/);

    const script = join(dir, 'read.py');
    await writeFile(script, BOTO_READER);
    const py = spawnSync('python3', [script, emu.url, report.SnapshotId as string], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(py.stderr).toBe('');
    const back = JSON.parse(py.stdout) as { state: string; volumeSize: number; blocks: Record<string, string> };
    expect(back.state).toBe('completed');
    expect(back.volumeSize).toBe(1);
    const zeroDigest = expected.digests[expected.zero.indexOf(true)];
    const mismatches = expected.digests.filter((d, i) => (back.blocks[i] ?? zeroDigest) !== d).length;
    expect(mismatches).toBe(0);
    expect(Object.keys(back.blocks).length).toBe(dataBlocks);
  });

  it('says why when the credentials are refused, exit 1', async () => {
    const image = join(dir, 'small.img');
    await writeImageFile(image, [['random', 1]]);
    const res = await runCli([image, '--endpoint', emu.url, '--no-progress'], { AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong', AWS_REGION: 'us-east-1' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/blockport upload: .*(credentials|security token|refused)/i);
    expect(res.stdout).toBe('');
  });
});
