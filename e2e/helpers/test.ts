// The Playwright `test` for Blockport specs: pages never receive Vite's hot-reload messages.
import { test as base } from '@playwright/test';

export { expect } from '@playwright/test';

/**
 * Other engineers edit the tree while tests run; a Vite full-reload in the middle of an upload would
 * look like the reload under test. Every context answers Vite's HMR socket itself and stays silent.
 */
export const test = base.extend<{ quietVite: void }>({
  quietVite: [
    async ({ context }, use) => {
      await context.routeWebSocket(/\/\?token=|vite-hmr/, () => {
        // Accepted and never connected to the server: no update, no reload.
      });
      await use();
    },
    { auto: true },
  ],
});
