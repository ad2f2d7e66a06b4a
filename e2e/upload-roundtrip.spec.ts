import { test, expect } from './helpers/test.ts';
import { makeTestImage } from './helpers/disk-image.ts';
import { pickFile, readBack, startUpload, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ timeout: 480_000 });

test('a 128 MiB image uploads through the page to a completed snapshot, byte for byte', async ({ page }) => {
  // 128 MiB plus a 300 KiB tail: the last block is partial and must read back zero-padded.
  const image = makeTestImage('roundtrip-128m', 128, 0x5eed01, 300 * 1024);
  expect(image.zeroBlocks.length).toBeGreaterThan(16);

  await page.goto('/#/upload');
  await expect(page.getByTestId('mode')).toContainText('In-browser emulator');
  await pickFile(page, image.path);

  await expect(page.getByTestId('plan-format')).toHaveText('raw');
  await expect(page.getByTestId('plan-volume')).toHaveText('1 GiB');
  await expect(page.getByTestId('plan-blocks')).toContainText(`all ${image.blockCount.toLocaleString('en-US')} blocks`);
  // A raw image has no tables: its zero blocks are found while reading, so the plan counts every block.
  await expect(page.getByTestId('plan-send')).toHaveText('129 MiB to send');

  // A wrong option is refused with a sentence, and the keyboard is taken to it.
  await page.getByLabel('Timeout (minutes)').fill('5');
  await page.getByRole('button', { name: 'Start upload' }).click();
  await expect(page.getByText('Enter a timeout between 10 and 4320 minutes')).toBeVisible();
  await expect(page.getByLabel('Timeout (minutes)')).toBeFocused();
  await page.getByLabel('Timeout (minutes)').fill('1440');
  await page.screenshot({ path: '/tmp/blockport-upload-options.png', fullPage: true });

  await startUpload(page, { description: 'e2e round trip', tags: 'Name=roundtrip\nsuite=e2e' });
  await page.screenshot({ path: '/tmp/blockport-upload-running.png', fullPage: true });
  const snapshotId = await waitForCompleted(page);
  await page.screenshot({ path: '/tmp/blockport-upload-done.png', fullPage: true });

  const written = Number((await page.getByTestId('report-written').textContent())!.replace(/,/g, ''));
  const skipped = Number((await page.getByTestId('report-skipped').textContent())!.replace(/,/g, ''));
  // By default every block is written, zero blocks included.
  expect(written).toBe(image.blockCount);
  expect(skipped).toBe(0);

  const back = await readBack(page, snapshotId, image.blockCount);
  expect(back.state).toBe('completed');
  expect(back.volumeSizeGiB).toBe(1);
  const mismatched = back.digests.flatMap((d, i) => (d === image.digests[i] ? [] : [i]));
  expect(mismatched).toEqual([]);
  // Every block of the image is listed, and nothing past it.
  expect(back.listed).toEqual([...Array(image.blockCount).keys()]);
});
