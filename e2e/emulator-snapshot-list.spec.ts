import { test, expect } from '@playwright/test';
import type {} from './pages/emulator-harness.ts';

test.setTimeout(300_000);

test('the snapshot list shows state, size and lineage, and follows changes made in another tab', async ({ context }) => {
  const db = `list-${Date.now()}`;
  const list = await context.newPage();
  await list.goto(`/e2e/pages/emulator-snapshots.html?db=${db}`);
  await expect(list.getByTestId('no-snapshots')).toBeVisible({ timeout: 60_000 });

  const writer = await context.newPage();
  await writer.goto('/e2e/pages/emulator-harness.html');
  await expect(writer.locator('#status')).toHaveText('ready', { timeout: 60_000 });
  await writer.evaluate((d) => window.emulatorHarness.open(d), db);
  const parent = await writer.evaluate(() => window.emulatorHarness.start(undefined, undefined, 'base image'));

  const table = list.getByRole('table');
  const parentRow = list.locator(`tr[data-snapshot-id="${parent}"]`);
  await expect(parentRow).toHaveAttribute('data-state', 'pending');
  await expect(parentRow).toContainText('base image');
  await expect(parentRow).toContainText('1 GiB');
  await expect(parentRow.getByTestId('lineage')).toHaveText('root');

  await writer.evaluate((id) => window.emulatorHarness.putMany(id, [0, 1, 2, 3], 300), parent);
  await expect(parentRow).toContainText('2.00 MiB');
  await writer.evaluate((id) => window.emulatorHarness.complete(id, 4), parent);
  await expect(parentRow).toHaveAttribute('data-state', 'completed');
  await expect(parentRow).toContainText('100%');

  const child = await writer.evaluate((p) => window.emulatorHarness.start(undefined, p, 'next version'), parent);
  const childRow = list.locator(`tr[data-snapshot-id="${child}"]`);
  await expect(childRow.getByTestId('lineage')).toHaveText(parent);
  await expect(table.getByRole('columnheader')).toHaveText(['Snapshot', 'State', 'Progress', 'Volume', 'Stored', 'Description', 'Lineage']);

  await writer.evaluate((id) => window.emulatorHarness.complete(id, 5), child);
  await expect(childRow).toHaveAttribute('data-state', 'error');
  await expect(childRow).toContainText('Changed blocks count mismatch for snapshot');

  await writer.evaluate((id) => window.emulatorHarness.deleteSnapshot(id), parent);
  await expect(parentRow).toHaveCount(0);
  await expect(childRow.getByTestId('lineage')).toHaveText(`${parent} (deleted)`);

  await list.reload();
  await expect(list.locator(`tr[data-snapshot-id="${child}"]`)).toHaveAttribute('data-state', 'error');
  await list.close();
  await writer.evaluate((d) => window.emulatorHarness.destroy(d), db);
});

test('the app shows the snapshot list under Snapshots', async ({ page }) => {
  await page.goto('/#/snapshots');
  await expect(page.getByRole('heading', { name: 'Snapshots in the in-browser emulator' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('no-snapshots').or(page.getByRole('table'))).toBeVisible();
});
