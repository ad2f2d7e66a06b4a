import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeTestImage } from './helpers/disk-image.ts';
import { opfsSha256, pickFile, stubSavePicker } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

const MODS = { clients: '/src/aws/clients.ts', fixture: '/src/engine/testing/download-fixture.ts', snapshots: '/src/aws/snapshots.ts' };
type ClientsMod = typeof import('../src/aws/clients.ts');
type FixtureMod = typeof import('../src/engine/testing/download-fixture.ts');
type SnapshotsMod = typeof import('../src/aws/snapshots.ts');

/** A three-generation lineage and an unrelated root, written through the SDK into the in-browser emulator. */
async function seed(page: Page): Promise<{ v1: string; v2: string; v3: string; other: string }> {
  return page.evaluate(async (m) => {
    const { createClients } = (await import(/* @vite-ignore */ m.clients)) as ClientsMod;
    const { writeSnapshot, patternBlock } = (await import(/* @vite-ignore */ m.fixture)) as FixtureMod;
    const { ebs, close } = await createClients({ kind: 'emulator' });
    const v1 = await writeSnapshot(ebs, new Map([[0, patternBlock(1)], [1, patternBlock(2)], [2, patternBlock(3)]]), { description: 'base' });
    const v2 = await writeSnapshot(ebs, new Map([[1, patternBlock(20)], [7, patternBlock(70)]]), { parentSnapshotId: v1, description: 'v2' });
    const v3 = await writeSnapshot(ebs, new Map([[2, patternBlock(30)]]), { parentSnapshotId: v2, description: 'v3' });
    const other = await writeSnapshot(ebs, new Map([[0, patternBlock(9)]]), { description: 'other' });
    close();
    return { v1, v2, v3, other };
  }, MODS);
}

async function ec2Ids(page: Page): Promise<string[]> {
  return page.evaluate(async (m) => {
    const { createClients } = (await import(/* @vite-ignore */ m.clients)) as ClientsMod;
    const { listSnapshots } = (await import(/* @vite-ignore */ m.snapshots)) as SnapshotsMod;
    const { ec2, close } = await createClients({ kind: 'emulator' });
    const ids = (await listSnapshots(ec2)).map((s) => s.snapshotId);
    close();
    return ids;
  }, MODS);
}

test('the library shows lineage as a tree, storage, deletes, imports a file and exports it byte for byte', async ({ page }) => {
  await stubSavePicker(page, 'lib-');
  await page.goto('/#/library');
  const { v1, v2, v3, other } = await seed(page);
  await page.getByRole('button', { name: 'Refresh' }).click();

  const row = (id: string) => page.locator(`[data-testid="library-row"][data-snapshot-id="${id}"]`);
  await expect(row(v3)).toBeVisible();
  await expect(row(v1)).toHaveAttribute('data-depth', '0');
  await expect(row(v2)).toHaveAttribute('data-depth', '1');
  await expect(row(v2)).toHaveAttribute('data-parent-id', v1);
  await expect(row(v3)).toHaveAttribute('data-depth', '2');
  await expect(row(other)).toHaveAttribute('data-depth', '0');
  // Depth-first: each version directly under its parent.
  const order = await page.locator('[data-testid="library-row"]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-snapshot-id')));
  expect(order.indexOf(v2)).toBe(order.indexOf(v1) + 1);
  expect(order.indexOf(v3)).toBe(order.indexOf(v2) + 1);
  await expect(row(v2).getByTestId('stored')).toHaveText('1.00 MiB');
  await expect(page.getByTestId('storage-used')).toContainText(' of ');
  await page.screenshot({ path: '/tmp/blockport-library.png', fullPage: true });

  const persist = page.getByRole('button', { name: 'Keep data (persistent storage)' });
  if (await persist.isVisible()) {
    await persist.click();
    await expect(page.getByTestId('library-notice')).toContainText(/persistent storage|keep the emulator/);
  }

  // Delete asks once more, then the snapshot is gone from the list and from EC2's view.
  await row(v3).getByRole('button', { name: 'Delete…' }).click();
  await row(v3).getByRole('button', { name: `Delete ${v3}` }).click();
  await expect(row(v3)).toHaveCount(0);
  expect(await ec2Ids(page)).not.toContain(v3);
  expect(await ec2Ids(page)).toContain(v2);

  // Import a raw file as a snapshot, then export it through the download flow: same bytes, same size.
  const image = makeTestImage('library-import-6m', 6, 0x11b, 777);
  const want = createHash('sha256').update(readFileSync(image.path)).digest('hex');
  await page.getByLabel('Import a disk image as a snapshot').setInputFiles(image.path);
  await expect(page.getByTestId('library-notice')).toContainText('Imported library-import-6m.img as snap-', { timeout: 120_000 });
  const imported = /as (snap-[0-9a-f]+)/.exec((await page.getByTestId('library-notice').textContent())!)![1]!;
  await expect(row(imported)).toHaveAttribute('data-state', 'completed');
  await expect(row(imported)).toContainText('Imported library-import-6m.img');

  await row(imported).getByRole('button', { name: 'Export file' }).click();
  await expect(page.getByLabel('Snapshot id')).toHaveValue(imported);
  await page.getByRole('button', { name: 'Save as…' }).click();
  await expect(page.locator(`[data-testid="download-row"][data-snapshot-id="${imported}"]`)).toHaveAttribute('data-state', 'completed', { timeout: 120_000 });
  const got = await opfsSha256(page, `lib-${imported}.img`);
  expect(got.size).toBe(image.size);
  expect(got.hex).toBe(want);

  // "New version" hands the parent to the upload form.
  await page.goto('/#/library');
  await row(v2).getByRole('button', { name: 'New version' }).click();
  await expect(page).toHaveURL(/#\/upload/);
  await pickFile(page, image.path);
  await expect(page.getByLabel('New version of snapshot (optional)')).toHaveValue(v2);
  await expect(page.getByTestId('parent-hint')).toContainText('no record of this snapshot');
});
