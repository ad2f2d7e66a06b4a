import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

test.describe.configure({ timeout: 180_000 });

// Modules the page imports through Vite (passed as values so TypeScript does not resolve them as files).
const MODS = { clients: '/src/aws/clients.ts', fixture: '/src/engine/testing/download-fixture.ts' };
type ClientsMod = typeof import('../src/aws/clients.ts');
type FixtureMod = typeof import('../src/engine/testing/download-fixture.ts');

/** Writes v1, a child v2 (changed, zeroed and new blocks) and an unrelated snapshot into the in-browser emulator. */
async function seed(page: Page): Promise<{ v1: string; v2: string; other: string }> {
  return page.evaluate(async (mods) => {
    const { createClients } = (await import(/* @vite-ignore */ mods.clients)) as ClientsMod;
    const { writeSnapshot, patternBlock } = (await import(/* @vite-ignore */ mods.fixture)) as FixtureMod;
    const { ebs, close } = await createClients({ kind: 'emulator' });
    const v1Blocks = new Map<number, Uint8Array>();
    for (let i = 0; i < 12; i++) v1Blocks.set(i, patternBlock(i + 1));
    const v1 = await writeSnapshot(ebs, v1Blocks, { volumeSizeGiB: 2 });
    const v2Blocks = new Map<number, Uint8Array>([
      [2, patternBlock(1000)],
      [5, new Uint8Array(524288)],
      [7, patternBlock(8)], // identical rewrite: still a changed block
      [3000, patternBlock(3000)],
      [4095, patternBlock(4095)],
    ]);
    const v2 = await writeSnapshot(ebs, v2Blocks, { parentSnapshotId: v1, volumeSizeGiB: 2 });
    const other = await writeSnapshot(ebs, new Map([[0, patternBlock(77)]]));
    close();
    return { v1, v2, other };
  }, MODS);
}

/** ListChangedBlocks straight through the SDK in the page: index → side. */
async function changed(page: Page, a: string, b: string): Promise<{ index: number; side: string }[]> {
  return page.evaluate(
    async ([first, second, mods]) => {
      const { createClients } = (await import(/* @vite-ignore */ mods.clients)) as ClientsMod;
      const { rawChangedBlocks } = (await import(/* @vite-ignore */ mods.fixture)) as FixtureMod;
      const { ebs, close } = await createClients({ kind: 'emulator' });
      const out = await rawChangedBlocks(ebs, first, second);
      close();
      return out;
    },
    [a, b, MODS] as const,
  );
}

test('the compare view and its JSON/CSV exports match ListChangedBlocks', async ({ page }) => {
  await page.goto('/#/compare');
  const { v1, v2, other } = await seed(page);
  const truth = await changed(page, v1, v2);
  expect(truth.map((t) => t.index)).toEqual([2, 5, 7, 3000, 4095]);

  await page.getByLabel('First snapshot').fill(v1);
  await page.getByLabel('Second snapshot').fill(v2);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('count-total')).toHaveText('5');
  await expect(page.getByTestId('count-both')).toHaveText('3');
  await expect(page.getByTestId('count-second')).toHaveText('2');
  await expect(page.getByTestId('count-first')).toHaveText('0');
  await expect(page.getByTestId('changed-bytes')).toHaveText('2.50 MiB');
  await expect(page.locator('[data-testid="compare-map"] .cell.second')).toHaveCount(2);
  await page.screenshot({ path: '/tmp/blockport-compare.png', fullPage: true });

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  const doc = JSON.parse(readFileSync((await json.path())!, 'utf8'));
  expect(doc).toMatchObject({ firstSnapshotId: v1, secondSnapshotId: v2, volumeSize: 2, blockSize: 524288, changedBytes: 5 * 524288 });
  expect(doc.counts).toEqual({ first: 0, second: 2, both: 3, total: 5 });
  expect(doc.blocks).toEqual(truth);

  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const lines = readFileSync((await csv.path())!, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('block_index,offset,side');
  expect(lines.slice(1)).toEqual(truth.map((t) => `${t.index},${t.index * 524288},${t.side}`));

  // Reversed, the new blocks exist only in the first.
  await page.getByLabel('First snapshot').fill(v2);
  await page.getByLabel('Second snapshot').fill(v1);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('count-first')).toHaveText('2');

  await page.getByLabel('Second snapshot').fill(other);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('compare-problem')).toContainText(`${v2} and ${other} are not related`);
});
