// Resume at the engine level in real Chromium: reload mid-upload (workers die with blocks in flight), re-pick the
// file, resume; the snapshot is byte-identical and re-sent blocks stay within the in-flight window.
import { test, expect, type Page } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockDigestsOfFile, writeImageFile } from '../bench/upload-image-file.ts';
import { patchJob } from './helpers/ui.ts';

type EngineWindow = {
  __engine: typeof import('../src/engine/api.ts');
  __emu: typeof import('../src/emulator/index.ts');
  __readback: typeof import('../src/engine/testing/snapshot-readback.ts');
};

let dir: string;
let imagePath: string;
let otherPath: string;
let expected: { digests: string[]; zero: boolean[] };
const CEILING = 8;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockport-resume-'));
  imagePath = join(dir, 'disk.img');
  otherPath = join(dir, 'other.img');
  await writeImageFile(imagePath, [['random', 48], ['zero', 16], ['text', 32], ['random', 32]]);
  // Same size as the image, different content: the fingerprint's digests, not its size, must tell them apart.
  await writeImageFile(otherPath, [['random', 128]]);
  expected = await blockDigestsOfFile(imagePath);
});

test.afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadEngine(page: Page, file: string): Promise<void> {
  await page.addScriptTag({ type: 'module', url: '/e2e/engine-harness.ts' });
  await page.waitForFunction(() => '__readback' in window, undefined, { timeout: 60_000 });
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'engine-file';
    document.body.append(input);
  });
  await page.setInputFiles('#engine-file', file);
}

// npm test cuts at 60 %; `npm run test:long` at 35 % and 85 % as well.
for (const cut of [0.35, 0.6, 0.85]) {
  test(`reload at ${Math.round(cut * 100)}%, re-pick, resume: byte-identical, re-sent ≤ in-flight window${cut === 0.6 ? '' : ' @long'}`, async ({ page }) => {
    test.setTimeout(300_000);
    const dbName = `e2e-resume-${Date.now()}`;
    await page.goto('/');
    await loadEngine(page, imagePath);
    // The page leaves for about:blank in the progress callback that crosses the cut (no document to fetch, so it
    // unloads at once), so the tab goes away with blocks in flight however fast the upload runs; then it comes back.
    const left = page.waitForURL('about:blank');
    await page
      .evaluate(
        async ({ dbName, cut, ceiling }) => {
          const w = window as unknown as EngineWindow;
          const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
          const run = await w.__engine.startUpload({ file, connection: { kind: 'emulator', dbName }, options: { concurrency: ceiling, workers: 2 } });
          sessionStorage.setItem('e2e-job', run.jobId);
          await new Promise<void>(() => run.onProgress((p) => p.ackedBlocks >= cut * p.totalBlocks && location.assign('about:blank')));
        },
        { dbName, cut, ceiling: CEILING },
      )
      .catch((e: Error) => {
        if (!/destroyed|navigat|closed/i.test(e.message)) throw e;
      });
    await left;
    await page.goto('/');
    const jobId = (await page.evaluate(() => sessionStorage.getItem('e2e-job')))!;
    await loadEngine(page, imagePath);
    const result = await page.evaluate(
      async ({ jobId, dbName }) => {
        const w = window as unknown as EngineWindow;
        const engine = w.__engine;
        const before = await engine.getJob(jobId);
        const jobs = await engine.listJobs();
        // Without a stored handle, resuming asks for the file again.
        const noFile = await engine.resumeUpload(jobId).then(
          () => null,
          (e: { name: string; action: string; code: string; message: string }) => ({ name: e.name, action: e.action, code: e.code, message: e.message }),
        );
        const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
        const run = await engine.resumeUpload(jobId, file);
        const report = await run.done;
        const { ebs, model } = await w.__emu.openBrowserEmulator(dbName);
        const rec = await model.store.getSnapshot(report.snapshotId);
        const back = await w.__readback.snapshotBlockDigests(ebs, report.snapshotId, before!.counters.totalBlocks);
        return {
          listed: jobs.some((j) => j.id === jobId),
          before: { state: before!.state, written: before!.counters.writtenBlocks, snapshotId: before!.snapshotId },
          noFile,
          report,
          puts: rec!.puts,
          distinct: rec!.ownBlocks,
          back,
        };
      },
      { jobId, dbName },
    );
    expect(result.listed).toBe(true);
    expect(result.before.state).toBe('running');
    expect(result.before.written).toBeGreaterThan(0);
    expect(result.noFile).toMatchObject({ name: 'ResumeError', action: 'repick', code: 'no-file' });
    expect(result.report.state).toBe('completed');
    expect(result.report.snapshotId).toBe(result.before.snapshotId);
    // Every block is written by default, the zero ones too.
    const allBlocks = expected.zero.length;
    expect(result.report.changedBlocksCount).toBe(allBlocks);
    expect(result.distinct).toBe(allBlocks);
    const resent = result.puts - result.distinct;
    console.log(`cut ${cut}: acked before reload ${result.before.written}, re-sent ${resent}, window ${CEILING}`);
    expect(resent).toBeLessThanOrEqual(CEILING);
    const mismatched = result.back.digests.filter((d, i) => d !== expected.digests[i]).length;
    expect(mismatched).toBe(0);
  });
}

/** Starts an upload of disk.img on the in-browser emulator, pauses it after 10 blocks and reloads the page. */
async function pausedJobThenReload(page: Page, dbName: string): Promise<string> {
  await page.goto('/');
  await loadEngine(page, imagePath);
  const jobId = await page.evaluate(async (dbName) => {
    const w = window as unknown as EngineWindow;
    const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
    const run = await w.__engine.startUpload({ file, connection: { kind: 'emulator', dbName }, options: { workers: 1 } });
    await new Promise<void>((resolve) => run.onProgress((p) => p.writtenBlocks >= 10 && resolve()));
    await run.pause();
    return run.jobId;
  }, dbName);
  await page.reload();
  return jobId;
}

test('resuming with a different file is refused with a sentence, and the job stays resumable', async ({ page }) => {
  test.setTimeout(180_000);
  const dbName = `e2e-resume-other-${Date.now()}`;
  const jobId = await pausedJobThenReload(page, dbName);
  await loadEngine(page, otherPath);
  const out = await page.evaluate(async (jobId) => {
    const w = window as unknown as EngineWindow;
    const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
    const err = await w.__engine.resumeUpload(jobId, file).then(
      () => null,
      (e: { name: string; action: string; code: string; message: string }) => ({ name: e.name, action: e.action, code: e.code, message: e.message }),
    );
    const job = await w.__engine.getJob(jobId);
    await w.__engine.discardJob(jobId);
    return { err, state: job?.state, after: await w.__engine.getJob(jobId) };
  }, jobId);
  expect(out.err).toMatchObject({ name: 'ResumeError', action: 'repick', code: 'file-changed' });
  expect(out.err!.message).toMatch(/content of "other\.img" differs from the file this upload was started from \("disk\.img"\)/);
  expect(out.state).toBe('paused');
  expect(out.after).toBeUndefined();
});

test('resuming a cancelled job is refused with a sentence, and neither the job nor its snapshot is touched', async ({ page }) => {
  test.setTimeout(180_000);
  const dbName = `e2e-resume-cancelled-${Date.now()}`;
  const jobId = await pausedJobThenReload(page, dbName);
  await loadEngine(page, imagePath);
  // As a cancel whose DeleteSnapshot failed leaves it: cancelled, with its snapshot still pending.
  await patchJob(page, jobId, { state: 'cancelled', error: 'The pending snapshot could not be deleted.' });
  const workers: string[] = [];
  page.on('worker', (w) => void (/upload\.worker/.test(w.url()) && workers.push(w.url())));

  const out = await page.evaluate(
    async ({ jobId, dbName }) => {
      const w = window as unknown as EngineWindow;
      const { model } = await w.__emu.openBrowserEmulator(dbName);
      const before = await w.__engine.getJob(jobId);
      const snapshotBefore = await model.store.getSnapshot(before!.snapshotId!);
      const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
      const err = await w.__engine.resumeUpload(jobId, file).then(
        async (run) => {
          await run.pause();
          return null;
        },
        (e: { name: string; action: string; code: string; message: string }) => ({ name: e.name, action: e.action, code: e.code, message: e.message }),
      );
      return { err, before, after: await w.__engine.getJob(jobId), snapshotBefore, snapshotAfter: await model.store.getSnapshot(before!.snapshotId!) };
    },
    { jobId, dbName },
  );
  expect(out.err).toMatchObject({ name: 'ResumeError', action: 'restart', code: 'cancelled' });
  expect(out.err!.message).toBe(
    `This upload was cancelled, so it cannot be resumed (its snapshot ${out.before!.snapshotId} was abandoned with it). Start a new upload of "disk.img".`,
  );
  expect(out.after).toEqual(out.before);
  expect(out.snapshotAfter).toEqual(out.snapshotBefore);
  expect(workers).toEqual([]);
});
