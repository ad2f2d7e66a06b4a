import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { describeSnapshot, leaveWhileCompleting, putCounts, readBack, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

test('a tab closed while completing: the card says all blocks are sent, and completing sends only CompleteSnapshot, with no file and no workers (by keyboard)', async ({ page }) => {
  const image = makeTestImage('completion-pending-24m', 24, 0xc0a1e7);
  // Every upload worker the page starts: the first upload's pool shows they are seen; completing must start none.
  const workers: string[] = [];
  page.on('worker', (w) => void (/upload\.worker/.test(w.url()) && workers.push(w.url())));
  const { snapshotId } = await leaveWhileCompleting(page, image.path);
  const poolOfTheUpload = workers.length;
  expect(poolOfTheUpload).toBeGreaterThan(0);
  const putsBefore = await putCounts(page, snapshotId);
  // The completion asked for before the tab closed went through meanwhile.
  await expect.poll(async () => (await describeSnapshot(page, snapshotId)).state, { timeout: 30_000 }).toBe('completed');

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card.getByTestId('job-state')).toHaveText('All blocks sent — completion pending');
  await expect(card.getByTestId('job-progress')).toContainText(/^\s*100\.0% · /);
  await expect(card.getByTestId('completion-pending')).toContainText('Completing it sends no block again.');
  await expect(card.getByTestId('job-expiry')).toContainText('unless it is completed');
  await expect(card.getByTestId('file-access')).toHaveText('not needed: completing the snapshot reads nothing from the file');
  await page.screenshot({ path: '/tmp/blockport-jobs-completion-pending.png', fullPage: true });

  // No handle was kept (plain file input), and none is needed: the file is not asked for, only CompleteSnapshot is sent.
  await card.getByRole('button', { name: 'Complete the snapshot', exact: true }).focus();
  await page.keyboard.press('Enter');
  expect(await waitForCompleted(page)).toBe(snapshotId);
  await expect(card.getByRole('button', { name: /Pick the file/ })).toHaveCount(0);

  expect(workers.length).toBe(poolOfTheUpload);
  expect(await putCounts(page, snapshotId)).toEqual(putsBefore);
  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.state).toBe('completed');
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
  expect((await storedJobs(page)).map((j) => j.state)).toEqual(['completed']);
});
