// Bench plumbing: a Vite dev server without HMR, Debian's Chromium with a marker, and an RSS sampler over its process tree.
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from '@playwright/test';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import { join } from 'node:path';
import { chromiumLaunchOptions } from '../e2e/chromium.ts';

/** A Vite server on an ephemeral port (HMR off: other engineers edit the tree meanwhile). */
export async function startVite(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: ViteDevServer = await createServer({ server: { port: 0, strictPort: false, hmr: false, host: '127.0.0.1' }, logLevel: 'error', clearScreen: false });
  await server.listen();
  const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${(server.httpServer?.address() as { port: number }).port}/`;
  return { url: url.replace(/\/$/, ''), close: () => server.close() };
}

/** A production build of the bench harness (bench/upload-harness.html) served by `vite preview` on an ephemeral port. */
export async function startPreview(outDir: string): Promise<{ url: string; close: () => Promise<void> }> {
  await build({
    logLevel: 'error',
    build: { outDir, emptyOutDir: true, sourcemap: false, rollupOptions: { input: { harness: join(process.cwd(), 'bench', 'upload-harness.html') } } },
  });
  const server = await preview({ logLevel: 'error', build: { outDir }, preview: { port: 0, host: '127.0.0.1', strictPort: false } });
  const url = server.resolvedUrls?.local[0] ?? '';
  return { url: url.replace(/\/$/, ''), close: () => new Promise<void>((r) => server.httpServer.close(() => r())) };
}

/**
 * Headless Chromium 156 preloads the WebUI omnibox popup (chrome://omnibox-popup.top-chrome) in a renderer of its own,
 * about 76 MiB PSS, though headless has no omnibox. The bench's browser turns that preload off, as the launch options
 * already turn off sync, component updates and background networking: what is measured is the browser, its services
 * and the page. Playwright passes a --disable-features list of its own and Chromium keeps only the last such switch,
 * so the two lists are joined: the first launch reads Playwright's from the browser's command line.
 */
const NO_BROWSER_UI = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'];
let playwrightFeatureSwitch: string | null | undefined;

async function launchMarked(extra: string[], ignore: string[] = []): Promise<{ browser: Browser; marker: string }> {
  const marker = `blockport-bench-${randomUUID()}`;
  const base = chromiumLaunchOptions();
  const browser = await chromium.launch({ ...base, args: [...(base.args ?? []), ...extra, `--${marker}`], ...(ignore.length ? { ignoreDefaultArgs: ignore } : {}) });
  return { browser, marker };
}

/** Chromium with a unique marker switch so its process tree can be found in /proc, without the omnibox popup renderer. */
export async function launchChromium(): Promise<{ browser: Browser; marker: string }> {
  if (playwrightFeatureSwitch === undefined) {
    const probe = await launchMarked([]);
    const root = procTree(probe.marker)[0];
    const args = root ? readFileSync(`/proc/${root}/cmdline`, 'utf8').split('\0') : [];
    playwrightFeatureSwitch = args.find((a) => a.startsWith('--disable-features=')) ?? null;
    await probe.browser.close();
  }
  const own = playwrightFeatureSwitch;
  const features = [...(own ? own.slice('--disable-features='.length).split(',') : []), ...NO_BROWSER_UI].filter(Boolean);
  return launchMarked([`--disable-features=${features.join(',')}`], own ? [own] : []);
}

/** The pids of the browser started with `marker` and all its descendants, the browser process first. */
export function procTree(marker: string): number[] {
  const parent = new Map<number, number>();
  let root = -1;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (root < 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=')) root = pid;
    } catch {
      /* the process ended meanwhile */
    }
  }
  if (root < 0) return [];
  const out = [root];
  for (let k = 0; k < out.length; k++) for (const [pid, pp] of parent) if (pp === out[k]) out.push(pid);
  return out;
}

function memBytes(pids: number[]): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) rss += Number(m[1]) * 1024;
      // PSS splits shared pages among the processes that map them: the tree's sum without double counting.
      const p = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (p) pss += Number(p[1]) * 1024;
    } catch {
      /* gone */
    }
  }
  return { rss, pss };
}

/** What a Chromium process is, from its command line: 'browser', 'renderer', 'renderer (browser UI)', 'utility: network.mojom.NetworkService', … */
export function processKind(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
  const type = args.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
  const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
  if (sub) return `${type}: ${sub}`;
  return args.includes('--top-chrome-webui') ? `${type} (browser UI)` : type;
}

/** PSS of one process in bytes (0 once it is gone). */
export function pssOf(pid: number): number {
  try {
    const p = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return p ? Number(p[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the summed RSS (and PSS) of the browser's process tree every intervalMs; stop() returns the peaks in bytes. */
export function sampleRss(marker: string, intervalMs = 200): { stop: () => { rss: number; pss: number }; now: () => { rss: number; pss: number } } {
  const peak = { rss: 0, pss: 0 };
  const tick = () => {
    const m = memBytes(procTree(marker));
    peak.rss = Math.max(peak.rss, m.rss);
    peak.pss = Math.max(peak.pss, m.pss);
  };
  tick();
  const t = setInterval(tick, intervalMs);
  return {
    stop: () => {
      clearInterval(t);
      tick();
      return peak;
    },
    now: () => memBytes(procTree(marker)),
  };
}

/** Opens the built bench harness in a fresh page and picks the file. */
export async function benchPage(browser: Browser, baseUrl: string, file: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: baseUrl });
  const page = await context.newPage();
  await page.goto('/bench/upload-harness.html');
  await page.waitForFunction(() => '__bench' in window, undefined, { timeout: 120_000 });
  await page.setInputFiles('#bench-file', file);
  return { page, close: () => context.close() };
}
