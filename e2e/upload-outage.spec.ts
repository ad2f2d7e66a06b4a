// Uploads through the page against `npm run emulator` that stalls requests, is stopped (SIGSTOP) mid-upload, or runs in
// a hidden tab: each completes by itself and reads back byte-identical.
import type { Page } from '@playwright/test';
import { test, expect } from './helpers/test.ts';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import { makeTestImage, type TestImage } from './helpers/disk-image.ts';
import { expectSnapshotIsImage } from './helpers/read-back.ts';
import { connectToEmulatorServer, pickFile, startUpload, waitForCompleted, waitForPercent } from './helpers/ui.ts';

/**
 * The server stays stopped until the page says it waits for the network (every request in flight abandoned at its
 * deadline, 10 s at least once the latency is learned), then for this long more: probes fail too before it continues.
 */
const STOPPED_AFTER_WAITING_MS = 5_000;
/** The longest the page may take to notice: the deadline before the latency is learned (30 s), and some slack. */
const NOTICE_MS = 45_000;

// Each test stands alone (its own image, settings reset before it): Playwright may spread them over its workers,
// each with an emulator of its own.
test.describe.configure({ mode: 'parallel', timeout: 300_000 });

let emu: SpawnedEmulator;

const admin = async (what: string, body?: unknown): Promise<Record<string, unknown>> => {
  const r = await emu.admin(what, body);
  expect(r.ok).toBe(true);
  return (await r.json()) as Record<string, unknown>;
};

test.beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'blockport_outage_e2e', '--completion-delay-ms', '200']);
});

test.afterAll(async () => {
  emu?.proc.kill('SIGCONT');
  await emu?.stop();
});

test.beforeEach(async () => {
  await admin('config', { stallRate: 0, latencyMs: 0 });
});

const expectIdentical = (snapshotId: string, image: TestImage) => expectSnapshotIsImage(emu.url, snapshotId, image);

/** Titles the tab showed, sampled in the page as they change. */
async function recordTitles(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __titles: string[] };
    w.__titles = [document.title];
    new MutationObserver(() => w.__titles.push(document.title)).observe(document.querySelector('title')!, { childList: true, characterData: true, subtree: true });
  });
  return () => page.evaluate(() => (window as unknown as { __titles: string[] }).__titles);
}

test('against a 3 % stall rate the upload completes byte-identical; stalled requests are abandoned and their connections closed', async ({ page }) => {
  const image = makeTestImage('outage-stall-96m', 96, 0x57a11);
  await connectToEmulatorServer(page, emu);
  await page.goto('/#/upload');
  await admin('config', { stallRate: 0.03 });
  const before = ((await admin('health')) as { stalls: { total: number } }).stalls.total;
  await pickFile(page, image.path);
  await startUpload(page, { description: 'stalls' });
  const titles = await recordTitles(page);
  const snapshotId = await waitForCompleted(page, 240_000);
  await admin('config', { stallRate: 0 });
  const health = (await admin('health')) as { stalls: { total: number; open: number } };
  // 192 blocks at 3 %: a run without a stall has a chance of about 0.3 %.
  expect(health.stalls.total - before).toBeGreaterThan(0);
  // Chromium let go of every stalled request (abort at the deadline): no connection is left hanging.
  await expect.poll(async () => ((await admin('health')) as { stalls: { open: number } }).stalls.open, { timeout: 10_000 }).toBe(0);
  expect(Number(await page.getByTestId('count-retried').textContent())).toBeGreaterThan(0);
  await expectIdentical(snapshotId, image);
  const seen = await titles();
  expect(seen.some((t) => /^\d+ % · Blockport$/.test(t))).toBe(true);
  expect(seen.at(-1)).toBe('Blockport');
});

test('with the server stopped (SIGSTOP) mid-upload, the page waits for the network and resumes by itself when it is continued', async ({ page }) => {
  const image = makeTestImage('outage-stop-64m', 64, 0x5709);
  await admin('config', { latencyMs: 40 });
  await connectToEmulatorServer(page, emu);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  // Two blocks in flight and some latency: the stop lands in the middle of the upload on any machine.
  await startUpload(page, { description: 'stopped', concurrency: 2 });
  const titles = await recordTitles(page);
  // Far enough in for each worker to have learned its deadline from answers (before that it allows 30 s).
  await waitForPercent(page, 30);
  emu.proc.kill('SIGSTOP');
  const stoppedAt = Date.now();
  let continuedAt = 0;
  try {
    await expect(page.getByTestId('waiting-network')).toBeVisible({ timeout: NOTICE_MS });
    await expect(page.getByTestId('phase')).toHaveText('Waiting for the network…');
    const shownAfter = Date.now() - stoppedAt;
    await page.waitForTimeout(STOPPED_AFTER_WAITING_MS);
    await expect(page.getByTestId('phase')).toHaveText('Waiting for the network…');
    continuedAt = Date.now();
    emu.proc.kill('SIGCONT');
    // Nothing is pressed: the upload goes on by itself.
    await expect(page.getByTestId('waiting-network')).toBeHidden({ timeout: 60_000 });
    const resumedAfter = Date.now() - continuedAt;
    const snapshotId = await waitForCompleted(page, 240_000);
    console.log(
      `page, SIGSTOP ${((continuedAt - stoppedAt) / 1000).toFixed(1)} s: "Waiting for the network…" shown ${(shownAfter / 1000).toFixed(1)} s after the stop; uploading again ${(resumedAfter / 1000).toFixed(1)} s after SIGCONT; completed ${((Date.now() - continuedAt) / 1000).toFixed(1)} s after SIGCONT`,
    );
    await expectIdentical(snapshotId, image);
    expect((await titles()).some((t) => t.startsWith('Waiting for the network · '))).toBe(true);
  } finally {
    if (!continuedAt) emu.proc.kill('SIGCONT');
  }
});

test('with the network lost (offline) mid-upload, the page waits and resumes by itself when it is back online', async ({ page, context }) => {
  const image = makeTestImage('outage-offline-64m', 64, 0x0ff1);
  await admin('config', { latencyMs: 40 });
  await connectToEmulatorServer(page, emu);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page, { description: 'offline', concurrency: 2 });
  await waitForPercent(page, 30);
  await context.setOffline(true);
  let back = false;
  try {
    await expect(page.getByTestId('waiting-network')).toBeVisible({ timeout: 60_000 });
    const percent = Number(await page.locator('[data-testid="run-panel"] [role="progressbar"]').getAttribute('aria-valuenow'));
    expect(percent).toBeLessThan(100);
    await context.setOffline(false);
    back = true;
    const t0 = Date.now();
    await expect(page.getByTestId('waiting-network')).toBeHidden({ timeout: 60_000 });
    console.log(`offline: uploading again ${((Date.now() - t0) / 1000).toFixed(1)} s after the network came back`);
    const snapshotId = await waitForCompleted(page, 240_000);
    await expectIdentical(snapshotId, image);
  } finally {
    if (!back) await context.setOffline(false);
  }
});

/** Blocks the emulator holds for the snapshot started with `description` (0 before it exists). */
async function blocksStored(description: string): Promise<number> {
  const state = (await admin('state')) as { ebs: { snapshots: { description: string | null; deleted: boolean; ownBlocks: number }[] } };
  return state.ebs.snapshots.find((x) => x.description === description && !x.deleted)?.ownBlocks ?? 0;
}

/**
 * Puts the page where a background tab is: told it is hidden (visibilityState and the event), and its own timers and
 * animation frames held (a background tab's are throttled to once a second, then once a minute, or stopped), so
 * nothing on the main thread that waits for a timer gets to run. Workers keep their own timers, as in a real tab.
 */
async function hideAndHoldTimers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown> & Window;
    const held = new Map<number, () => void>();
    let next = 0x3fff0000;
    const real = { setTimeout: w.setTimeout, setInterval: w.setInterval, clearTimeout: w.clearTimeout, clearInterval: w.clearInterval, requestAnimationFrame: w.requestAnimationFrame };
    const hold = (fn: unknown, ...args: unknown[]) => {
      const id = next++;
      held.set(id, () => (typeof fn === 'function' ? fn(...args) : undefined));
      return id;
    };
    const drop = (id: number | undefined) => {
      if (id !== undefined && held.has(id)) held.delete(id);
      else real.clearTimeout.call(w, id);
    };
    w.__timers = { real, held, requested: 0 };
    w.setTimeout = ((fn: unknown, _ms?: number, ...args: unknown[]) => ((w.__timers as { requested: number }).requested++, hold(fn, ...args))) as typeof setTimeout;
    w.setInterval = ((fn: unknown, _ms?: number, ...args: unknown[]) => ((w.__timers as { requested: number }).requested++, hold(fn, ...args))) as typeof setInterval;
    w.clearTimeout = drop as typeof clearTimeout;
    w.clearInterval = drop as typeof clearInterval;
    w.requestAnimationFrame = ((fn: FrameRequestCallback) => hold(() => fn(performance.now()))) as typeof requestAnimationFrame;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
}

/** The tab comes to the front again: its timers run (those held fire now) and it is visible. Returns how many were held. */
async function showAndReleaseTimers(page: Page): Promise<{ requested: number; held: number }> {
  return page.evaluate(() => {
    const w = window as unknown as Record<string, unknown> & Window;
    const t = w.__timers as { real: Record<string, unknown>; held: Map<number, () => void>; requested: number };
    Object.assign(w, t.real);
    const held = [...t.held.values()];
    t.held.clear();
    for (const fn of held) w.setTimeout(fn, 0);
    delete (document as unknown as Record<string, unknown>).visibilityState;
    delete (document as unknown as Record<string, unknown>).hidden;
    document.dispatchEvent(new Event('visibilitychange'));
    return { requested: t.requested, held: held.length };
  });
}

test('a hidden tab keeps uploading: every block reaches the service while the page is hidden and its own timers are held', async ({ page }) => {
  const image = makeTestImage('outage-hidden-64m', 64, 0x41dde);
  await connectToEmulatorServer(page, emu);
  const description = `hidden ${Date.now()}`;
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  const t0 = Date.now();
  await startUpload(page, { description });
  await hideAndHoldTimers(page);
  // Every block is stored by the service with not one of the page's timers having fired.
  await expect.poll(() => blocksStored(description), { timeout: 240_000, intervals: [100] }).toBe(image.blockCount);
  const ms = Date.now() - t0;
  expect(await page.evaluate(() => document.visibilityState)).toBe('hidden');
  const timers = await showAndReleaseTimers(page);
  console.log(`hidden tab: the page asked for ${timers.requested} timers while hidden (${timers.held} still held at the end); none fired; ${(image.size / 1048576 / (ms / 1000)).toFixed(1)} MiB/s, start click to every block stored`);
  const snapshotId = await waitForCompleted(page, 240_000);
  await expectIdentical(snapshotId, image);
});
