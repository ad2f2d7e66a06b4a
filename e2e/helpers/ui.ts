// Playwright steps through the Blockport page, shared by the upload and jobs specs.
import { expect, type Locator, type Page } from '@playwright/test';
import type { TestImage } from './disk-image.ts';
import type { SnapshotReadBack } from './emulator-probe.ts';

const PROBE = '/e2e/helpers/emulator-probe.ts';

/** Picks a file through the page's `<input type=file>` (Playwright cannot drive the native picker). */
export async function pickFile(page: Page, path: string, scope: Page | Locator = page): Promise<void> {
  await scope.getByLabel("or use the browser's plain file dialog").setInputFiles(path);
}

/** Fills the options that differ from the defaults and starts the upload. */
export async function startUpload(page: Page, opts: { description?: string; tags?: string; concurrency?: number; skipEmptyBlocks?: boolean } = {}): Promise<void> {
  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  if (opts.skipEmptyBlocks) await page.getByRole('checkbox', { name: /^Skip empty blocks/ }).check();
  if (opts.description !== undefined) await page.getByLabel('Description').fill(opts.description);
  if (opts.tags !== undefined) await page.getByLabel('Tags').fill(opts.tags);
  if (opts.concurrency !== undefined) await page.getByLabel('Blocks in flight').fill(String(opts.concurrency));
  await page.getByRole('button', { name: 'Start upload' }).click();
  await expect(page.getByTestId('run-panel')).toBeVisible({ timeout: 60_000 });
}

/** Waits until the upload progress bar reaches `percent` (acknowledged bytes). */
export async function waitForPercent(page: Page, percent: number, timeout = 170_000): Promise<number> {
  const handle = await page.waitForFunction(
    (p) => {
      const bar = document.querySelector('[data-testid="run-panel"] [role="progressbar"]');
      const now = Number(bar?.getAttribute('aria-valuenow') ?? -1);
      return now >= p ? now : false;
    },
    percent,
    { timeout, polling: 20 },
  );
  return (await handle.jsonValue()) as number;
}

/**
 * Acts from inside the page the first time the run panel's bar shows at least `percent` and less than 100, however
 * fast the upload runs: `leave` goes to about:blank (the percent shown kept in sessionStorage as `e2e-reload-at`),
 * `pause` presses Pause once it is enabled.
 */
async function atPercentInPage(page: Page, percent: number, action: 'leave' | 'pause'): Promise<void> {
  await page.evaluate(
    ([p, act]) => {
      const check = () => {
        const bar = document.querySelector('[data-testid="run-panel"] [role="progressbar"]');
        const now = Number(bar?.getAttribute('aria-valuenow') ?? -1);
        if (now < p || now >= 100) return;
        if (act === 'pause') {
          if (document.querySelector('[data-testid="run-panel"]')?.getAttribute('data-phase') !== 'uploading') return;
          const pause = [...document.querySelectorAll<HTMLButtonElement>('[data-testid="run-panel"] button')].find((b) => b.textContent?.trim() === 'Pause');
          if (!pause || pause.disabled) return;
          observer.disconnect();
          pause.click();
          return;
        }
        observer.disconnect();
        sessionStorage.setItem('e2e-reload-at', String(now));
        location.assign('about:blank');
      };
      const observer = new MutationObserver(check);
      observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'disabled', 'data-phase'] });
      check();
    },
    [percent, action] as const,
  );
}

/**
 * Leaves the page from inside it as soon as the run panel shows at least `percent` (and less than 100), then opens
 * it again: the tab goes away mid-upload however fast the upload runs (about:blank needs no fetch, so the old page
 * unloads at once). Returns the percent it showed.
 */
export async function reloadAtPercent(page: Page, percent: number, timeout = 170_000): Promise<number> {
  const url = page.url();
  const left = page.waitForURL('about:blank', { timeout });
  await atPercentInPage(page, percent, 'leave');
  await left;
  await page.goto(url);
  return Number(await page.evaluate(() => sessionStorage.getItem('e2e-reload-at')));
}

/**
 * Picks an image on the Upload view, starts it one block at a time and pauses it early: an upload with most of its
 * blocks still to send, whatever the speed of the machine.
 */
/**
 * Presses Pause from inside the page as soon as the run panel uploads and shows at least `percent` (less than 100): a
 * click from the test can come after the last block on a fast or loaded machine, when Pause is no longer offered.
 */
export function pauseInPageAt(page: Page, percent: number): Promise<void> {
  return atPercentInPage(page, percent, 'pause');
}

export async function startPaused(page: Page, imagePath: string): Promise<void> {
  await pickFile(page, imagePath);
  // Pause is pressed from inside the page as soon as the bar shows 3 %: a click from the test could come after the
  // last block on a loaded machine (48 MiB at one block in flight takes a few seconds), leaving no block to resume.
  await atPercentInPage(page, 3, 'pause');
  await startUpload(page, { concurrency: 1 });
  await expect(page.getByTestId('phase')).toHaveText('Paused', { timeout: 60_000 });
  const percent = Number(await page.getByTestId('run-panel').getByRole('progressbar').getAttribute('aria-valuenow'));
  expect(percent, 'paused before every block was sent').toBeLessThan(100);
}

/**
 * Uploads an image on the Upload view and leaves the page from inside it as soon as CompleteSnapshot was sent and the
 * run waits for `completed`, then opens it again: a job whose blocks are all acknowledged, completion pending (the
 * completion asked for went through meanwhile, so its snapshot completes on its own). Returns the job and snapshot ids.
 */
export async function leaveWhileCompleting(page: Page, imagePath: string): Promise<{ id: string; snapshotId: string }> {
  await page.goto('/#/upload');
  await pickFile(page, imagePath);
  await startUpload(page);
  const url = page.url();
  const left = page.waitForURL('about:blank', { timeout: 170_000 });
  await page.evaluate(() => {
    const check = () => {
      if (document.querySelector('[data-testid="run-panel"]')?.getAttribute('data-phase') !== 'waiting') return;
      observer.disconnect();
      location.assign('about:blank');
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
    check();
  });
  await left;
  await page.goto(url);
  const [job] = await storedJobs(page);
  expect(job?.state).toBe('completing');
  return { id: job!.id, snapshotId: job!.snapshotId! };
}

/** Waits for the final report and returns the snapshot id it names. */
export async function waitForCompleted(page: Page, timeout = 170_000): Promise<string> {
  const report = page.getByTestId('final-report');
  await expect(report).toBeVisible({ timeout });
  await expect(report.getByRole('heading')).toHaveText('Snapshot completed');
  return (await report.getByTestId('snapshot-id').textContent())!.trim();
}

/** Reads a snapshot back through the SDK inside the page (the probe module is served by Vite). */
export function readBack(page: Page, snapshotId: string, blockCount: number): Promise<SnapshotReadBack> {
  return page.evaluate(
    async ([url, id, n]) => (await import(/* @vite-ignore */ url)).readBack(id, n),
    [PROBE, snapshotId, blockCount] as const,
  );
}

/** How many times each block index was put, from the emulator's own counters. */
export function putCounts(page: Page, snapshotId: string): Promise<Record<string, number>> {
  return page.evaluate(async ([url, id]) => (await import(/* @vite-ignore */ url)).putCounts(id), [PROBE, snapshotId] as const);
}

/** All snapshots and the emulator's total put count. */
export function emulatorSummary(page: Page): Promise<{ snapshots: { id: string; state: string }[]; totalPuts: number }> {
  return page.evaluate(async (url) => (await import(/* @vite-ignore */ url)).emulatorSummary(), PROBE);
}

/** Puts beyond the first for each index: the blocks that were sent again. */
export function resent(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
}

/** Checks an uploaded snapshot against its image: completed, every block equal, at most `maxResent` blocks sent twice. */
export async function expectUploadedIntact(page: Page, snapshotId: string, image: TestImage, maxResent: number): Promise<void> {
  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.state).toBe('completed');
  expect(back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]))).toEqual([]);
  expect(resent(await putCounts(page, snapshotId))).toBeLessThanOrEqual(maxResent);
}

/** Copies a file from disk into the origin's private file system (OPFS), so the page can hold a real handle to it. */
export async function copyIntoOpfs(page: Page, path: string, name: string): Promise<void> {
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'e2e-opfs-loader';
    input.hidden = true;
    document.body.append(input);
  });
  await page.setInputFiles('#e2e-opfs-loader', path);
  await page.evaluate(async (fileName) => {
    const input = document.querySelector<HTMLInputElement>('#e2e-opfs-loader')!;
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(fileName, { create: true });
    const writable = await handle.createWritable();
    await writable.write(input.files![0]);
    await writable.close();
    input.remove();
  }, name);
}

/** Makes `showOpenFilePicker` return the OPFS file `name` (Playwright cannot answer the native picker). */
export async function stubFilePicker(page: Page, name: string): Promise<void> {
  await page.addInitScript((fileName) => {
    (window as unknown as { showOpenFilePicker: () => Promise<FileSystemFileHandle[]> }).showOpenFilePicker = async () => {
      const root = await navigator.storage.getDirectory();
      return [await root.getFileHandle(fileName)];
    };
  }, name);
}

/**
 * Makes `showSaveFilePicker` return the OPFS file `${prefix}${suggestedName}` (Playwright cannot answer the native
 * picker). The app treats whatever the picker returns as a picked file; the worker writes it as it would any target.
 */
export async function stubSavePicker(page: Page, prefix = 'picked-'): Promise<void> {
  await page.addInitScript((p) => {
    (window as unknown as { showSaveFilePicker: unknown }).showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) =>
      (await navigator.storage.getDirectory()).getFileHandle(`${p}${suggestedName}`, { create: true });
  }, prefix);
}

/** SHA-256 (hex) and size of the OPFS file `name`, read in the page. */
export function opfsSha256(page: Page, name: string): Promise<{ hex: string; size: number }> {
  return page.evaluate(async (n) => {
    const f = await (await (await navigator.storage.getDirectory()).getFileHandle(n)).getFile();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await f.arrayBuffer()));
    return { hex: [...d].map((b) => b.toString(16).padStart(2, '0')).join(''), size: f.size };
  }, name);
}

/** Deletes a snapshot in the in-browser emulator, behind the page's back. */
export function deleteSnapshot(page: Page, snapshotId: string): Promise<boolean> {
  return page.evaluate(async ([url, id]) => (await import(/* @vite-ignore */ url)).deleteSnapshot(id), [PROBE, snapshotId] as const);
}

const JOBS_PROBE = '/e2e/helpers/jobs-probe.ts';
type JobsProbe = typeof import('./jobs-probe.ts');

/** A snapshot's state through EC2 DescribeSnapshots in the page ('not-found' when EC2 does not know it). */
export function describeSnapshot(page: Page, snapshotId: string): Promise<{ state: string; message?: string }> {
  return page.evaluate(async ([url, id]) => ((await import(/* @vite-ignore */ url)) as JobsProbe).describeSnapshot(id), [JOBS_PROBE, snapshotId] as const);
}

/** The jobs IndexedDB holds, read in the page. */
export function storedJobs(page: Page): ReturnType<JobsProbe['storedJobs']> {
  return page.evaluate(async (url) => ((await import(/* @vite-ignore */ url)) as JobsProbe).storedJobs(), JOBS_PROBE);
}

/** Rewrites a stored job's connection (to make its snapshot unreachable from the page). */
export function moveJob(page: Page, jobId: string, connection: import('../../src/engine/upload-types.ts').Connection): Promise<void> {
  return page.evaluate(async ([url, id, c]) => ((await import(/* @vite-ignore */ url)) as JobsProbe).moveJob(id, c), [JOBS_PROBE, jobId, connection] as const);
}

/** Rewrites fields of a stored job, behind the page's back. */
export function patchJob(page: Page, jobId: string, patch: Partial<import('../../src/engine/upload-types.ts').JobRecord>): Promise<void> {
  return page.evaluate(async ([url, id, p]) => ((await import(/* @vite-ignore */ url)) as JobsProbe).patchJob(id, p), [JOBS_PROBE, jobId, patch] as const);
}

/**
 * Connects the page to an emulator server in AWS mode (its Cognito identity pool, custom endpoint) and expects the
 * test to pass. One more try after a reload: on a loaded machine the dev server's first load of the AWS SDK chunks
 * can abort the very first request (seen as a network failure); what the callers test starts after a working one.
 */
export async function connectToEmulatorServer(page: Page, emu: { url: string; poolId?: string }): Promise<void> {
  const result = page.getByTestId('connection-result');
  for (let attempt = 1; ; attempt++) {
    await page.goto('/#/connection');
    await page.getByLabel('Amazon Web Services').check();
    await page.getByLabel('Region').fill('us-east-1');
    await page.getByLabel('Cognito identity pool id').fill(emu.poolId!);
    await page.getByLabel(/Custom endpoint/).check();
    await page.getByLabel('Endpoint URL', { exact: true }).fill(emu.url);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(result).toBeVisible({ timeout: 60_000 });
    if ((await result.getAttribute('data-ok')) === 'true' || attempt === 2) break;
    await page.reload();
  }
  expect(await result.getAttribute('data-ok'), await result.innerText()).toBe('true');
}
