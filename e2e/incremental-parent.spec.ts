import { test, expect } from './helpers/test.ts';
import type { Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK_SIZE, makeTestImage, prng } from './helpers/disk-image.ts';
import { pickFile, putCounts, readBack, reloadAtPercent, startUpload, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 420_000 });

const MODS = { clients: '/src/aws/clients.ts', fixture: '/src/engine/testing/download-fixture.ts', manifests: '/src/engine/browser/manifest-idb.ts' };
type ClientsMod = typeof import('../src/aws/clients.ts');
type FixtureMod = typeof import('../src/engine/testing/download-fixture.ts');
type ManifestMod = typeof import('../src/engine/browser/manifest-idb.ts');

async function upload(page: Page, path: string, parent?: { id: string; expectHint: RegExp; choose?: string }, opts: { skipEmptyBlocks?: boolean } = {}): Promise<string> {
  await page.goto('/#/upload');
  await page.reload();
  await pickFile(page, path);
  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  if (parent) {
    await page.getByLabel('New version of snapshot (optional)').fill(parent.id);
    await expect(page.getByTestId('parent-hint')).toHaveText(parent.expectHint);
    if (parent.choose) await page.getByLabel(parent.choose).check();
  }
  await startUpload(page, opts);
  return waitForCompleted(page);
}

function blockDigests(buf: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < buf.length; off += BLOCK_SIZE) {
    const b = Buffer.alloc(BLOCK_SIZE);
    buf.copy(b, 0, off, Math.min(buf.length, off + BLOCK_SIZE));
    out.push(createHash('sha256').update(b).digest('base64'));
  }
  return out;
}

test('a new version sends only the changed blocks, reads back as v2, and ListChangedBlocks lists exactly them', async ({ page }) => {
  const v1 = makeTestImage('incremental-v1', 40, 0x1c1c, 0);
  const data = [...Array(v1.blockCount).keys()].filter((i) => !v1.zeroBlocks.includes(i));
  // Two blocks rewritten, one turned to zeros over parent data, one written where the parent has a hole.
  const rewritten = [data[1]!, data[9]!];
  const zeroed = data[4]!;
  const filled = v1.zeroBlocks[0]!;
  const changed = [...rewritten, zeroed, filled].sort((a, b) => a - b);
  const buf = readFileSync(v1.path);
  for (const i of [...rewritten, filled]) randomBytes(BLOCK_SIZE).copy(buf, i * BLOCK_SIZE);
  buf.fill(0, zeroed * BLOCK_SIZE, (zeroed + 1) * BLOCK_SIZE);
  const v2Path = join(tmpdir(), 'blockport-e2e', 'incremental-v2.img');
  writeFileSync(v2Path, buf);
  const v2Digests = blockDigests(buf);

  // v1 skips its empty blocks, so the parent has holes for v2 to fill.
  const p = await upload(page, v1.path, undefined, { skipEmptyBlocks: true });
  const c = await upload(page, v2Path, { id: p, expectHint: /only changed blocks will be sent/ });
  await page.screenshot({ path: '/tmp/blockport-incremental-done.png', fullPage: true });

  const counts = await putCounts(page, c);
  expect(Object.keys(counts).map(Number).sort((a, b) => a - b)).toEqual(changed);

  const back = await readBack(page, c, v1.blockCount);
  expect(back.state).toBe('completed');
  const wrong = back.digests.flatMap((d, i) => (d === v2Digests[i] ? [] : [i]));
  expect(wrong).toEqual([]);

  const listed = await page.evaluate(
    async ([a, b, mods]) => {
      const { createClients } = (await import(/* @vite-ignore */ mods.clients)) as ClientsMod;
      const { rawChangedBlocks } = (await import(/* @vite-ignore */ mods.fixture)) as FixtureMod;
      const { ebs, close } = await createClients({ kind: 'emulator' });
      const out = await rawChangedBlocks(ebs, a, b);
      close();
      return out;
    },
    [p, c, MODS] as const,
  );
  expect(listed.map((x) => x.index)).toEqual(changed);
  expect(listed.find((x) => x.index === filled)?.side).toBe('second');
  expect(listed.filter((x) => x.side === 'both').map((x) => x.index)).toEqual(changed.filter((i) => i !== filled));

  // Without the recorded manifest, the person chooses to compare against the parent's blocks: same result.
  await page.evaluate(async ([id, mods]) => ((await import(/* @vite-ignore */ mods.manifests)) as ManifestMod).idbManifestStore().delete(id), [p, MODS] as const);
  const c2 = await upload(page, v2Path, { id: p, expectHint: /no record of this snapshot's blocks/, choose: "Compare against the parent's blocks (reads them first)" });
  const counts2 = await putCounts(page, c2);
  expect(Object.keys(counts2).map(Number).sort((a, b) => a - b)).toEqual(changed);
  const back2 = await readBack(page, c2, v1.blockCount);
  expect(back2.digests.flatMap((d, i) => (d === v2Digests[i] ? [] : [i]))).toEqual([]);
});

test('a version over a parent without a manifest, reloaded mid-upload, resumes comparing against the parent: unchanged blocks are never sent', async ({ page }) => {
  const v1 = makeTestImage('incremental-resume-v1', 96, 0x1c1d, 0);
  // Every other data block rewritten: enough changed blocks to reload in the middle of sending them.
  const buf = readFileSync(v1.path);
  const next = prngBytes(0x1c1e);
  const changed = [...Array(v1.blockCount).keys()].filter((i) => i % 2 === 1 && !v1.zeroBlocks.includes(i));
  for (const i of changed) next(BLOCK_SIZE).copy(buf, i * BLOCK_SIZE);
  const v2Path = join(tmpdir(), 'blockport-e2e', 'incremental-resume-v2.img');
  writeFileSync(v2Path, buf);
  const v2Digests = blockDigests(buf);

  const p = await upload(page, v1.path);
  await page.evaluate(async ([id, mods]) => ((await import(/* @vite-ignore */ mods.manifests)) as ManifestMod).idbManifestStore().delete(id), [p, MODS] as const);

  await page.goto('/#/upload');
  await page.reload();
  await pickFile(page, v2Path);
  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  await page.getByLabel('New version of snapshot (optional)').fill(p);
  await expect(page.getByTestId('parent-hint')).toHaveText(/no record of this snapshot's blocks/);
  await page.getByLabel("Compare against the parent's blocks (reads them first)").check();
  await startUpload(page, { concurrency: 1 });
  // Left from inside the page: a reload asked from outside lets the upload run on until the new page commits, and on a
  // fast machine every changed block could be sent by then (a card that only completes, with no Resume…).
  await reloadAtPercent(page, 5);

  // The choice travelled with the job, so the resumed session compares the same way.
  const [job] = await storedJobs(page);
  expect(job?.parentCompare).toBe('read');
  expect(job?.state).not.toBe('completed');
  expect(job?.completionPending, 'blocks were left to send at the reload').toBe(false);
  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, v2Path, card);
  const c = await waitForCompleted(page);
  expect(c).toBe(job!.snapshotId);

  const counts = await putCounts(page, c);
  const unchangedSent = Object.keys(counts).map(Number).filter((i) => !changed.includes(i));
  expect(unchangedSent).toEqual([]);
  const back = await readBack(page, c, v1.blockCount);
  expect(back.state).toBe('completed');
  expect(back.digests.flatMap((d, i) => (d === v2Digests[i] ? [] : [i]))).toEqual([]);
});

/** Deterministic pseudo-random bytes (a replayable v2). */
function prngBytes(seed: number): (n: number) => Buffer {
  const next = prng(seed);
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) b.writeUInt32LE(next() >>> 0, i);
    return b;
  };
}
