import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { copyIntoOpfs, expectUploadedIntact, reloadAtPercent, storedJobs, stubFilePicker, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 480_000 });

test('a file picked with the File System Access picker resumes after a reload with one click, no re-pick', async ({ page }) => {
  const image = makeTestImage('handle-48m', 48, 0x5eed05);
  await stubFilePicker(page, 'handle-48m.img');
  await page.goto('/#/upload');
  await copyIntoOpfs(page, image.path, 'handle-48m.img');

  await page.getByRole('button', { name: 'Choose a disk image…' }).click();
  await expect(page.getByTestId('plan')).toBeVisible();
  // A kept handle means no warning about re-picking.
  await expect(page.getByText('The browser gives no lasting access to this file')).toHaveCount(0);
  await page.getByLabel('Blocks in flight').fill('4');
  await page.getByRole('button', { name: 'Start upload' }).click();
  await reloadAtPercent(page, 35);
  expect((await storedJobs(page))[0]).toMatchObject({ hasHandle: true, completionPending: false });

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card).toContainText('kept by the browser: Resume reopens it');
  // The stored handle is asked for permission inside the click and reopened: no file dialog.
  await card.getByRole('button', { name: 'Resume', exact: true }).click();
  const snapshotId = await waitForCompleted(page);

  await expectUploadedIntact(page, snapshotId, image, 4);
});
