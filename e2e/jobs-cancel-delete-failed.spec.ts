// Cancel against the emulator server (AWS mode, custom endpoint) while EC2 DeleteSnapshot cannot get through: the
// pending snapshot is not left behind silently; the finished list says it is still pending and deletes it on request.
import { test, expect } from './helpers/test.ts';
import type { Route } from '@playwright/test';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { connectToEmulatorServer, startPaused } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

let emu: SpawnedEmulator;

test.beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'blockport_cancel']);
});

test.afterAll(async () => {
  await emu?.stop();
});

/** The snapshot's state on the emulator server, read from Node. */
async function serverState(snapshotId: string): Promise<string> {
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    return out.Snapshots?.[0]?.State ?? 'not-found';
  } catch (e) {
    if ((e as Error).name === 'InvalidSnapshot.NotFound') return 'not-found';
    throw e;
  } finally {
    ec2.destroy();
  }
}

test('a cancel whose DeleteSnapshot fails says the snapshot is still pending; Finished offers the delete again', async ({ page }) => {
  await connectToEmulatorServer(page, emu);

  const image = makeTestImage('cancel-delete-failed-64m', 64, 0xd15c05);
  await page.goto('/#/upload');
  await startPaused(page, image.path);
  const snapshotId = (await page.getByTestId('run-snapshot-id').textContent())!.trim();
  expect(await serverState(snapshotId)).toBe('pending');

  // EC2 DeleteSnapshot never reaches the server (everything else does).
  const emuOrigin = new URL(emu.url).origin;
  const isEmu = (u: URL) => u.origin === emuOrigin;
  const blockDelete = (route: Route) =>
    route.request().method() === 'POST' && /(^|&)Action=DeleteSnapshot(&|$)/.test(route.request().postData() ?? '') ? route.abort('connectionrefused') : route.continue();
  await page.route(isEmu, blockDelete);

  await page.getByRole('button', { name: 'Cancel…' }).click();
  await page.getByRole('button', { name: 'Yes, cancel upload' }).click();
  const said = page.getByTestId('run-problem');
  await expect(said).toHaveAttribute('data-code', 'cancelled', { timeout: 60_000 });
  await expect(said).toHaveAttribute('role', 'alert');
  await expect(said).toContainText(`The upload was cancelled. The pending snapshot ${snapshotId} could not be deleted: the service could not be reached`);
  await expect(said).toContainText('counts against the limit of 100 pending snapshots');
  expect(await serverState(snapshotId)).toBe('pending');

  // The way forward is a link to Jobs, where the cancelled job says the same and offers the delete again.
  await said.getByRole('link', { name: 'Delete it under Jobs' }).click();
  const row = page.getByTestId('finished-job');
  await expect(row).toContainText('Cancelled');
  await expect(row.getByTestId('finished-snapshot')).toContainText(`Snapshot still pending. The pending snapshot ${snapshotId} could not be deleted`);
  await page.screenshot({ path: '/tmp/blockport-jobs-cancel-delete-failed.png', fullPage: true });

  // Still refused: the sentence, and the choice to forget the job anyway or keep it.
  await row.getByRole('button', { name: /^Delete the snapshot and remove cancel-delete-failed-64m\.img/ }).click();
  const problem = row.getByTestId('finished-problem');
  await expect(problem).toContainText(`The pending snapshot ${snapshotId} could not be deleted`, { timeout: 60_000 });
  await problem.getByRole('button', { name: 'Keep the job' }).click();
  await expect(problem).toHaveCount(0);
  await expect(row.getByTestId('finished-snapshot')).toContainText('Snapshot still pending.');

  // Back online: the delete goes through, the job goes, and keyboard focus lands on a heading.
  await page.unroute(isEmu, blockDelete);
  await row.getByRole('button', { name: /^Delete the snapshot and remove cancel-delete-failed-64m\.img/ }).focus();
  await page.keyboard.press('Enter');
  await expect(row).toHaveCount(0, { timeout: 60_000 });
  await expect(page.getByRole('heading', { name: 'Unfinished uploads' })).toBeFocused();
  expect(await serverState(snapshotId)).toBe('not-found');
});
