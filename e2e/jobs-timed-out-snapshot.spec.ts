import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { describeSnapshot, emulatorSummary, pickFile, readBack, startPaused, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

test('a snapshot that timed out while paused gets its sentence and an explicit Start over; nothing is sent on its own', async ({ page }) => {
  const image = makeTestImage('timed-out-48m', 48, 0x5eed0a);
  await page.goto('/#/upload');
  await startPaused(page, image.path);
  await page.reload();
  const [job] = await storedJobs(page);
  const old = job!.snapshotId!;
  expect((await describeSnapshot(page, old)).state).toBe('pending');
  const putsBefore = (await emulatorSummary(page)).totalPuts;

  // A day and an hour pass in the page (the in-browser emulator's clock is the page's): past the 24-hour Timeout.
  await page.clock.setSystemTime(Date.now() + 25 * 3600_000);
  expect(await describeSnapshot(page, old)).toEqual({ state: 'error', message: 'Snapshot timed out' });

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card.getByTestId('job-expiry')).toContainText('the service has cancelled the pending snapshot');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  const problem = card.getByTestId('job-problem');
  await expect(problem).toHaveAttribute('data-code', 'snapshot-expired', { timeout: 60_000 });
  await expect(problem).toContainText(`The snapshot ${old} timed out: nothing was written to it for more than 1440 minutes`);
  await expect(problem).toHaveAttribute('role', 'alert');
  await page.screenshot({ path: '/tmp/blockport-jobs-timed-out.png', fullPage: true });

  // Nothing was started or sent on its own.
  const after = await emulatorSummary(page);
  expect(after.snapshots.map((s) => s.id)).toEqual([old]);
  expect(after.totalPuts).toBe(putsBefore);
  await expect(page.getByTestId('run-panel')).toHaveCount(0);

  // The upload workers keep the real clock, so the page's goes back to it before a new snapshot is written
  // (the emulator resolves timeouts lazily; the old snapshot is deleted by Start over either way).
  await page.clock.setSystemTime(Date.now());
  // Start over, from the keyboard: a new snapshot, and the timed-out one is cleaned away.
  await problem.getByRole('button', { name: 'Start over' }).focus();
  await page.keyboard.press('Enter');
  const fresh = await waitForCompleted(page);
  expect(fresh).not.toBe(old);
  const back = await readBack(page, fresh, image.blockCount);
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
  await expect.poll(async () => (await describeSnapshot(page, old)).state).toBe('not-found');
  expect((await storedJobs(page)).map((j) => j.snapshotId)).toEqual([fresh]);
});
