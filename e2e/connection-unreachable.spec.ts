import { test, expect } from './helpers/test.ts';

test('Test connection to a custom endpoint where no server runs says nothing answered, not CORS (by keyboard)', async ({ page }) => {
  await page.goto('/#/connection');
  await page.getByLabel('Amazon Web Services').check();
  await page.getByLabel('Region').fill('us-east-1');
  await page.getByLabel('Cognito identity pool id').fill('us-east-1:00000000-0000-4000-a000-000000000000');
  await page.getByLabel(/Custom endpoint/).check();
  // Port 9 (discard): the connection is refused, as when the emulator server is not running.
  await page.getByLabel('Endpoint URL', { exact: true }).fill('http://127.0.0.1:9');
  await page.getByRole('button', { name: 'Test connection' }).focus();
  await page.keyboard.press('Enter');
  const result = page.getByTestId('connection-result');
  await expect(result).toHaveAttribute('data-ok', 'false', { timeout: 60_000 });
  const bad = result.locator('li.bad');
  await expect(bad).toContainText('Nothing answered at http://127.0.0.1:9: the address is wrong, the server is down, or the network blocks it.');
  await expect(result.getByTestId('connection-action')).toHaveText('Check the endpoint URL and that the server (e.g. `npm run emulator`) is running.');
  await expect(bad).not.toContainText('CORS');
});
