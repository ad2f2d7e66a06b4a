// Zero blocks through the page: written by default, skipped only when the person ticks the choice, and written anyway,
// with a sentence, when the service (here the in-browser emulator set to encryption by default) encrypts the snapshot.
import { test, expect } from './helpers/test.ts';
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { makeTestImage } from './helpers/disk-image.ts';
import { pickFile, readBack, reloadAtPercent, startUpload, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

async function reportCounts(page: Page): Promise<{ written: number; skipped: number }> {
  const n = async (id: string) => Number((await page.getByTestId(id).textContent())!.replace(/,/g, ''));
  return { written: await n('report-written'), skipped: await n('report-skipped') };
}

test('every block is written by default; the keyboard ticks "Skip empty blocks"; encryption by default writes them anyway and says why', async ({ page }) => {
  const image = makeTestImage('zero-blocks-24m', 24, 0x2e70, 0);
  const zeros = new Set(image.zeroBlocks);
  expect(zeros.size).toBeGreaterThan(4);
  // As qcow2 (qemu-img makes the zero blocks holes), the plan knows the empty blocks before reading.
  const qcow2 = image.path.replace(/\.img$/, '.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', image.path, qcow2]);
  const all = [...Array(image.blockCount).keys()];
  const data = all.filter((i) => !zeros.has(i));

  // 1. The default: the plan says what writing every block costs, and every block is listed afterwards.
  await page.goto('/#/upload');
  await pickFile(page, qcow2);
  await expect(page.getByTestId('plan-send')).toHaveText(/^24\.0 MiB to send, of which [\d.]+ MiB are zero blocks$/);
  const skip = page.getByRole('checkbox', { name: /^Skip empty blocks: sends [\d.]+ MiB instead of 24\.0 MiB; only safe if volumes made from this snapshot are never encrypted$/ });
  await expect(skip).not.toBeChecked();
  await startUpload(page);
  await expect(page.getByTestId('zero-blocks-note')).toHaveCount(0);
  const first = await waitForCompleted(page);
  expect(await reportCounts(page)).toEqual({ written: image.blockCount, skipped: 0 });
  const back1 = await readBack(page, first, image.blockCount);
  expect(back1.listed).toEqual(all);
  expect(back1.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);

  // 2. Skipping, chosen from the keyboard: only the blocks with data are written; the holes read back as zeros.
  await page.getByRole('button', { name: 'Upload another image' }).click();
  await pickFile(page, qcow2);
  await skip.focus();
  await page.keyboard.press('Space');
  await expect(skip).toBeChecked();
  await expect(page.getByTestId('plan-send')).toHaveText(/^[\d.]+ MiB to send; [\d.]+ MiB of empty blocks skipped$/);
  // An encrypted snapshot cannot skip them: the choice is not offered then.
  await page.getByLabel('Encrypt the snapshot').check();
  await expect(skip).toBeDisabled();
  await page.getByLabel('Encrypt the snapshot').uncheck();
  await expect(skip).toBeEnabled();
  await startUpload(page);
  const second = await waitForCompleted(page);
  expect(await reportCounts(page)).toEqual({ written: data.length, skipped: zeros.size });
  const back2 = await readBack(page, second, image.blockCount);
  expect(back2.listed).toEqual(data);
  expect(back2.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);

  // 3. The account encrypts every new snapshot: skipping was asked for, every block is written, and the panel says why.
  await page.goto('/#/connection');
  await page.getByLabel(/Emulate an account with EBS encryption by default/).check();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('mode')).toHaveText(/In-browser emulator \(encryption by default\)/);
  await page.goto('/#/upload');
  await page.getByRole('button', { name: 'Upload another image' }).click();
  await pickFile(page, image.path);
  await startUpload(page, { skipEmptyBlocks: true });
  await expect(page.getByTestId('zero-blocks-note')).toHaveText(
    /^The service encrypts this snapshot \(sse-ebs, the account's encryption by default\), so empty blocks are written as well: unwritten blocks of an encrypted snapshot do not read back as zeros\.$/,
    { timeout: 60_000 },
  );
  const third = await waitForCompleted(page);
  expect(await reportCounts(page)).toEqual({ written: image.blockCount, skipped: 0 });
  const back3 = await readBack(page, third, image.blockCount);
  expect(back3.listed).toEqual(all);
  await page.screenshot({ path: '/tmp/blockport-zero-blocks-encrypted.png', fullPage: true });
});

test('the choice to skip empty blocks holds after a reload and a resume from Jobs', async ({ page }) => {
  const image = makeTestImage('zero-blocks-resume-64m', 64, 0x2e71, 0);
  const zeros = new Set(image.zeroBlocks);
  expect(zeros.size).toBeGreaterThan(8);
  const data = [...Array(image.blockCount).keys()].filter((i) => !zeros.has(i));

  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page, { skipEmptyBlocks: true, concurrency: 1 });
  const reached = await reloadAtPercent(page, 10);
  expect(reached).toBeLessThan(100);

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  const snapshotId = await waitForCompleted(page);
  expect(await reportCounts(page)).toEqual({ written: data.length, skipped: zeros.size });
  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.listed).toEqual(data);
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
});
