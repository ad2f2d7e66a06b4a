import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { blockDigestsOfFile, writeImageFile } from '../../bench/upload-image-file.ts';
import { ignoredOnResume, parseUploadArgs, run } from './upload.ts';
import { botoReader, runCli as runVerb, runInProcess, startCli, TEST_ENV, type BotoReader } from '../testing/cli-kit.ts';
import { PACKED_FIXTURES, packedFixture, packStep } from '../../src/images/testing/container-fixtures.ts';
import { fixtureOracle, sourceRaw } from '../../src/images/testing/test-fixtures.ts';


/** What the CLI itself said on stderr (Node's own warnings left out). */
function ownLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('blockport upload:'));
}

const runCli = (args: string[], env: Record<string, string>) => runVerb('upload', args, env);
/** The same verb in this process (its `run`, behind the same exit code): no process to load for what is not about one. */
const runHere = (args: string[], env: Record<string, string> = TEST_ENV) => runInProcess(run, args, env);

describe('blockport upload (arguments)', () => {
  it('parses flags, repeated tags and the image', () => {
    const p = parseUploadArgs(['disk.img', '--endpoint', 'http://127.0.0.1:1', '--tag', 'a=1', '--tag=b=x=y', '--volume-size', '8', '--concurrency=4', '--json', '--no-progress']);
    expect(p).toMatchObject({ image: 'disk.img', endpoint: 'http://127.0.0.1:1', json: true, progress: false, options: { tags: { a: '1', b: 'x=y' }, volumeSizeGiB: 8, concurrency: 4 } });
    expect(p.options.zeroBlocks).toBeUndefined();
    expect(parseUploadArgs(['d.img', '--zero-blocks', 'skip']).options.zeroBlocks).toBe('skip');
    expect(parseUploadArgs(['d.img', '--zero-blocks=write']).options.zeroBlocks).toBe('write');
    expect(() => parseUploadArgs(['d.img', '--zero-blocks', 'maybe'])).toThrow(/--zero-blocks takes write or skip, got maybe/);
  });

  it('names the snapshot options a resume cannot apply (only those given and different)', () => {
    const started = { volumeSizeGiB: 8, timeoutMinutes: 1440, description: 'web-01', tags: { team: 'infra' } };
    expect(ignoredOnResume(parseUploadArgs(['disk.img']).options, started)).toEqual([]);
    expect(ignoredOnResume(parseUploadArgs(['disk.img', '--description', 'web-01', '--tag', 'team=infra', '--volume-size', '8']).options, started)).toEqual([]);
    expect(ignoredOnResume(parseUploadArgs(['disk.img', '--description', 'web-02', '--tag', 'team=ops', '--volume-size', '16', '--concurrency', '4']).options, started)).toEqual([
      '--description',
      '--tag',
      '--volume-size',
    ]);
    expect(ignoredOnResume(parseUploadArgs(['disk.img', '--zero-blocks', 'skip']).options, started, 'skip')).toEqual([]);
    expect(ignoredOnResume(parseUploadArgs(['disk.img', '--zero-blocks', 'write']).options, started, 'skip')).toEqual(['--zero-blocks']);
  });

  it('refuses a bad command line with exit 2 and a sentence', async () => {
    expect(() => parseUploadArgs(['--volume-size', '0', 'x'])).toThrow(/--volume-size needs a whole number between 1 and 65536, got 0/);
    expect(() => parseUploadArgs(['--tag', 'novalue', 'x'])).toThrow(/--tag needs key=value/);
    expect(() => parseUploadArgs([])).toThrow(/Name the image/);
    expect(parseUploadArgs(['d.img', '--state', '/tmp/s.json', '--restart'])).toMatchObject({ image: 'd.img', state: '/tmp/s.json', restart: true });
    expect(parseUploadArgs(['d.img'])).toMatchObject({ restart: false });
    expect(await run(['--bogus', 'x'])).toBe(2);
  });

  it('fails with exit 1 and a sentence for a missing file', async () => {
    expect(await run(['/nonexistent/disk.img', '--endpoint', 'http://127.0.0.1:9'])).toBe(1);
  });
});

describe('blockport upload against npm run emulator', () => {
  let emu: SpawnedEmulator;
  let dir: string;
  // boto3 reads every snapshot written here, in one Python process.
  let boto: BotoReader;

  beforeAll(async () => {
    boto = botoReader();
    // --verbose: every answered request is logged, so the resume test counts the PutSnapshotBlock calls the server saw.
    emu = await spawnEmulator(['--completion-delay-ms', '200', '--verbose']);
    dir = await mkdtemp(join(tmpdir(), 'blockport-cli-upload-'));
  });

  afterAll(async () => {
    await boto?.close();
    await emu?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const env = TEST_ENV;
  const botoRead = async (snap: string, url = emu.url) => boto.read(url, snap);

  it('writes every block by default, zero blocks included: boto3 lists them all and reads back byte-identical', async () => {
    const image = join(dir, 'disk.img');
    await writeImageFile(image, [['random', 10], ['zero', 12], ['text', 8], ['zero', 3], ['random', 5]], 54321);
    const expected = await blockDigestsOfFile(image);
    const res = await runCli([image, '--endpoint', emu.url, '--description', 'cli test', '--tag', 'team=blockport', '--json'], env);
    expect(res.stderr).toMatch(/uploading \d+%/);
    expect(res.stderr).not.toMatch(/empty blocks are written/);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as Record<string, unknown>;
    const all = expected.zero.length;
    expect(expected.zero.filter((z) => z).length).toBeGreaterThan(10);
    expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: all, BlocksWritten: all, BlocksSkipped: 0, VolumeSize: 1 });
    expect(report.SnapshotId).toMatch(/^snap-/);
    const back = await botoRead(report.SnapshotId as string);
    expect(back.state).toBe('completed');
    expect(back.volumeSize).toBe(1);
    // Every block is listed, the zero ones too, each with the image's own content.
    expect(Object.keys(back.blocks).map(Number)).toEqual([...Array(all).keys()]);
    expect(expected.digests.filter((d, i) => back.blocks[i] !== d).length).toBe(0);
  });

  it('--zero-blocks skip: only non-zero blocks are listed, and the holes read back as the zeros they were', async () => {
    const image = join(dir, 'skip.img');
    await writeImageFile(image, [['random', 10], ['zero', 12], ['text', 8], ['zero', 3], ['random', 5]], 54321);
    const expected = await blockDigestsOfFile(image);
    const res = await runHere([image, '--endpoint', emu.url, '--zero-blocks', 'skip', '--json', '--no-progress'], env);
    expect(res.code).toBe(0);
    expect(ownLines(res.stderr)).toEqual([]);
    const report = JSON.parse(res.stdout) as Record<string, unknown>;
    const data = expected.zero.flatMap((z, i) => (z ? [] : [i]));
    expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: data.length, BlocksSkipped: expected.zero.length - data.length });
    const back = await botoRead(report.SnapshotId as string);
    expect(Object.keys(back.blocks).map(Number)).toEqual(data);
    const zeroDigest = expected.digests[expected.zero.indexOf(true)];
    expect(expected.digests.filter((d, i) => (back.blocks[i] ?? zeroDigest) !== d).length).toBe(0);
  });

  it('--zero-blocks skip against `npm run emulator -- --encryption-by-default`: every block is written, and stderr says why', async () => {
    const image = join(dir, 'sse.img');
    await writeImageFile(image, [['random', 4], ['zero', 6], ['random', 2]], 777);
    const expected = await blockDigestsOfFile(image);
    const sse = await spawnEmulator(['--completion-delay-ms', '200', '--encryption-by-default']);
    try {
      const res = await runHere([image, '--endpoint', sse.url, '--zero-blocks', 'skip', '--json', '--no-progress'], env);
      expect(res.code).toBe(0);
      const said = ownLines(res.stderr);
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/^blockport upload: The service encrypts this snapshot \(sse-ebs.*so empty blocks are written as well: .*\.$/);
      const report = JSON.parse(res.stdout) as Record<string, unknown>;
      const all = expected.zero.length;
      expect(expected.zero.some((z) => z)).toBe(true);
      expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: all, BlocksSkipped: 0 });
      expect(report.ZeroBlocksNote).toMatch(/encrypts this snapshot/);
      const back = await botoRead(report.SnapshotId as string, sse.url);
      expect(Object.keys(back.blocks).map(Number)).toEqual([...Array(all).keys()]);
      expect(expected.digests.filter((d, i) => back.blocks[i] !== d).length).toBe(0);
    } finally {
      expect(await sse.stop()).toBe(0);
    }
  });

  it('uploads a disk packed as it is downloaded (raw in a .tar.xz): boto3 reads back the unpacked disk', { timeout: 180_000 }, async () => {
    const image = join(dir, 'packed.img');
    // Little random data: xz spends seconds on each MiB of it, and two MiB stream as six would.
    await writeImageFile(image, [['random', 2], ['zero', 10], ['text', 4]], 777);
    const expected = await blockDigestsOfFile(image);
    packStep('tar-gnu', image, `${image}.tar`);
    packStep('xz', `${image}.tar`, `${image}.tar.xz`);
    // A raw disk is streamed out of the decompressor: the temporary directory stays empty.
    const tmp = await mkdtemp(join(dir, 'tmp-'));
    const res = await runHere([`${image}.tar.xz`, '--endpoint', emu.url, '--json'], { ...TEST_ENV, BLOCKPORT_TMPDIR: tmp });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/packed\.img\.tar\.xz is tar in xz; the raw disk inside is streamed out of the decompressor as it is read \(nothing is unpacked to disk\)\./);
    expect(await readdir(tmp)).toEqual([]);
    const back = await botoRead((JSON.parse(res.stdout) as Record<string, unknown>).SnapshotId as string);
    expect(back.state).toBe('completed');
    const zeroDigest = expected.digests[expected.zero.indexOf(true)];
    expect(expected.digests.filter((d, i) => (back.blocks[i] ?? zeroDigest) !== d).length).toBe(0);
    // Every block is written by default, zero blocks included.
    expect(Object.keys(back.blocks).length).toBe(expected.zero.length);
  });

  it('streams a streamOptimized VMDK inside .tar.gz grain by grain (no temporary file); boto3 reads back what qemu-img converts', { timeout: 180_000 }, async () => {
    const packed = packedFixture({ name: 'stream.vmdk.tar-gnu.gz', inner: 'stream.vmdk', steps: ['tar-gnu', 'gz'], container: ['gzip', 'tar'] });
    const expected = await blockDigestsOfFile(fixtureOracle('stream.vmdk', sourceRaw(16)));
    const tmp = await mkdtemp(join(dir, 'tmp-'));
    const res = await runHere([packed, '--endpoint', emu.url, '--json'], { ...TEST_ENV, BLOCKPORT_TMPDIR: tmp });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/is tar in gzip; the streamOptimized VMDK inside is streamed out of the decompressor grain by grain as it is read \(nothing is unpacked to disk\)\./);
    expect(await readdir(tmp)).toEqual([]);
    const back = await botoRead((JSON.parse(res.stdout) as Record<string, unknown>).SnapshotId as string);
    expect(back.state).toBe('completed');
    const zeroDigest = expected.digests[expected.zero.indexOf(true)];
    expect(expected.digests.filter((d, i) => (back.blocks[i] ?? zeroDigest) !== d).length).toBe(0);
  });

  it('unpacks a qcow2 inside .gz to a temporary file first, removed after; boto3 reads back what qemu-img converts', { timeout: 180_000 }, async () => {
    const packed = packedFixture(PACKED_FIXTURES.find((f) => f.name === 'v3.qcow2.gz')!);
    const expected = await blockDigestsOfFile(fixtureOracle('v3.qcow2', sourceRaw(16)));
    const tmp = await mkdtemp(join(dir, 'tmp-'));
    const res = await runHere([packed, '--endpoint', emu.url, '--json'], { ...TEST_ENV, BLOCKPORT_TMPDIR: tmp });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/is gzip; its disk is unpacked to a temporary file in .* before any block is sent\./);
    expect(await readdir(tmp)).toEqual([]);
    const back = await botoRead((JSON.parse(res.stdout) as Record<string, unknown>).SnapshotId as string);
    expect(back.state).toBe('completed');
    expect(expected.digests.filter((d, i) => back.blocks[i] !== d).length).toBe(0);
  });

  it('says why when the credentials are refused, exit 1', async () => {
    const image = join(dir, 'small.img');
    await writeImageFile(image, [['random', 1]]);
    const res = await runHere([image, '--endpoint', emu.url, '--no-progress'], { AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong', AWS_REGION: 'us-east-1' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/blockport upload: .*(credentials|security token|refused)/i);
    expect(res.stdout).toBe('');
  });

  it('resumes after SIGINT: the re-run sends only blocks not recorded and keeps --zero-blocks skip, a changed image is refused, boto3 reads back byte-identical', { timeout: 300_000 }, async () => {
    const image = join(dir, 'resume.img');
    await writeImageFile(image, [['random', 40], ['zero', 6], ['random', 18]], 4321);
    const expected = await blockDigestsOfFile(image);
    const dataBlocks = expected.zero.filter((z) => !z).length;
    const state = `${image}.blockport-upload.json`;
    const window = 4;
    const setLatency = (latencyMs: number) => emu.admin('config', { latencyMs });
    type StateDoc = { job: { snapshotId?: string; clientToken: string }; pages: { written: string }[] };
    const readState = async (): Promise<StateDoc | undefined> => (existsSync(state) ? (JSON.parse(await readFile(state, 'utf8')) as StateDoc) : undefined);
    const recorded = (d: StateDoc | undefined) => (d?.pages ?? []).reduce((n, p) => n + [...Buffer.from(p.written, 'base64')].reduce((m, b) => m + b.toString(2).replace(/0/g, '').length, 0), 0);
    const putsFor = (snap: string) => emu.output().split('\n').filter((l) => l.startsWith(`PUT /snapshots/${snap}/blocks/`) && l.endsWith('→ 201')).length;

    // Slow every request so the interrupt lands mid-upload whatever the machine's speed.
    expect((await setLatency(250)).ok).toBe(true);
    const first = startCli('upload', [image, '--endpoint', emu.url, '--zero-blocks', 'skip', '--concurrency', String(window), '--no-progress'], env);
    let before: StateDoc | undefined;
    for (let t = 0; t < 1200 && recorded((before = await readState().catch(() => undefined))) < 6; t++) await new Promise((r) => setTimeout(r, 50));
    // The ClientToken and the snapshot id were on disk before any block was recorded.
    expect(before?.job.clientToken).toBeTruthy();
    const snap = before!.job.snapshotId!;
    expect(snap).toMatch(/^snap-/);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(1);
    expect(first.err()).toContain('Run the same command again to resume');
    const kept = recorded(await readState());
    expect(kept).toBeGreaterThanOrEqual(6);
    expect(kept).toBeLessThan(dataBlocks);
    // Requests the server was still answering when the process left are done by now.
    expect((await setLatency(0)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    const putsFirstRun = putsFor(snap);

    // A changed image (here: only its modification time) is refused with a sentence, and the state is kept.
    const { atime, mtime } = await stat(image);
    await utimes(image, atime, new Date(mtime.getTime() + 60_000));
    const refused = await runHere([image, '--endpoint', emu.url, '--no-progress'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/was modified since the upload recorded in .* started .*--restart/);
    expect(recorded(await readState())).toBe(kept);
    await utimes(image, atime, mtime);

    // The re-run names no --zero-blocks: the choice recorded with the job (skip) holds.
    const again = await runCli([image, '--endpoint', emu.url, '--json', '--no-progress'], env);
    expect(again.stderr).not.toMatch(/blockport upload: (?!resuming)/);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ SnapshotId: snap, State: 'completed', ChangedBlocksCount: dataBlocks, BlocksSkipped: expected.zero.length - dataBlocks, BlocksResumed: kept });
    expect(existsSync(state)).toBe(false);
    // The re-run sent exactly what the ledger lacked; what was sent twice is at most the blocks that were in flight.
    expect(putsFor(snap) - putsFirstRun).toBe(dataBlocks - kept);
    const resent = putsFor(snap) - dataBlocks;
    expect(resent).toBeGreaterThanOrEqual(0);
    expect(resent).toBeLessThanOrEqual(window);

    const back = await botoRead(snap);
    expect(back.state).toBe('completed');
    const zeroDigest = expected.digests[expected.zero.indexOf(true)];
    expect(expected.digests.filter((d, i) => (back.blocks[i] ?? zeroDigest) !== d).length).toBe(0);
    expect(Object.keys(back.blocks).length).toBe(dataBlocks);
  });
});
