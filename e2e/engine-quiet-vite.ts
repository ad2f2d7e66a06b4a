// Other engineers edit the tree while tests run: a no-op Vite client keeps HMR from reloading the page mid-test.
import type { Page } from '@playwright/test';

const NOOP_CLIENT = `
const hot = { data: {}, accept() {}, acceptExports() {}, dispose() {}, prune() {}, decline() {}, invalidate() {}, on() {}, off() {}, send() {} };
export const createHotContext = () => hot;
export const updateStyle = (id, css) => {
  let s = document.querySelector('style[data-vite-dev-id="' + id + '"]');
  if (!s) { s = document.createElement('style'); s.setAttribute('data-vite-dev-id', id); document.head.append(s); }
  s.textContent = css;
};
export const removeStyle = () => {};
export const injectQuery = (url) => url;
export class ErrorOverlay {}
`;

/** Serves a no-op /@vite/client to this page (styles still apply; no reloads on file changes). */
export async function quietVite(page: Page): Promise<void> {
  await page.route('**/@vite/client', (route) => route.fulfill({ status: 200, contentType: 'application/javascript', body: NOOP_CLIENT }));
}
