// The Playwright `test` for Blockport specs: a failed test prints what its pages showed. The site under test is a build
// (e2e/vite.e2e.config.ts), so edits to the tree during a run reach no page.
import { test as base } from '@playwright/test';

export { expect } from '@playwright/test';

export const test = base.extend<{ pageOnFailure: void }>({
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
