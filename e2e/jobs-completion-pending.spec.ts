import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { describeSnapshot, pickFile, putCounts, readBack, startUpload, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

test('a tab closed while completing: the card says all blocks are sent, and Resume only completes the snapshot (by keyboard)', async ({ page }) => {
  const image = makeTestImage('completion-pending-24m', 24, 0xc0a1e7);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page);

  // Leave the page from inside it as soon as CompleteSnapshot was sent and the run waits for `completed`.
  const url = page.url();
  const left = page.waitForURL('about:blank', { timeout: 170_000 });
  await page.evaluate(() => {
    const check = () => {
      if (document.querySelector('[data-testid="run-panel"]')?.getAttribute('data-phase') !== 'waiting') return;
      observer.disconnect();
      location.assign('about:blank');
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
    check();
  });
  await left;
  await page.goto(url);

  const [job] = await storedJobs(page);
  expect(job?.state).toBe('completing');
  const snapshotId = job!.snapshotId!;
  const putsBefore = await putCounts(page, snapshotId);
  // The completion asked for before the tab closed went through meanwhile.
  await expect.poll(async () => (await describeSnapshot(page, snapshotId)).state, { timeout: 30_000 }).toBe('completed');

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card.getByTestId('job-state')).toHaveText('All blocks sent — completion pending');
  await expect(card.getByTestId('job-progress')).toContainText(/^\s*100\.0% · /);
  await expect(card.getByTestId('completion-pending')).toContainText('Completing it sends no block again.');
  await expect(card.getByTestId('job-expiry')).toContainText('unless it is completed');
  await page.screenshot({ path: '/tmp/blockport-jobs-completion-pending.png', fullPage: true });

  // No handle was kept (plain file input): the file is asked for, then only CompleteSnapshot is sent.
  await card.getByRole('button', { name: 'Complete the snapshot…' }).focus();
  await page.keyboard.press('Enter');
  await expect(card.getByRole('button', { name: 'Pick the file and complete the snapshot' })).toBeVisible();
  await pickFile(page, image.path, card);
  expect(await waitForCompleted(page)).toBe(snapshotId);

  expect(await putCounts(page, snapshotId)).toEqual(putsBefore);
  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.state).toBe('completed');
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
  expect((await storedJobs(page)).map((j) => j.state)).toEqual(['completed']);
});
