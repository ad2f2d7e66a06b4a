import { test, expect } from './helpers/test.ts';

test('a dropped file is planned like a picked one, and the form is usable from the keyboard', async ({ page }) => {
  await page.goto('/#/upload');

  // Drop a 3 MiB raw image built in the page (Playwright cannot drag from the desktop).
  const dataTransfer = await page.evaluateHandle(() => {
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < 1024 * 1024; i++) bytes[i] = (i * 2654435761) >>> 24;
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.img', { type: 'application/octet-stream' }));
    return dt;
  });
  await page.getByTestId('image-drop-zone').dispatchEvent('dragover', { dataTransfer });
  await page.getByTestId('image-drop-zone').dispatchEvent('drop', { dataTransfer });

  await expect(page.getByTestId('picked-name')).toHaveText('dropped.img');
  await expect(page.getByTestId('plan-format')).toHaveText('raw');
  await expect(page.getByTestId('plan-virtual-size')).toContainText('3,145,728 bytes');
  await expect(page.getByTestId('plan-blocks')).toContainText('all 6 blocks');
  await expect(page.getByText('The browser gives no lasting access to this file')).toBeVisible();

  // Every option is reachable by its label and by Tab, in reading order.
  const description = page.getByLabel('Description');
  await description.focus();
  await page.keyboard.type('typed from the keyboard');
  const order = ['Tags', 'Volume size (GiB)', 'Timeout (minutes)', 'Blocks in flight', 'Encrypt the snapshot'];
  for (const label of order) {
    await page.keyboard.press('Tab');
    await expect(page.getByLabel(label)).toBeFocused();
  }
  // Encryption unlocks the KMS key field; a wrong ARN is refused with a sentence.
  await page.keyboard.press('Space');
  await expect(page.getByLabel('KMS key ARN')).toBeEnabled();
  await page.getByLabel('KMS key ARN').fill('alias/my-key');
  await page.getByLabel('Volume size (GiB)').fill('0');
  await page.getByRole('button', { name: 'Start upload' }).press('Enter');
  await expect(page.getByText('That is not a KMS key ARN')).toBeVisible();
  await expect(page.getByText('The image needs at least 1 GiB: enter 1 or more.')).toBeVisible();
  await expect(page.getByLabel('Volume size (GiB)')).toBeFocused();
  await expect(page.getByTestId('run-panel')).toHaveCount(0);
  await page.screenshot({ path: '/tmp/blockport-upload-pick-errors.png', fullPage: true });
});

test('a file that is not a disk image gets a sentence, and the page stays usable', async ({ page }) => {
  await page.goto('/#/upload');
  await page.getByLabel("or use the browser's plain file dialog").setInputFiles({
    name: 'empty.img',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(0),
  });
  const problem = page.getByTestId('upload-problem');
  await expect(problem).toBeVisible();
  await expect(problem).toContainText('empty.img');
  await expect(page.getByTestId('plan')).toHaveCount(0);
  await page.getByRole('button', { name: 'Choose another file' }).click();
  await expect(page.getByRole('button', { name: 'Choose a disk image…' })).toBeVisible();
});
