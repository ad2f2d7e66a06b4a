import { readFileSync, writeFileSync } from 'node:fs';
import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { blockDigestsOfFile } from '../bench/upload-image-file.ts';
import { connectToEmulatorServer, pickFile, putCounts, readBack, reloadAtPercent, resent, startUpload, waitForCompleted } from './helpers/ui.ts';
import { packStep, packedFixture, type PackedSpec } from '../src/images/testing/container-fixtures.ts';
import { cached, fixtureOracle, qemu, sourceRaw } from '../src/images/testing/test-fixtures.ts';
import { spawnEmulator } from '../server/spawn-emulator.ts';
import { expectSnapshotIsImage } from './helpers/read-back.ts';
import type { Page } from '@playwright/test';

test.describe.configure({ timeout: 300_000 });

/** base64 SHA-256 of each 512 KiB block of a file (the last one zero-padded). */
const digestsOf = async (path: string): Promise<string[]> => (await blockDigestsOfFile(path)).digests;

/** A file made once by one packing step over `from`. */
function packed(from: string, step: Parameters<typeof packStep>[0], name: string): string {
  return cached(`e2e-${name}`, (out) => packStep(step, from, out));
}

/** Names of the spool files the page's OPFS holds. */
function spoolFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const names: string[] = [];
    for await (const n of ((await navigator.storage.getDirectory()) as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
    return names.filter((n) => n.startsWith('unpack-')).sort();
  });
}

async function expectReadsBack(page: Page, snapshotId: string, want: string[]): Promise<void> {
  const back = await readBack(page, snapshotId, want.length);
  expect(back.state).toBe('completed');
  expect(back.digests.flatMap((d, i) => (d === want[i] ? [] : [i]))).toEqual([]);
  expect(back.listed).toEqual([...Array(want.length).keys()]);
}

test('a .raw.xz is streamed out of its decompressor: the plan says so, and it reads back as qemu-img converts it', async ({ page }) => {
  const image = makeTestImage('packed-stream-24m', 24, 0x5eed19, 200 * 1024);
  const xz = packed(image.path, 'xz', 'stream-24m.raw.xz');
  const want = await digestsOf(cached('e2e-stream-24m.oracle.raw', (out) => qemu('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', image.path, out])));

  await page.goto('/#/upload');
  await pickFile(page, xz);
  await expect(page.getByTestId('plan-packed')).toHaveText('xz');
  await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'streamed');
  await expect(page.getByTestId('plan-format')).toHaveText('raw');
  await expect(page.getByTestId('plan-virtual-size')).toContainText(`(${image.size.toLocaleString('en-US')} bytes)`);
  const how = page.getByTestId('plan-packed-how');
  await expect(how).toContainText('Streamed: the raw disk inside (xz) is decompressed in the browser as it is read');
  await expect(how).toContainText('A resumed upload decompresses from the start again and skips the blocks already sent.');

  await startUpload(page);
  const snapshotId = await waitForCompleted(page);
  await expectReadsBack(page, snapshotId, want);
  // Nothing was unpacked to the browser's storage.
  expect(await spoolFiles(page)).toEqual([]);
});

/** Names in the page's OPFS folder of blocks kept while they are sent; null when the folder was never made. */
function keptBlocks(page: Page): Promise<string[] | null> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('blockport-blocks').catch(() => null);
    if (!dir) return null;
    const names: string[] = [];
    for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
    return names;
  });
}

test('a .raw.xz sent over HTTP goes block by block from copies kept in OPFS: with a put failing and retried it reads back identical, and no copy is left', async ({ page }) => {
  const image = makeTestImage('packed-kept-32m', 32, 0x5eed22, 200 * 1024);
  const xz = packed(image.path, 'xz', 'kept-32m.raw.xz');
  const emu = await spawnEmulator(['--identity-pool', 'blockport_packed_e2e']);
  try {
    await connectToEmulatorServer(page, emu);
    // A put fails with a server error: its block is sent again from its kept copy.
    expect((await emu.admin('fail-next', { op: 'PutSnapshotBlock', code: 'InternalServerException', status: 500 })).ok).toBe(true);
    await page.goto('/#/upload');
    await pickFile(page, xz);
    await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'streamed');
    await startUpload(page);
    const snapshotId = await waitForCompleted(page, 240_000);
    expect(Number(await page.getByTestId('count-retried').textContent())).toBeGreaterThan(0);
    await expectSnapshotIsImage(emu.url, snapshotId, image);
    // The blocks went through the folder, and each copy was deleted once its block was acknowledged.
    await expect.poll(() => keptBlocks(page)).toEqual([]);
  } finally {
    await emu.stop();
  }
});

test('a streamOptimized VMDK inside .tar.xz is streamed grain by grain: the plan says so, and it reads back as qemu-img converts it', async ({ page }) => {
  const spec: PackedSpec = { name: 'stream.vmdk.tar-ustar.xz', inner: 'stream.vmdk', steps: ['tar-ustar', 'xz'], container: ['xz', 'tar'] };
  const want = await digestsOf(fixtureOracle('stream.vmdk', sourceRaw(16)));

  await page.goto('/#/upload');
  await pickFile(page, packedFixture(spec));
  await expect(page.getByTestId('plan-packed')).toHaveText('xz › tar');
  await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'streamed');
  await expect(page.getByTestId('plan-format')).toHaveText('vmdk');
  await expect(page.getByTestId('plan-virtual-size')).toContainText(`(${(16 * 2 ** 20).toLocaleString('en-US')} bytes)`);
  await expect(page.getByTestId('plan-packed-how')).toContainText('Streamed: the streamOptimized VMDK inside (tar in xz) is decompressed in the browser grain by grain as it is read');

  await startUpload(page);
  const snapshotId = await waitForCompleted(page);
  await expectReadsBack(page, snapshotId, want);
  expect(await spoolFiles(page)).toEqual([]);
});

test('a qcow2 inside .tar.gz is unpacked to OPFS first (Unpacking… shown), reads back as qemu-img converts it, and the unpacked file is deleted once completed', async ({ page }) => {
  const spec: PackedSpec = { name: 'v3.qcow2.tar-ustar.gz', inner: 'v3.qcow2', steps: ['tar-ustar', 'gz'], container: ['gzip', 'tar'] };
  const path = packedFixture(spec);
  const want = await digestsOf(fixtureOracle('v3.qcow2', sourceRaw(16)));

  await page.goto('/#/upload');
  await pickFile(page, path);
  await expect(page.getByTestId('plan-packed')).toHaveText('gzip › tar');
  await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'unpacked');
  await expect(page.getByTestId('plan-format')).toHaveText('qcow2');
  await expect(page.getByTestId('plan-packed-how')).toContainText("Unpacked first: the qcow2 inside (tar in gzip) must be read at random, so it is unpacked to this browser's private storage before any block is sent");

  // The run panel shows the unpacking as its phase until the upload proper starts.
  const phases: string[] = [];
  await page.exposeFunction('e2eSawPhase', (t: string) => void phases.push(t));
  await page.evaluate(() => {
    const seen = () => {
      const t = document.querySelector('[data-testid="phase"]')?.textContent;
      if (t) (window as unknown as { e2eSawPhase(t: string): void }).e2eSawPhase(t);
    };
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await startUpload(page);
  const snapshotId = await waitForCompleted(page);
  expect(phases.some((t) => /^Unpacking… \d+ %$/.test(t))).toBe(true);
  await expectReadsBack(page, snapshotId, want);
  await expect.poll(() => spoolFiles(page)).toEqual([]);
});

test('a streamed .raw.gz resumed after a reload decompresses from the start and sends again at most the window @long', async ({ page }) => {
  const WINDOW = 4;
  const image = makeTestImage('packed-resume-64m', 64, 0x5eed20);
  const gz = packed(image.path, 'gz', 'resume-64m.raw.gz');

  await page.goto('/#/upload');
  await pickFile(page, gz);
  // gzip declares no size: the plan measured it by decompressing once.
  await expect(page.getByTestId('plan-packed-how')).toContainText('Its unpacked size was measured by decompressing it once', { timeout: 60_000 });
  await startUpload(page, { concurrency: WINDOW });
  const reached = await reloadAtPercent(page, 30);
  expect(reached).toBeLessThan(100);

  await page.getByRole('link', { name: 'Resume or discard it in Jobs' }).click();
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, gz, card);
  const snapshotId = await waitForCompleted(page);
  await expectReadsBack(page, snapshotId, image.digests);
  expect(resent(await putCounts(page, snapshotId))).toBeLessThanOrEqual(WINDOW);
});

test('damaged and truncated containers are refused with their sentence in the page', async ({ page }) => {
  const image = makeTestImage('packed-bad-8m', 8, 0x5eed21);
  const xz = packed(image.path, 'xz', 'bad-8m.raw.xz');
  const cut = cached('e2e-bad-8m-cut.raw.xz', (out) => {
    const b = readFileSync(xz);
    writeFileSync(out, b.subarray(0, b.length >> 1));
  });
  // Damage in the middle of the data: the index at the end still declares the size, so the plan streams it and the
  // damage is found when the stream reaches it.
  const damaged = cached('e2e-bad-8m-damaged.raw.xz', (out) => {
    const b = readFileSync(xz);
    const at = b.length >> 1;
    for (let i = at; i < at + 64; i++) b[i] = b[i]! ^ 0x5a;
    writeFileSync(out, b);
  });

  await page.goto('/#/upload');
  await pickFile(page, cut);
  await expect(page.getByTestId('upload-problem')).toContainText(/This xz file is truncated \(it ends in the middle of the compressed data\).*pick the complete file/);

  await page.getByRole('button', { name: 'Choose another file' }).click();
  await pickFile(page, damaged);
  await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'streamed');
  await startUpload(page);
  await expect(page.getByTestId('run-problem')).toContainText(/This xz file is damaged \(.+\), so the disk inside cannot be read/, { timeout: 120_000 });
});

test('a disk unpacked to OPFS is reused when the upload resumes after a reload, and deleted once it completes', async ({ page }) => {
  const spec: PackedSpec = { name: 'v3.qcow2.xz', inner: 'v3.qcow2', steps: ['xz'], container: ['xz'] };
  const path = packedFixture(spec);
  const want = await digestsOf(fixtureOracle('v3.qcow2', sourceRaw(16)));
  const kept = () =>
    page.evaluate(async () => {
      const dir = await navigator.storage.getDirectory();
      const out: Record<string, number> = {};
      for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
        if (n.startsWith('unpack-')) out[n] = (await (await dir.getFileHandle(n)).getFile()).lastModified;
      }
      return out;
    });

  await page.goto('/#/upload');
  await pickFile(page, path);
  await expect(page.getByTestId('plan-packed')).toHaveAttribute('data-path', 'unpacked');
  await startUpload(page, { concurrency: 1 });
  await reloadAtPercent(page, 10);
  // The unpacked disk and its marker stay for the resume.
  const before = await kept();
  expect(Object.keys(before).map((n) => n.replace(/[0-9a-f]{32}/, 'KEY')).sort()).toEqual(['unpack-KEY-0', 'unpack-KEY-0.done']);

  await page.getByRole('link', { name: 'Resume or discard it in Jobs' }).click();
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, path, card);
  await expect(page.getByTestId('run-panel')).toBeVisible();
  // Reused, not written again: the same files, unchanged, while the upload goes on.
  await expect(page.getByTestId('run-panel')).toHaveAttribute('data-phase', /uploading|completing|waiting|completed/, { timeout: 60_000 });
  expect(await kept()).toEqual(before);
  const snapshotId = await waitForCompleted(page);
  await expectReadsBack(page, snapshotId, want);
  await expect.poll(() => spoolFiles(page)).toEqual([]);
});
