import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeTestImage } from './helpers/disk-image.ts';
import { opfsSha256, pickFile, startUpload, stubSavePicker, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

async function uploadImage(page: Page, path: string): Promise<string> {
  await page.goto('/#/upload');
  await pickFile(page, path);
  await startUpload(page, { description: 'download e2e' });
  return waitForCompleted(page);
}

async function startDownload(page: Page, snapshotId: string, blocksPerSecond = 0): Promise<void> {
  await page.goto('/#/download');
  await page.getByLabel('Snapshot id').fill(snapshotId);
  await page.getByLabel(/Speed limit/).fill(String(blocksPerSecond));
  await page.getByRole('button', { name: 'Save as…' }).click();
}

test('an uploaded image downloads back byte for byte (SHA-256), at its original size', async ({ page }) => {
  const image = makeTestImage('download-48m', 48, 0xd0d0, 300 * 1024);
  const want = createHash('sha256').update(readFileSync(image.path)).digest('hex');
  await stubSavePicker(page);
  const snapshotId = await uploadImage(page, image.path);

  await startDownload(page, snapshotId);
  const row = page.locator(`[data-testid="download-row"][data-snapshot-id="${snapshotId}"]`);
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 120_000 });
  await expect(row.getByTestId('download-blocks')).toContainText(/of \d/);
  await page.screenshot({ path: '/tmp/blockport-download-done.png', fullPage: true });

  const got = await opfsSha256(page, `picked-${snapshotId}.img`);
  expect(got.size).toBe(image.size);
  expect(got.hex).toBe(want);
});

// The same resume into a picked file, with its bounds checked, is download-picked-resume's; `npm run test:long` runs this one too.
test('a download interrupted by a reload resumes and still matches byte for byte @long', async ({ page }) => {
  const image = makeTestImage('download-resume-40m', 40, 0xbeef5, 4096);
  const want = createHash('sha256').update(readFileSync(image.path)).digest('hex');
  await stubSavePicker(page);
  const snapshotId = await uploadImage(page, image.path);

  // Paced so the reload lands mid-download.
  await startDownload(page, snapshotId, 12);
  const row = page.locator(`[data-testid="download-row"][data-snapshot-id="${snapshotId}"]`);
  await expect(row).toHaveAttribute('data-state', 'running');
  await page.waitForFunction(
    (id) => {
      const t = document.querySelector(`[data-testid="download-row"][data-snapshot-id="${id}"] [data-testid="download-blocks"]`)?.textContent ?? '';
      const m = /^(\d+) of/.exec(t.replace(/,/g, ''));
      return !!m && Number(m[1]) >= 25;
    },
    snapshotId,
    { timeout: 60_000, polling: 50 },
  );
  await page.reload();
  await page.goto('/#/download');
  await expect(row).toHaveAttribute('data-state', 'paused');
  const before = Number(/^(\d+)/.exec(((await row.getByTestId('download-blocks').textContent()) ?? '').replace(/,/g, ''))![1]);
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(image.blockCount);
  await page.screenshot({ path: '/tmp/blockport-download-interrupted.png', fullPage: true });

  await page.getByLabel(/Speed limit/).fill('0');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 120_000 });
  const got = await opfsSha256(page, `picked-${snapshotId}.img`);
  expect(got.size).toBe(image.size);
  expect(got.hex).toBe(want);
});

test('without a save picker (Firefox, Safari) the download goes to OPFS, then to a normal download', async ({ page }) => {
  const image = makeTestImage('download-nopicker-6m', 6, 0x0f5, 12345);
  const want = createHash('sha256').update(readFileSync(image.path)).digest('hex');
  await page.addInitScript(() => {
    delete (window as unknown as { showSaveFilePicker?: unknown }).showSaveFilePicker;
  });
  const snapshotId = await uploadImage(page, image.path);
  await startDownload(page, snapshotId);
  const row = page.locator(`[data-testid="download-row"][data-snapshot-id="${snapshotId}"]`);
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 120_000 });
  const [saved] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: `Save ${snapshotId}.img` }).click()]);
  expect(saved.suggestedFilename()).toBe(`${snapshotId}.img`);
  const bytes = readFileSync((await saved.path())!);
  expect(bytes.length).toBe(image.size);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(want);
});
