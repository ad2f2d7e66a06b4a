// Credentials that no longer work on resume: an AWS-mode job against `npm run emulator` whose keys the service refuses.
import { test, expect } from './helpers/test.ts';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { connectToEmulatorServer, pickFile, startPaused, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

let emu: SpawnedEmulator;

test.beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'blockport_jobs_e2e']);
  const r = await emu.admin('config', { cors: true, latencyMs: 80 });
  expect(r.ok).toBe(true);
});

test.afterAll(async () => {
  await emu?.stop();
});

/** Every PutSnapshotBlock the server has answered, summed over its snapshots. */
async function serverPuts(): Promise<number> {
  const state = (await (await emu.admin('state')).json()) as { ebs: { snapshots: { putsByIndex: Record<string, number> }[] } };
  let n = 0;
  for (const s of state.ebs.snapshots) for (const v of Object.values(s.putsByIndex)) n += v;
  return n;
}

test('keys the service refuses on resume get a sentence and Reconnect; nothing is sent until the connection works again', async ({ page }) => {
  const image = makeTestImage('credentials-48m', 48, 0x5eed0c);
  await connectToEmulatorServer(page, emu);
  await page.goto('/#/upload');
  await expect(page.getByTestId('mode')).toContainText('AWS us-east-1');
  // One block at a time, paused early: most of the blocks are left for after the reconnect.
  await startPaused(page, image.path);
  await page.reload();
  const [job] = await storedJobs(page);
  expect(job?.connection.kind).toBe('aws');
  const putsBefore = await serverPuts();
  expect(job?.state).toBe('paused');

  // From now on Cognito hands out an access key the service never issued: every signed request is refused
  // (UnrecognizedClient / AuthFailure), as with keys that were revoked.
  await page.route(`${emu.url}/**`, async (route) => {
    if ((await route.request().headerValue('x-amz-target')) !== 'AWSCognitoIdentityService.GetCredentialsForIdentity') return route.continue();
    const res = await route.fetch();
    const body = await res.json();
    if (body.Credentials) body.Credentials.AccessKeyId = 'ASIAREVOKEDREVOKED00';
    await route.fulfill({ response: res, json: body });
  });

  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  const problem = card.getByTestId('job-problem');
  await expect(problem).toHaveAttribute('data-code', 'credentials', { timeout: 60_000 });
  await expect(problem).toContainText('The credentials no longer work');
  await expect(problem).toContainText('Reconnect, then resume.');
  await page.screenshot({ path: '/tmp/blockport-jobs-credentials.png', fullPage: true });
  // No silent restart, no file re-pick offered, nothing sent.
  await expect(page.getByTestId('run-panel')).toHaveCount(0);
  await expect(card.getByLabel("or use the browser's plain file dialog")).toHaveCount(0);
  expect(await serverPuts()).toBe(putsBefore);

  // Discarding needs working keys too (DeleteSnapshot): it says so and keeps the job unless told to forget it.
  await card.getByRole('button', { name: 'Discard…' }).click();
  await card.getByRole('button', { name: 'Yes, delete the snapshot and discard' }).click();
  await expect(problem).toHaveAttribute('data-code', 'delete-failed', { timeout: 60_000 });
  await expect(problem).toContainText(`The pending snapshot ${job!.snapshotId} could not be deleted: the credentials do not work`);
  await problem.getByRole('button', { name: 'Keep the job' }).click();
  expect((await storedJobs(page)).map((j) => j.id)).toEqual([job!.id]);
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  await expect(problem).toHaveAttribute('data-code', 'credentials', { timeout: 60_000 });

  // The way forward, from the keyboard: the connection settings.
  await problem.getByRole('button', { name: 'Open connection settings' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/connection$/);

  // Once the service accepts the keys again, the same job resumes into the same snapshot.
  await page.unroute(`${emu.url}/**`);
  await connectToEmulatorServer(page, emu);
  await page.goto('/#/jobs');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  expect(await waitForCompleted(page)).toBe(job!.snapshotId);
  // The rest of the blocks went in after the reconnect.
  expect(await serverPuts()).toBeGreaterThan(putsBefore);
});
