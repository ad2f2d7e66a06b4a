import { test, expect } from './helpers/test.ts';

const HARNESS = '/e2e/helpers/block-map-harness.ts';
const GREEN = '#2da44e';
const PENDING = '#d8dee4';
const AMBER = '#d4a72c';
const RED = '#cf222e';

test('the block map of a 64 GiB volume groups cells and repaints only what changed', async ({ page }) => {
  await page.goto('/');
  const grid = await page.evaluate(async (url) => (await import(/* @vite-ignore */ url)).mountBlockMap(131072), HARNESS);
  expect(grid).toEqual({ cells: 8192, blocksPerCell: 16 });
  await page.evaluate(async (url) => (await import(/* @vite-ignore */ url)).frames(), HARNESS);

  const color = (cell: number) =>
    page.evaluate(async ([url, c]) => (await import(/* @vite-ignore */ url)).cellColor(c), [HARNESS, cell] as const);
  const set = (first: number, count: number, state: number) =>
    page.evaluate(async ([url, f, n, s]) => {
      const h = await import(/* @vite-ignore */ url);
      h.setBlocks(f, n, s);
      await h.frames();
    }, [HARNESS, first, count, state] as const);

  expect((await color(0)).color).toBe(PENDING);
  // Whole cells written turn green; a cell with one block in flight shows amber; one retrying block wins its cell.
  await set(0, 16 * 100, 2);
  await set(16 * 5000 + 3, 1, 3);
  await set(16 * 8191 + 15, 1, 4);
  expect(await color(0)).toEqual({ color: GREEN, pendingDirty: 0 });
  expect((await color(99)).color).toBe(GREEN);
  expect((await color(100)).color).toBe(PENDING);
  expect((await color(5000)).color).toBe(AMBER);
  expect((await color(8191)).color).toBe(RED);

  // 131072 updates at once fold into the 8192 cells and are painted by the next frame.
  await set(0, 131072, 2);
  expect(await color(8191)).toEqual({ color: GREEN, pendingDirty: 0 });
  await page.screenshot({ path: '/tmp/blockport-block-map-64g.png' });
});
