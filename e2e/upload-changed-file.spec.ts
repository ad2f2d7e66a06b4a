import { test, expect } from './helpers/test.ts';
import { changeInPlace, copyImage, makeTestImage } from './helpers/disk-image.ts';
import { emulatorSummary, pickFile, reloadAtPercent, startUpload, storedJobs } from './helpers/ui.ts';

test.describe.configure({ timeout: 480_000 });

test('a file changed between sessions is refused with a sentence, and nothing more is uploaded', async ({ page }) => {
  const image = makeTestImage('changed-64m', 64, 0x5eed03);
  const working = copyImage(image, 'changed-64m-working');

  await page.goto('/#/upload');
  await pickFile(page, working);
  await startUpload(page, { concurrency: 8 });
  await reloadAtPercent(page, 35);
  expect((await storedJobs(page))[0]?.completionPending).toBe(false);
  // Between the sessions the same file is written to (same name and size).
  changeInPlace(working);

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card).toHaveCount(1);
  const before = await emulatorSummary(page);

  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, working, card);
  const problem = card.getByTestId('job-problem');
  await expect(problem).toBeVisible({ timeout: 60_000 });
  await expect(problem).toHaveAttribute('data-code', 'file-changed');
  await expect(problem).toContainText(/changed|not the same|differ/i);
  await page.screenshot({ path: '/tmp/blockport-jobs-changed-file.png', fullPage: true });

  // The refusal leaves everything as it was: no put, same snapshot, job still resumable.
  const after = await emulatorSummary(page);
  expect(after.totalPuts).toBe(before.totalPuts);
  expect(after.snapshots).toEqual(before.snapshots);
  await expect(card.getByTestId('job-state')).toHaveText('Interrupted');
  await expect(page.getByTestId('run-panel')).toHaveCount(0);
});
