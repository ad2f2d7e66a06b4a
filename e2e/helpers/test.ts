// The Playwright `test` for Blockport specs: pages never receive Vite's hot-reload messages.
import { test as base } from '@playwright/test';

export { expect } from '@playwright/test';

/**
 * Other engineers edit the tree while tests run; a Vite full-reload in the middle of an upload would
 * look like the reload under test. Every context answers Vite's HMR socket itself and stays silent.
 */
export const test = base.extend<{ quietVite: void; pageOnFailure: void }>({
  quietVite: [
    async ({ context }, use) => {
      await context.routeWebSocket(/\/\?token=|vite-hmr/, () => {
        // Accepted and never connected to the server: no update, no reload.
      });
      await use();
    },
    { auto: true },
  ],
  /**
   * A failed test prints what each of its pages showed (address and accessibility tree) to the test's output: CI keeps
   * the console, not the test-results folder, so this is what tells a wrong page from a slow one afterwards.
   */
  pageOnFailure: [
    async ({ context }, use, testInfo) => {
      await use();
      if (testInfo.status === testInfo.expectedStatus) return;
      for (const [i, p] of context.pages().entries()) {
        const tree = await p.locator('body').ariaSnapshot({ timeout: 5_000 }).catch((e: Error) => `(no snapshot: ${e.message.split('\n')[0]})`);
        console.log(`--- page ${i + 1} at the failure: ${p.url()}\n${tree}\n---`);
      }
    },
    { auto: true },
  ],
});
