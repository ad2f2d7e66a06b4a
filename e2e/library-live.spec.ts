import { test, expect } from '@playwright/test';
import type {} from './pages/emulator-harness.ts';

test.setTimeout(300_000);

test('the library is live: state, progress, size and lineage follow writes made in another tab', async ({ context }) => {
  const app = await context.newPage();
  await app.goto('/#/library');
  await expect(app.getByTestId('library-empty')).toBeVisible({ timeout: 60_000 });

  // Another tab writes to the app's own emulator database through the SDK, with no click in the app.
  const writer = await context.newPage();
  await writer.goto('/e2e/pages/emulator-harness.html');
  await expect(writer.locator('#status')).toHaveText('ready', { timeout: 60_000 });
  await writer.evaluate(() => window.emulatorHarness.open('blockport-emulator'));
  const parent = await writer.evaluate(() => window.emulatorHarness.start(undefined, undefined, 'base image'));

  const row = (id: string) => app.locator(`[data-testid="library-row"][data-snapshot-id="${id}"]`);
  await expect(row(parent)).toHaveAttribute('data-state', 'pending');
  await expect(row(parent)).toContainText('base image');
  await expect(row(parent)).toContainText('1 GiB');
  await expect(row(parent)).toHaveAttribute('data-depth', '0');
  await expect(app.getByRole('table').getByRole('columnheader')).toHaveText(['Snapshot', 'State', 'Progress', 'Volume', 'Stored', 'Description and tags', 'Actions']);

  await writer.evaluate((id) => window.emulatorHarness.putMany(id, [0, 1, 2, 3], 300), parent);
  await expect(row(parent).getByTestId('stored')).toHaveText('2.00 MiB');
  await writer.evaluate((id) => window.emulatorHarness.complete(id, 4), parent);
  await expect(row(parent)).toHaveAttribute('data-state', 'completed');
  await expect(row(parent).getByTestId('progress')).toHaveText('100%');

  const child = await writer.evaluate((p) => window.emulatorHarness.start(undefined, p, 'next version'), parent);
  await expect(row(child)).toHaveAttribute('data-parent-id', parent);
  await expect(row(child)).toHaveAttribute('data-depth', '1');

  // A wrong ChangedBlocksCount ends in error with the service's state message.
  await writer.evaluate((id) => window.emulatorHarness.complete(id, 5), child);
  await expect(row(child)).toHaveAttribute('data-state', 'error');
  await expect(row(child)).toContainText('Changed blocks count mismatch for snapshot');

  await writer.evaluate((id) => window.emulatorHarness.deleteSnapshot(id), parent);
  await expect(row(parent)).toHaveCount(0);
  await expect(row(child)).toHaveAttribute('data-depth', '0');
  await expect(row(child)).toContainText(`parent ${parent} deleted`);

  await app.reload();
  await expect(row(child)).toHaveAttribute('data-state', 'error');
  await writer.close();
});

test('an old link to the Snapshots tab opens the library', async ({ page }) => {
  await page.goto('/#/snapshots');
  await expect(page.getByRole('heading', { name: 'Snapshot library' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('link', { name: 'Library' })).toHaveAttribute('aria-current', 'page');
});
