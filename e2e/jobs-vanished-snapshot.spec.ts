import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { deleteSnapshot, emulatorSummary, pickFile, readBack, startUpload, waitForCompleted, waitForPercent } from './helpers/ui.ts';

test.describe.configure({ timeout: 480_000 });

test('a snapshot that vanished between sessions gets a sentence and an explicit start over, never a silent restart', async ({ page }) => {
  const image = makeTestImage('vanished-64m', 64, 0x5eed06);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page, { concurrency: 4 });
  await waitForPercent(page, 35);
  await page.reload();

  const [first] = (await emulatorSummary(page)).snapshots;
  expect(await deleteSnapshot(page, first.id)).toBe(true);

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  const problem = card.getByTestId('job-problem');
  await expect(problem).toHaveAttribute('data-code', 'snapshot-gone', { timeout: 60_000 });
  await expect(problem).toContainText(`${first.id} no longer exists`);
  await page.screenshot({ path: '/tmp/blockport-jobs-vanished.png', fullPage: true });
  // Nothing was started on its own: the deleted snapshot is gone and no new one exists.
  expect((await emulatorSummary(page)).snapshots).toEqual([]);

  await problem.getByRole('button', { name: 'Start over' }).click();
  const snapshotId = await waitForCompleted(page);
  expect(snapshotId).not.toBe(first.id);
  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
  await expect(page.getByTestId('job-card')).toHaveCount(1);
});
