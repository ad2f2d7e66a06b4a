import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { describeSnapshot, leaveWhileCompleting, moveJob, pauseInPageAt, pickFile, startPaused, storedJobs } from './helpers/ui.ts';
import type { Page } from '@playwright/test';

test.describe.configure({ timeout: 300_000 });

/** Starts an upload in the in-browser emulator, pauses it, reloads: an unfinished job with a pending snapshot. */
async function pausedJob(page: Page, name: string, seed: number, sizeMiB = 64): Promise<{ id: string; snapshotId: string; percent: string }> {
  // Large enough, and one block at a time, that the pause lands well before the end.
  const image = makeTestImage(name, sizeMiB, seed);
  await page.goto('/#/upload');
  await startPaused(page, image.path);
  const percent = (await page.getByTestId('percent').textContent())!.trim();
  await page.reload();
  const jobs = await storedJobs(page);
  expect(jobs).toHaveLength(1);
  const { id, snapshotId } = jobs[0]!;
  expect(snapshotId).toMatch(/^snap-/);
  expect((await describeSnapshot(page, snapshotId!)).state).toBe('pending');
  return { id, snapshotId: snapshotId!, percent };
}

test('Discard deletes the abandoned pending snapshot through EC2, then forgets the job (by keyboard)', async ({ page }) => {
  const { snapshotId, percent } = await pausedJob(page, 'discard-64m', 0xd15c01);
  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card.getByTestId('job-state')).toHaveText('Interrupted');
  // The card measures progress as the run panel did before the reload: acknowledged bytes of the blocks to send.
  await expect(card.getByTestId('job-progress')).toContainText(new RegExp(`^\\s*${percent.replace('.', '\\.')} · `));

  // The confirmation names the snapshot and says it will be deleted; focus lands on the safe choice, Escape backs out.
  const discard = card.getByRole('button', { name: 'Discard…' });
  await discard.focus();
  await page.keyboard.press('Enter');
  const confirm = card.getByRole('group', { name: /Discard this job\?/ });
  await expect(confirm).toContainText(`Its pending snapshot ${snapshotId} will be deleted`);
  await expect(confirm.getByRole('button', { name: 'Keep' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(confirm).toHaveCount(0);
  await expect(discard).toBeFocused();
  expect((await describeSnapshot(page, snapshotId)).state).toBe('pending');

  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await expect(confirm.getByRole('button', { name: 'Yes, delete the snapshot and discard' })).toBeFocused();
  await page.keyboard.press('Enter');

  await expect(card).toHaveCount(0);
  await expect(page.getByTestId('no-jobs')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Unfinished uploads' })).toBeFocused();
  expect(await describeSnapshot(page, snapshotId)).toEqual({ state: 'not-found' });
  expect(await storedJobs(page)).toEqual([]);
});

test('Discard of a job whose completion was pending says a completed snapshot is kept, and keeps it', async ({ page }) => {
  const image = makeTestImage('discard-completion-pending-24m', 24, 0xd15c05);
  const { snapshotId } = await leaveWhileCompleting(page, image.path);
  // The completion asked for before the tab closed went through: the snapshot is the result now, not litter.
  await expect.poll(async () => (await describeSnapshot(page, snapshotId)).state, { timeout: 30_000 }).toBe('completed');

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card.getByTestId('job-state')).toHaveText('All blocks sent — completion pending');
  await card.getByRole('button', { name: 'Discard…' }).click();
  const confirm = card.getByRole('group', { name: /Discard this job\?/ });
  // The page cannot know whether the completion went through: the sentence is true either way.
  await expect(confirm).toContainText(`Its snapshot ${snapshotId} will be deleted if it is still pending; if it has completed, it is kept.`);
  await expect(confirm).not.toContainText('Its pending snapshot');
  await confirm.getByRole('button', { name: 'Yes, discard', exact: true }).click();

  await expect(card).toHaveCount(0);
  expect(await storedJobs(page)).toEqual([]);
  expect((await describeSnapshot(page, snapshotId)).state).toBe('completed');
});

test('a failed delete says so and offers to forget the job anyway or keep it; nothing is forgotten silently', async ({ page }) => {
  const { id, snapshotId } = await pausedJob(page, 'discard-fail-64m', 0xd15c02);
  // The job now claims an AWS endpoint nothing listens on: neither Cognito nor DeleteSnapshot can be reached.
  await moveJob(page, id, {
    kind: 'aws',
    settings: { kind: 'aws', region: 'us-east-1', identityPoolId: 'us-east-1:00000000-0000-4000-a000-000000000000', endpoint: { mode: 'custom', url: 'http://127.0.0.1:9' } },
  });
  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Discard…' }).click();
  await card.getByRole('button', { name: 'Yes, delete the snapshot and discard' }).click();

  const problem = card.getByTestId('job-problem');
  await expect(problem).toHaveAttribute('data-code', 'delete-failed', { timeout: 60_000 });
  await expect(problem).toContainText(`The pending snapshot ${snapshotId} could not be deleted`);
  await expect(problem).toContainText('could not be reached');
  await expect(problem).toContainText('counts against the limit of 100 pending snapshots');
  await expect(problem.getByRole('button', { name: 'Forget the job anyway' })).toBeFocused();
  await page.screenshot({ path: '/tmp/blockport-jobs-delete-failed.png', fullPage: true });
  expect((await storedJobs(page)).map((j) => j.id)).toEqual([id]);

  // Keep: the sentence goes, the job stays.
  await problem.getByRole('button', { name: 'Keep the job' }).click();
  await expect(problem).toHaveCount(0);
  await expect(card).toHaveCount(1);
  expect((await storedJobs(page)).map((j) => j.id)).toEqual([id]);

  // Forget anyway: the job goes, and the snapshot (not reachable from here) is left as it was.
  await card.getByRole('button', { name: 'Discard…' }).click();
  await card.getByRole('button', { name: 'Yes, delete the snapshot and discard' }).click();
  await problem.getByRole('button', { name: 'Forget the job anyway' }).click();
  await expect(card).toHaveCount(0);
  expect(await storedJobs(page)).toEqual([]);
  expect((await describeSnapshot(page, snapshotId)).state).toBe('pending');
});

test('Cancel deletes the pending snapshot; the finished list says so and only removes the job (by keyboard)', async ({ page }) => {
  const image = makeTestImage('discard-cancelled-64m', 64, 0xd15c03);
  await page.goto('/#/upload');
  // Paused first, so the two clicks of Cancel cannot race the end of the upload.
  await startPaused(page, image.path);
  const snapshotId = (await page.getByTestId('run-snapshot-id').textContent())!.trim();
  await page.getByRole('button', { name: 'Cancel…' }).focus();
  await page.keyboard.press('Enter');
  const confirm = page.getByRole('group', { name: /Cancel this upload\?/ });
  await expect(confirm).toContainText(`Nothing more will be sent, and its pending snapshot ${snapshotId} will be deleted.`);
  await confirm.getByRole('button', { name: 'Yes, cancel upload' }).focus();
  await page.keyboard.press('Enter');

  await expect(page.getByTestId('run-panel')).toHaveAttribute('data-phase', 'cancelled');
  const said = page.getByTestId('run-problem');
  await expect(said).toHaveText(`The upload was cancelled and its pending snapshot ${snapshotId} was deleted.`);
  await expect(said).toHaveAttribute('role', 'status');
  const [job] = await storedJobs(page);
  expect(job?.state).toBe('cancelled');
  expect(job?.snapshotId).toBe(snapshotId);
  expect(await describeSnapshot(page, snapshotId)).toEqual({ state: 'not-found' });

  await page.reload();
  await page.goto('/#/jobs');
  const row = page.getByTestId('finished-job');
  await expect(row).toContainText('Cancelled');
  await expect(row.getByTestId('finished-snapshot')).toHaveText('Its snapshot was deleted when the upload was cancelled.');
  await row.getByRole('button', { name: 'Remove discard-cancelled-64m.img from the list' }).focus();
  await page.keyboard.press('Enter');
  await expect(row).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Unfinished uploads' })).toBeFocused();
  expect(await storedJobs(page)).toEqual([]);
});

test('an upload cancelled from its job card moves to Finished with its snapshot deleted; focus follows it', async ({ page }) => {
  // Resumed at full speed and paused from inside the page once it uploads: a click from the test came after the last
  // block of 128 MiB on a fast machine, when Pause is no longer offered (CI, session 15).
  const { id, snapshotId } = await pausedJob(page, 'cancel-card-128m', 0xd15c04, 128);
  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pauseInPageAt(page, 0);
  await pickFile(page, makeTestImage('cancel-card-128m', 128, 0xd15c04).path, card);
  const panel = card.getByTestId('run-panel');
  await expect(panel).toHaveAttribute('data-phase', 'paused', { timeout: 60_000 });
  expect(Number(await panel.getByRole('progressbar').getAttribute('aria-valuenow')), 'paused before every block was sent').toBeLessThan(100);
  await panel.getByRole('button', { name: 'Cancel…' }).click();
  await panel.getByRole('button', { name: 'Yes, cancel upload' }).click();

  await expect(card).toHaveCount(0, { timeout: 60_000 });
  const row = page.getByTestId('finished-job');
  await expect(row).toHaveAttribute('data-job-id', id);
  await expect(row.getByTestId('finished-snapshot')).toHaveText('Its snapshot was deleted when the upload was cancelled.');
  await expect(page.getByRole('heading', { name: 'Finished', exact: true })).toBeFocused();
  expect(await describeSnapshot(page, snapshotId)).toEqual({ state: 'not-found' });
});
