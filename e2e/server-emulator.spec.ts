// A page on the Vite origin uses @aws-sdk/client-ebs with Cognito credentials from `npm run emulator` on another origin.
import { test, expect, type Page } from '@playwright/test';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import type {} from './pages/server-client.ts';

const PAGE = '/e2e/pages/server-client.html';

async function ready(page: Page): Promise<void> {
  await page.goto(PAGE);
  await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 });
}

test.describe('emulator over HTTP from a browser', () => {
  const running: SpawnedEmulator[] = [];
  test.afterAll(async () => {
    for (const e of running) await e.stop();
  });

  test('cross-origin: Cognito credentials, start, put (Blob), complete, list, get, and x-amz-Checksum is readable', async ({ page }) => {
    const emu = await spawnEmulator(['--identity-pool', 'browser', '--completion-delay-ms', '100']);
    running.push(emu);
    await ready(page);
    expect(new URL(emu.url).origin).not.toBe(new URL(page.url()).origin);
    const r = await page.evaluate(([url, pool]) => window.serverClient.roundTrip(url, pool), [emu.url, emu.poolId!] as const);
    expect(r.accessKeyId).toMatch(/^ASIA/);
    expect(r.putChecksums).toEqual(r.expectedChecksums);
    expect(r.state).toBe('completed');
    expect(r.listed).toEqual([0, 10, 20]);
    expect(r.readBack).toEqual([true, true, true]);
    expect(r.getChecksum).toBe(r.expectedChecksums[0]);
    // The raw header as fetch exposed it to the page (CORS Access-Control-Expose-Headers).
    const withChecksum = r.headersSeen.filter((h) => h['x-amz-checksum']);
    expect(withChecksum.length).toBeGreaterThanOrEqual(6);
    expect(r.headersSeen.some((h) => h['x-amz-data-length'] === '524288')).toBe(true);
    expect(r.headersSeen.every((h) => h['x-amzn-requestid'])).toBe(true);
  });

  test('with --cors off the browser cannot call at all (what the app diagnoses)', async ({ page }) => {
    const emu = await spawnEmulator(['--cors', 'off']);
    running.push(emu);
    await ready(page);
    const r = await page.evaluate((url) => window.serverClient.tryStart(url), emu.url);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/fetch/i);
    const on = await spawnEmulator([]);
    running.push(on);
    expect(await page.evaluate((url) => window.serverClient.tryStart(url), on.url)).toEqual({ ok: true });
  });
});

test.describe('emulator over HTTPS with HTTP/2 from a browser', () => {
  test.use({ ignoreHTTPSErrors: true });
  let emu: SpawnedEmulator | undefined;
  test.afterAll(async () => {
    await emu?.stop();
  });

  test('the browser speaks HTTP/2 to --tls and the round trip works', async ({ page }) => {
    emu = await spawnEmulator(['--tls', '--identity-pool', 'browser', '--completion-delay-ms', '100']);
    await ready(page);
    const r = await page.evaluate(([url, pool]) => window.serverClient.roundTrip(url, pool), [emu.url, emu.poolId!] as const);
    expect(r.state).toBe('completed');
    expect(r.readBack).toEqual([true, true, true]);
    expect(r.protocols).toEqual(['h2']);
  });
});
