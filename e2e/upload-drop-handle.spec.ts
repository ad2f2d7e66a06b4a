import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { copyIntoOpfs, expectUploadedIntact, reloadAtPercent, storedJobs, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 300_000 });

test('a dropped file keeps its FileSystemFileHandle where the browser gives one, so Resume after a reload needs no re-pick', async ({ page }) => {
  const image = makeTestImage('drop-handle-48m', 48, 0x5eed0b);
  await page.goto('/#/upload');
  await copyIntoOpfs(page, image.path, 'drop-handle-48m.img');

  // A drop as Chromium delivers a file from the desktop: the item gives its File and a handle to it
  // (Playwright cannot drag from the OS, so the handle is one to the same file in the origin's private file system).
  await page.evaluate(async (name) => {
    const handle = await (await navigator.storage.getDirectory()).getFileHandle(name);
    const file = await handle.getFile();
    (DataTransferItem.prototype as unknown as { getAsFileSystemHandle: () => Promise<FileSystemHandle | null> }).getAsFileSystemHandle =
      function (this: DataTransferItem) {
        return Promise.resolve(this.kind === 'file' ? handle : null);
      };
    const dt = new DataTransfer();
    dt.items.add(file);
    const zone = document.querySelector('[data-testid="image-drop-zone"]')!;
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, 'drop-handle-48m.img');

  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('plan')).toContainText('drop-handle-48m.img');
  // A kept handle means no warning about re-picking.
  await expect(page.getByText('The browser gives no lasting access to this file')).toHaveCount(0);
  await page.getByLabel('Blocks in flight').fill('4');
  await page.getByRole('button', { name: 'Start upload' }).click();
  await reloadAtPercent(page, 20);

  const [job] = await storedJobs(page);
  expect(job).toMatchObject({ hasHandle: true, handleName: 'drop-handle-48m.img', completionPending: false });
  await page.goto('/#/jobs');
  const card = page.getByTestId('job-card');
  await expect(card).toContainText('kept by the browser: Resume reopens it');
  await expect(card.getByLabel("or use the browser's plain file dialog")).toHaveCount(0);
  await card.getByRole('button', { name: 'Resume', exact: true }).click();
  const snapshotId = await waitForCompleted(page);

  await expectUploadedIntact(page, snapshotId, image, 4);
});
