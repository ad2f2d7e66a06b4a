// The upload engine in real Chromium: a 128 MiB image with random, compressible and zero regions goes through the
// worker pool into the in-browser emulator (once with workers replaced as they go), and every block read back through
// the SDK equals the image.
import { test, expect, type Page } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { blockDigestsOfFile, writeImageFile } from '../bench/upload-image-file.ts';

let dir: string;
let imagePath: string;
let expected: { digests: string[]; zero: boolean[] };

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockport-engine-'));
  imagePath = join(dir, 'disk.img');
  await writeImageFile(imagePath, [['random', 24], ['text', 20], ['zero', 32], ['random', 12], ['zero', 20], ['text', 12], ['random', 8]], 123457);
  expected = await blockDigestsOfFile(imagePath);
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type EngineWindow = {
  __engine: typeof import('../src/engine/api.ts');
  __emu: typeof import('../src/emulator/index.ts');
  __readback: typeof import('../src/engine/testing/snapshot-readback.ts');
};

/**
 * Uploads the image through the engine in the page, with these options (paused for a moment once `pauseAt` blocks are
 * written); reads the snapshot back, and counts the upload workers the page started.
 */
async function engineUpload(page: Page, options: import('../src/engine/api.ts').UploadOptions, pauseAt = 0, path = imagePath) {
  const started: string[] = [];
  const streams: string[] = [];
  page.on('worker', (w) => void (w.url().includes('upload.worker') && started.push(w.url())));
  page.on('worker', (w) => void (w.url().includes('stream.worker') && streams.push(w.url())));
  await page.goto('/');
  await page.addScriptTag({ type: 'module', url: '/e2e/engine-harness.ts' });
  await page.waitForFunction(() => '__readback' in window, undefined, { timeout: 60_000 });
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'engine-file';
    document.body.append(input);
  });
  await page.setInputFiles('#engine-file', path);
  const result = await page.evaluate(async ([options, pauseAt]) => {
    const w = window as unknown as EngineWindow;
    const engine = w.__engine;
    const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
    const dbName = `e2e-engine-${Date.now()}`;
    const plan = await engine.planUpload(file);
    const run = await engine.startUpload({ file, connection: { kind: 'emulator', dbName }, options });
    const phases: string[] = [];
    let maxInFlight = 0;
    let blockUpdates = 0;
    let paused = false;
    run.onProgress((p) => {
      if (pauseAt && !paused && p.writtenBlocks >= pauseAt) {
        paused = true;
        void run.pause().then(() => setTimeout(() => run.resume(), 200));
      }
      if (phases.at(-1) !== p.phase) phases.push(p.phase);
      maxInFlight = Math.max(maxInFlight, p.inFlight);
    });
    run.onBlocks((u) => (blockUpdates += u.length / 2));
    const report = await run.done;
    const job = await engine.getJob(run.jobId);
    const map = run.blockMap();
    const { ebs, ec2 } = await w.__emu.openBrowserEmulator(dbName);
    void ec2;
    const back = await w.__readback.snapshotBlockDigests(ebs, report.snapshotId, plan.blockCount);
    return {
      plan: { blockCount: plan.blockCount, volumeSizeGiB: plan.volumeSizeGiB, format: plan.format },
      report,
      job: job && { state: job.state, counters: job.counters, snapshotId: job.snapshotId, clientToken: job.clientToken },
      phases,
      maxInFlight,
      blockUpdates,
      mapWritten: map.filter((m) => m === 2).length,
      mapSkipped: map.filter((m) => m === 1).length,
      back,
    };
  }, [options, pauseAt] as const);
  return { ...result, started, streams };
}

/**
 * What every engine upload of the image must show: the report, the job, the block map and the blocks read back.
 * `skip`: empty blocks were skipped as asked; otherwise every block is written (the default).
 */
function expectUploaded(result: Omit<Awaited<ReturnType<typeof engineUpload>>, 'started' | 'streams'>, skip: boolean) {
  const blockCount = expected.digests.length;
  const zeroCount = expected.zero.filter(Boolean).length;
  expect(zeroCount).toBeGreaterThan(0);
  const skipped = skip ? zeroCount : 0;
  const written = blockCount - skipped;
  expect(result.plan).toEqual({ blockCount, volumeSizeGiB: 1, format: 'raw' });
  expect(result.report.state).toBe('completed');
  expect(result.report.snapshotId).toMatch(/^snap-[0-9a-f]+$/);
  expect(result.report.blocksWritten).toBe(written);
  expect(result.report.changedBlocksCount).toBe(written);
  expect(result.report.blocksSkipped).toBe(skipped);
  expect(result.job).toMatchObject({ state: 'completed', snapshotId: result.report.snapshotId, counters: { writtenBlocks: written, skippedBlocks: skipped } });
  expect(result.phases).toEqual(expect.arrayContaining(['uploading', 'completing', 'waiting', 'completed']));
  expect(result.maxInFlight).toBeGreaterThan(1);
  expect(result.mapWritten).toBe(written);
  expect(result.mapSkipped).toBe(skipped);
  // Every block, as a reader of the snapshot sees it, equals the image (zero-padded tail included).
  expect(result.back.listed).toBe(written);
  const mismatched = result.back.digests.map((d, i) => (d === expected.digests[i] ? -1 : i)).filter((i) => i >= 0);
  expect(mismatched).toEqual([]);
}

test('uploads a 128 MiB image through the worker pool into the in-browser emulator, byte for byte', async ({ page }) => {
  test.setTimeout(300_000);
  const { started, streams: _, ...result } = await engineUpload(page, { description: 'engine e2e', workers: 2 });
  // By default every block is written, the zero ones too.
  expectUploaded(result, false);
  // 256 blocks are within one worker's share (2048 by default): the two workers are never replaced.
  expect(started).toHaveLength(2);
});

test('workers replaced every 32 claimed blocks upload the same snapshot, byte for byte, across a pause', async ({ page }) => {
  test.setTimeout(300_000);
  const { started, streams: _, ...result } = await engineUpload(page, { description: 'engine e2e, recycled workers', workers: 2, recycleBlocks: 32, zeroBlocks: 'skip' }, 50);
  expectUploaded(result, true);
  expect(result.phases).toContain('paused');
  // Two workers to begin with, and successors for them as their shares ran out.
  expect(started.length).toBeGreaterThan(2);
});

test('a streamed .raw.gz: the upload worker replaced every 32 blocks reads on from the one stream worker, byte for byte, across a pause', async ({ page }) => {
  test.setTimeout(300_000);
  const gz = `${imagePath}.gz`;
  execFileSync('sh', ['-c', `gzip -c -1 '${imagePath}' > '${gz}'`]);
  const { started, streams, ...result } = await engineUpload(page, { description: 'engine e2e, streamed, recycled', recycleBlocks: 32, zeroBlocks: 'skip' }, 50, gz);
  expectUploaded(result, true);
  expect(result.phases).toContain('paused');
  // One stream worker decodes the file for the whole run; the upload worker's successors read on where it was.
  expect(streams).toHaveLength(1);
  expect(started.length).toBeGreaterThan(2);
});
