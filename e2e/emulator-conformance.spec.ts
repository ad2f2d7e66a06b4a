import { test, expect, type Page } from '@playwright/test';
import type {} from './pages/emulator-harness.ts';

const HARNESS = '/e2e/pages/emulator-harness.html';

// The machine is shared and the scenarios hash hundreds of blocks: allow for a slow run (tests never assert on time).
test.setTimeout(600_000);

async function ready(page: Page): Promise<void> {
  await page.goto(HARNESS);
  await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 });
}

test('every conformance scenario passes on the IndexedDB store in Chromium', async ({ page }) => {
  await ready(page);
  const results = await page.evaluate(() => window.emulatorHarness.runConformance());
  expect(results.length).toBeGreaterThanOrEqual(21);
  expect(results.filter((r) => r.skipped)).toEqual([]);
  expect(results.filter((r) => !r.ok)).toEqual([]);
});

test('the IndexedDB store meets the store contract', async ({ page }) => {
  await ready(page);
  expect(await page.evaluate(() => window.emulatorHarness.runStoreContract())).toEqual([]);
});

test('two tabs writing one snapshot on one database stay consistent', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await ready(a);
  await ready(b);
  const db = `two-tabs-${Date.now()}`;
  await a.evaluate((d) => window.emulatorHarness.open(d), db);
  await b.evaluate((d) => window.emulatorHarness.open(d), db);
  const idA = await a.evaluate(() => window.emulatorHarness.start('shared-token'));
  const idB = await b.evaluate(() => window.emulatorHarness.start('shared-token'));
  expect(idB).toBe(idA);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const [na, nb] = await Promise.all([
    a.evaluate(([id, idx]) => window.emulatorHarness.putMany(id, idx, 1000), [idA, range(0, 40)] as const),
    b.evaluate(([id, idx]) => window.emulatorHarness.putMany(id, idx, 5000), [idA, range(20, 60)] as const),
  ]);
  expect(na + nb).toBe(80);
  expect(await a.evaluate((id) => window.emulatorHarness.complete(id, 60), idA)).toBe('pending');
  const blocks = await b.evaluate((id) => window.emulatorHarness.readAll(id, [1000, 5000]), idA);
  expect(blocks.map((x) => x.index)).toEqual(range(0, 60));
  for (const x of blocks) {
    if (x.index < 20) expect(x.base).toBe(1000);
    else if (x.index >= 40) expect(x.base).toBe(5000);
    else expect([1000, 5000]).toContain(x.base);
  }
  const counts = await a.evaluate((id) => window.emulatorHarness.putCounts(id), idA);
  expect(Object.values(counts).reduce((s, n) => s + n, 0)).toBe(80);
  for (const i of range(20, 40)) expect(counts[String(i)]).toBe(2);
  // 80 distinct contents were written; the 20 overwritten ones must have been freed.
  const stats = await b.evaluate(() => window.emulatorHarness.stats());
  expect(stats).toMatchObject({ blobs: 60, blockRecords: 60, bytes: 60 * 524288, snapshots: 1 });

  const limitDb = `limit-${Date.now()}`;
  await a.evaluate((d) => window.emulatorHarness.open(d, 5), limitDb);
  await b.evaluate((d) => window.emulatorHarness.open(d, 5), limitDb);
  const [ra, rb] = await Promise.all([a.evaluate(() => window.emulatorHarness.startMany(5)), b.evaluate(() => window.emulatorHarness.startMany(5))]);
  expect(ra.ok + rb.ok).toBe(5);
  expect([...ra.errors, ...rb.errors]).toEqual(Array(5).fill('ConcurrentLimitExceededException'));
  await a.evaluate(() => window.emulatorHarness.close());
  await b.evaluate((d) => window.emulatorHarness.destroy(d), db);
  await b.evaluate((d) => window.emulatorHarness.destroy(d), limitDb);
});

test('a snapshot survives a reload, and identical blocks in two snapshots are stored once', async ({ page }) => {
  await ready(page);
  const db = `reload-${Date.now()}`;
  await page.evaluate((d) => window.emulatorHarness.open(d), db);
  const ids = await page.evaluate(async () => {
    const h = window.emulatorHarness;
    const out: string[] = [];
    for (let k = 0; k < 2; k++) {
      const id = await h.start();
      await h.putMany(id, [0, 1, 2], 7);
      await h.complete(id, 3);
      out.push(id);
    }
    return out;
  });
  expect(await page.evaluate(() => window.emulatorHarness.stats())).toMatchObject({ blobs: 3, blockRecords: 6, bytes: 3 * 524288, snapshots: 2 });
  await page.reload();
  await expect(page.locator('#status')).toHaveText('ready');
  await page.evaluate((d) => window.emulatorHarness.open(d), db);
  for (const id of ids) {
    expect(await page.evaluate((i) => window.emulatorHarness.readAll(i, [7]), id)).toEqual([0, 1, 2].map((index) => ({ index, base: 7 })));
  }
  await page.evaluate((d) => window.emulatorHarness.destroy(d), db);
});

test('an image survives a reload of the IndexedDB store, and a version 1 database is upgraded keeping its snapshots', async ({ page }) => {
  await ready(page);
  const db = `images-${Date.now()}`;
  await page.evaluate((d) => window.emulatorHarness.open(d), db);
  const { snapshotId, imageId } = await page.evaluate(async () => {
    const h = window.emulatorHarness;
    const id = await h.start();
    await h.putMany(id, [0], 3);
    await h.complete(id, 1);
    return { snapshotId: id, imageId: await h.registerImage(id, 'kept-in-indexeddb') };
  });
  await page.reload();
  await expect(page.locator('#status')).toHaveText('ready');
  await page.evaluate((d) => window.emulatorHarness.open(d), db);
  expect(await page.evaluate(() => window.emulatorHarness.describeImages())).toEqual([
    { id: imageId, name: 'kept-in-indexeddb', state: 'available', architecture: 'x86_64', bootMode: 'uefi-preferred', snapshotId },
  ]);
  await expect(page.evaluate((i) => window.emulatorHarness.registerImage(i, 'kept-in-indexeddb'), snapshotId)).rejects.toThrow(/already in use/);
  await page.evaluate((d) => window.emulatorHarness.destroy(d), db);

  // A database an older Blockport made (no image store) opens upgraded: its snapshot is there and takes an image.
  const old = `images-v1-${Date.now()}`;
  await page.evaluate((d) => window.emulatorHarness.makeVersion1(d, 'snap-0123456789abcdef0'), old);
  await page.evaluate((d) => window.emulatorHarness.open(d), old);
  const upgraded = await page.evaluate(() => window.emulatorHarness.registerImage('snap-0123456789abcdef0', 'over-an-old-snapshot'));
  expect(await page.evaluate(() => window.emulatorHarness.describeImages())).toEqual([
    { id: upgraded, name: 'over-an-old-snapshot', state: 'available', architecture: 'x86_64', bootMode: 'uefi-preferred', snapshotId: 'snap-0123456789abcdef0' },
  ]);
  await page.evaluate((d) => window.emulatorHarness.destroy(d), old);
});
