import { defineConfig } from '@playwright/test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumLaunchOptions } from './e2e/chromium.ts';

const port = Number(process.env.E2E_PORT ?? 5199);
// Each port's run builds into its own folder, so two runs side by side do not overwrite each other's site.
process.env.BLOCKPORT_E2E_DIST ??= join(tmpdir(), `blockport-e2e-dist-${port}`);
// Node 20.19+ is supported with the locked SDK versions: the SDK's notice about its future releases is noise in the
// runner and in every server it starts (they inherit this environment).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 180_000,
  fullyParallel: false,
  // Three workers on two cores: most of a test's time is waiting (latency, deadlines, completion), and a run of these
  // tests keeps about one core busy with two workers.
  workers: Number(process.env.E2E_WORKERS ?? 3),
  // Slow variants (more cut points, the other format, longer outages) are tagged @long: `npm run test:long` runs them.
  grepInvert: process.env.BLOCKPORT_LONG ? undefined : /@long/,
  // One retry on CI: these tests drive real uploads on a 2-core machine; a retried test is reported as flaky.
  retries: process.env.CI ? 1 : 0,
  reporter: process.env.CI ? [['list']] : [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    launchOptions: chromiumLaunchOptions(),
    trace: 'off',
  },
  // The production build with the test pages and probes as extra entries (e2e/vite.e2e.config.ts), behind `vite
  // preview`: what deploy.sh ships, and a tenth of the dev server's requests per page load.
  webServer: {
    command: `npx vite build --config e2e/vite.e2e.config.ts --logLevel warn && npx vite preview --config e2e/vite.e2e.config.ts --port ${port} --strictPort`,
    url: `http://localhost:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
