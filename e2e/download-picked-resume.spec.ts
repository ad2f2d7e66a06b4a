import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeTestImage } from './helpers/disk-image.ts';
import { opfsSha256, pickFile, startUpload, stubSavePicker, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 400_000 });

// The engine's defaults: a checkpoint every 64 blocks or every second, whichever comes first; 8 lanes fetching.
const CHECKPOINT_EVERY = 64;
const CHECKPOINT_SECONDS = 1;
const IN_FLIGHT = 8;
// The pace of the first run, in blocks per second.
const PACE = 16;
// Lost at most: the blocks of the checkpoint being made durable and of the one filling, plus the window of
// blocks fetched or queued for writing (a lane fetches on while its block waits to be written).
const INTERVAL = Math.min(CHECKPOINT_EVERY, PACE * CHECKPOINT_SECONDS + 1);
const MAX_REFETCH = 2 * INTERVAL + 2 * IN_FLIGHT + 1;

/** Names and sizes in OPFS's staging directory. */
async function staged(page: Page): Promise<{ name: string; size: number }[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await root.getDirectoryHandle('blockport-staging');
    } catch {
      return [];
    }
    const out: { name: string; size: number }[] = [];
    for await (const [name, h] of dir as unknown as AsyncIterable<[string, FileSystemFileHandle]>) out.push({ name, size: (await h.getFile()).size });
    return out;
  });
}

const countOf = (s: string | null): number => Number(/^(\d+)/.exec((s ?? '').replace(/,/g, ''))![1]);

test('a download into a picked file survives a reload past 30%: resumed from its checkpoint, byte-identical, bounded re-fetch', async ({ page }) => {
  const image = makeTestImage('download-picked-96m', 96, 0x9e71c4, 12345);
  const want = createHash('sha256').update(readFileSync(image.path)).digest('hex');
  // The save picker returns an OPFS file: the app treats it as a picked file (staged in OPFS, copied in at the end).
  await stubSavePicker(page);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page, { description: 'picked download e2e' });
  const snapshotId = await waitForCompleted(page);

  await page.goto('/#/download');
  await page.getByLabel('Snapshot id').fill(snapshotId);
  // Paced so the reload lands mid-download whatever the machine's load.
  await page.getByLabel(/Speed limit/).fill(String(PACE));
  await page.getByRole('button', { name: 'Save as…' }).click();
  const row = page.locator(`[data-testid="download-row"][data-snapshot-id="${snapshotId}"]`);
  await expect(row).toHaveAttribute('data-state', 'running');
  await expect(row).toContainText("gathered in the browser's storage");
  const totalShown = async () => countOf(/of ([\d,]+) blocks/.exec((await row.getByTestId('download-blocks').textContent()) ?? '')?.[1] ?? '0');
  // The total appears once the blocks are listed.
  await expect.poll(totalShown, { timeout: 60_000 }).toBeGreaterThan(60);
  const total = await totalShown();

  await page.waitForFunction(
    ([id, min]) => {
      const el = document.querySelector(`[data-testid="download-row"][data-snapshot-id="${id}"]`) as HTMLElement | null;
      return Number(el?.dataset.fetched ?? 0) >= min;
    },
    [snapshotId, Math.ceil(total * 0.35)] as const,
    { timeout: 120_000, polling: 50 },
  );
  // Read the blocks fetched so far from the page's own state and reload in the same task: nothing arrives between.
  const reloaded = page.waitForEvent('load');
  const fetchedBefore = await page.evaluate(async () => {
    const url: string = '/src/app/download/downloads-state.svelte.ts';
    const { downloads } = (await import(/* @vite-ignore */ url)) as { downloads: unknown };
    const live = (downloads as { progress: Map<string, { blocksFetched?: number }> }).progress;
    const n = Math.max(0, ...[...live.values()].map((p) => p.blocksFetched ?? 0));
    location.reload();
    return n;
  });
  expect(fetchedBefore).toBeGreaterThanOrEqual(Math.ceil(total * 0.3));
  await reloaded;
  await page.goto('/#/download');
  await expect(row).toHaveAttribute('data-state', 'paused');
  const durable = countOf(await row.getByTestId('download-blocks').textContent());
  expect(durable).toBeLessThan(total);
  // The staged copy holds the written blocks packed (no holes); the picked file has not been touched yet.
  const parts = await staged(page);
  expect(parts).toHaveLength(1);
  expect(parts[0]!.size).toBe(total * 524288);
  expect(total * 524288).toBeLessThan(image.size);
  expect((await opfsSha256(page, `picked-${snapshotId}.img`)).size).toBe(0);
  await page.screenshot({ path: '/tmp/blockport-download-picked-interrupted.png', fullPage: true });

  await page.getByLabel(/Speed limit/).fill('0');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 180_000 });
  const fetchedAfter = Number(await row.getAttribute('data-fetched'));
  // Resume fetched exactly what the ledger did not hold.
  expect(fetchedAfter).toBe(total - durable);
  // Lost work: blocks fetched before the reload that were not yet checkpointed (plus those in flight).
  const refetched = fetchedBefore + fetchedAfter - total;
  console.log(`picked-file resume: ${total} blocks, ${fetchedBefore} fetched before the reload, ${durable} durable, ${refetched} fetched twice`);
  expect(refetched).toBeGreaterThanOrEqual(0);
  expect(refetched).toBeLessThanOrEqual(MAX_REFETCH);

  const got = await opfsSha256(page, `picked-${snapshotId}.img`);
  expect(got.size).toBe(image.size);
  expect(got.hex).toBe(want);
  // The staged copy is freed once the picked file is committed.
  expect(await staged(page)).toEqual([]);
});

test('a download stopped while writing the picked file resumes by writing it again, without the snapshot', async ({ page }) => {
  await stubSavePicker(page);
  await page.goto('/#/download');
  // A record whose blocks are all staged (phase "writing"), for a snapshot that no longer exists anywhere.
  const size = 80 * 524288 - 1000;
  const want = await page.evaluate(async (size) => {
    const url: string = '/src/engine/browser/download-ledger.ts';
    const { DownloadLedger } = (await import(/* @vite-ignore */ url)) as typeof import('../src/engine/browser/download-ledger.ts');
    const BS = 524288;
    // Blocks 0–2, 10–11 and the partial last block 79, packed in six slots in the staged copy.
    const blocks = [0, 1, 2, 10, 11, 79];
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('blockport-staging', { create: true });
    const packed = new Uint8Array(blocks.length * BS);
    const file = new Uint8Array(size);
    const bitmap = new Uint8Array(10);
    blocks.forEach((i, k) => {
      for (let j = 0; j < BS; j += 512) packed[k * BS + j] = (i * 31 + j / 512) & 0xff;
      file.set(packed.subarray(k * BS, k * BS + Math.min(BS, size - i * BS)), i * BS);
      bitmap[i >> 3]! |= 1 << (i & 7);
    });
    const w = await (await dir.getFileHandle('rec-writing.part', { create: true })).createWritable();
    await w.write(packed);
    await w.close();
    const picked = await root.getFileHandle('picked-half.img', { create: true });
    // A partly written earlier attempt: the pass replaces it whole.
    const pw = await picked.createWritable();
    await pw.write(new Uint8Array(size + 5000).fill(7));
    await pw.close();
    await new DownloadLedger().create({
      id: 'rec-writing',
      snapshotId: 'snap-0000000000deadbeef',
      connection: { kind: 'emulator' },
      handle: picked,
      viaOpfs: false,
      staging: 'rec-writing.part',
      phase: 'writing',
      fileName: 'picked-half.img',
      size,
      bitmap,
      blocksDone: blocks.length,
      blocksTotal: blocks.length,
      state: 'running',
      created: Date.now(),
      updated: Date.now(),
    });
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', file));
    return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, size);
  await page.reload();
  await page.goto('/#/download');
  const row = page.locator('[data-testid="download-row"][data-snapshot-id="snap-0000000000deadbeef"]');
  await expect(row).toHaveAttribute('data-state', 'paused');
  await expect(row).toContainText('Every block is stored in the browser; Resume writes them to picked-half.img');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 60_000 });
  const got = await opfsSha256(page, 'picked-half.img');
  expect(got.size).toBe(size);
  expect(got.hex).toBe(want);
  expect(await staged(page)).toEqual([]);
});

test('a staged copy the browser cleared is not trusted: the download starts over and is still identical', async ({ page }) => {
  await stubSavePicker(page);
  await page.goto('/#/download');
  const BS = 524288;
  const { snapshotId, want } = await page.evaluate(async (BS) => {
    const u = { clients: '/src/aws/clients.ts', fixture: '/src/engine/testing/download-fixture.ts', ledger: '/src/engine/browser/download-ledger.ts' } as Record<string, string>;
    const { createClients } = (await import(/* @vite-ignore */ u.clients!)) as typeof import('../src/aws/clients.ts');
    const { writeSnapshot, patternBlock } = (await import(/* @vite-ignore */ u.fixture!)) as typeof import('../src/engine/testing/download-fixture.ts');
    const { DownloadLedger } = (await import(/* @vite-ignore */ u.ledger!)) as typeof import('../src/engine/browser/download-ledger.ts');
    const blocks = new Map([[0, patternBlock(11)], [5, patternBlock(12)], [6, patternBlock(13)]]);
    const { ebs, close } = await createClients({ kind: 'emulator' });
    const snapshotId = await writeSnapshot(ebs, blocks);
    close();
    const size = 8 * BS;
    const file = new Uint8Array(size);
    for (const [i, d] of blocks) file.set(d, i * BS);
    const picked = await (await navigator.storage.getDirectory()).getFileHandle('picked-lost.img', { create: true });
    // The ledger says blocks 0 and 5 are staged, but no staged copy exists any more.
    const bitmap = new Uint8Array(1);
    bitmap[0] = 1 | (1 << 5);
    await new DownloadLedger().create({
      id: 'rec-lost',
      snapshotId,
      connection: { kind: 'emulator' },
      handle: picked,
      viaOpfs: false,
      staging: 'rec-lost.part',
      phase: 'fetching',
      fileName: 'picked-lost.img',
      size,
      bitmap,
      blocksDone: 2,
      blocksTotal: 3,
      state: 'running',
      created: Date.now(),
      updated: Date.now(),
    });
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', file));
    return { snapshotId, want: [...d].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, BS);
  await page.reload();
  await page.goto('/#/download');
  const row = page.locator(`[data-testid="download-row"][data-snapshot-id="${snapshotId}"]`);
  await expect(row).toHaveAttribute('data-state', 'paused');
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 60_000 });
  // All three blocks were fetched again, none trusted from the lost copy.
  expect(Number(await row.getAttribute('data-fetched'))).toBe(3);
  const got = await opfsSha256(page, 'picked-lost.img');
  expect(got.size).toBe(8 * BS);
  expect(got.hex).toBe(want);
  expect(await staged(page)).toEqual([]);
});
