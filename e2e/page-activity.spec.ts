// While an upload runs in the tab: its progress in the tab's title, the screen kept awake through the real Screen Wake
// Lock (let go when paused and when done), a notification when it completes, and permission to notify asked for only
// when the person starts a long job.
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { pickFile, startPaused, startUpload, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 240_000 });

interface Recorded {
  /** Wake lock events as the page lived them: 'request', then 'held' or 'refused', and 'released'. */
  wakeLock: string[];
  notifications: { title: string; body?: string }[];
  permissionAsked: number;
  titles: string[];
}

/**
 * Records what the page does with the browser's wake lock and notifications: the real APIs answer (the calls go
 * through), the page's log says what was asked and what came of it. `answerPermission`: requestPermission is answered
 * with this instead of a prompt Playwright cannot click.
 */
async function recordActivity(page: Page, answerPermission?: NotificationPermission): Promise<void> {
  await page.addInitScript((answer) => {
    const rec = { wakeLock: [] as string[], notifications: [] as { title: string; body?: string }[], permissionAsked: 0, titles: [] as string[] };
    (window as unknown as { __activity: typeof rec }).__activity = rec;
    const wakeLock = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<EventTarget & { released: boolean }> } }).wakeLock;
    if (wakeLock) {
      const real = wakeLock.request.bind(wakeLock);
      wakeLock.request = async (type) => {
        rec.wakeLock.push('request');
        try {
          const sentinel = await real(type);
          rec.wakeLock.push('held');
          sentinel.addEventListener('release', () => rec.wakeLock.push('released'));
          return sentinel;
        } catch (e) {
          rec.wakeLock.push(`refused: ${(e as Error).name}`);
          throw e;
        }
      };
    }
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        rec.notifications.push({ title, ...(options?.body ? { body: options.body } : {}) });
      }
    }
    window.Notification = Recorded;
    if (answer) {
      Real.requestPermission = async () => {
        rec.permissionAsked++;
        return answer;
      };
    }
    document.addEventListener('DOMContentLoaded', () => {
      rec.titles.push(document.title);
      new MutationObserver(() => rec.titles.push(document.title)).observe(document.querySelector('title')!, { childList: true, characterData: true, subtree: true });
    });
  }, answerPermission);
}

const recorded = (page: Page): Promise<Recorded> => page.evaluate(() => (window as unknown as { __activity: Recorded }).__activity);

test('while an upload runs the title shows its progress and the screen is kept awake; paused or done lets go; a notification says it completed', async ({ page, context }) => {
  const image = makeTestImage('activity-32m', 32, 0xac71);
  await context.grantPermissions(['notifications', 'screen-wake-lock']);
  await recordActivity(page);
  await page.goto('/#/upload');
  await expect(page).toHaveTitle('Blockport');

  // Started, then paused a little way in: the lock was taken while it ran and let go when it paused.
  await startPaused(page, image.path);
  await expect.poll(async () => (await recorded(page)).wakeLock).toEqual(['request', 'held', 'released']);
  await expect(page).toHaveTitle(/^Paused · \d+ % · Blockport$/);
  expect((await recorded(page)).titles.some((t) => /^\d+ % · Blockport$/.test(t))).toBe(true);

  // The person turns to another window, then the upload goes on: the lock is taken again.
  await page.evaluate(() => {
    document.hasFocus = () => false;
  });
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect.poll(async () => (await recorded(page)).wakeLock).toEqual(['request', 'held', 'released', 'request', 'held']);
  const snapshotId = await waitForCompleted(page);

  // Done: the lock is let go, the title is the name again, and the notification says where the snapshot is.
  await expect.poll(async () => (await recorded(page)).wakeLock).toEqual(['request', 'held', 'released', 'request', 'held', 'released']);
  await expect(page).toHaveTitle('Blockport');
  const after = await recorded(page);
  expect(after.titles.filter((t) => /^\d+ % · Blockport$/.test(t)).length).toBeGreaterThan(1);
  expect(after.notifications).toEqual([{ title: 'Upload completed', body: `Snapshot ${snapshotId} is ready.` }]);
  // Nothing was asked: permission had been given already.
  expect(after.permissionAsked).toBe(0);
});

test('an upload that ends while the person looks at the page notifies nobody', async ({ page, context }) => {
  const image = makeTestImage('activity-seen-8m', 8, 0xac72);
  await context.grantPermissions(['notifications', 'screen-wake-lock']);
  await recordActivity(page);
  await page.goto('/#/upload');
  await pickFile(page, image.path);
  await startUpload(page);
  await waitForCompleted(page);
  await expect.poll(async () => (await recorded(page)).wakeLock.at(-1)).toBe('released');
  expect((await recorded(page)).notifications).toEqual([]);
});

test('permission to notify is asked for only when the person starts a long upload', async ({ page }) => {
  // A short image, and a qcow2 of a 1 GiB disk holding the same few MiB (its empty blocks skipped: little to send).
  const short = makeTestImage('activity-short-8m', 8, 0xac73);
  const long = short.path.replace(/\.img$/, '-1g.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', short.path, long]);
  execFileSync('qemu-img', ['resize', '-q', long, '1G']);
  await recordActivity(page, 'granted');
  await page.goto('/#/upload');
  expect(await page.evaluate(() => Notification.permission)).toBe('default');

  await pickFile(page, short.path);
  await startUpload(page);
  await waitForCompleted(page);
  expect((await recorded(page)).permissionAsked).toBe(0);

  await page.getByRole('button', { name: 'Upload another image' }).click();
  await pickFile(page, long);
  await expect(page.getByTestId('plan')).toContainText('Virtual disk size 1.00 GiB');
  expect((await recorded(page)).permissionAsked).toBe(0);
  await startUpload(page, { skipEmptyBlocks: true });
  expect((await recorded(page)).permissionAsked).toBe(1);
  await waitForCompleted(page);
  expect((await recorded(page)).permissionAsked).toBe(1);
});
