// The window's ceiling in real Chromium: to a plain-http endpoint (HTTP/1.1, six connections per host) the window
// stays at 12 and the progress says why; to --tls (HTTP/2) the same upload opens past it.
import { test, expect, type Page } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImageFile } from '../bench/upload-image-file.ts';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';

let dir: string;
let imagePath: string;
const running: SpawnedEmulator[] = [];

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockport-window-'));
  imagePath = join(dir, 'disk.img');
  await writeImageFile(imagePath, [['random', 24]]);
});

test.afterAll(async () => {
  for (const e of running) await e.stop();
  await rm(dir, { recursive: true, force: true });
});

type EngineWindow = { __engine: typeof import('../src/engine/api.ts') };

/** Uploads the image to `endpoint` through the engine in the page; returns the largest window seen and the notes. */
async function upload(page: Page, endpoint: string): Promise<{ state: string; maxWindow: number; notes: string[] }> {
  await page.goto('/');
  await page.addScriptTag({ type: 'module', url: '/e2e/engine-harness.ts' });
  await page.waitForFunction(() => '__engine' in window, undefined, { timeout: 60_000 });
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'engine-file';
    document.body.append(input);
  });
  await page.setInputFiles('#engine-file', imagePath);
  return page.evaluate(async (url) => {
    const engine = (window as unknown as EngineWindow).__engine;
    const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
    const connection = { kind: 'endpoint' as const, endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const run = await engine.startUpload({ file, connection, options: { workers: 2 } });
    let maxWindow = 0;
    const notes = new Set<string>();
    run.onProgress((p) => {
      if (p.phase === 'uploading') maxWindow = Math.max(maxWindow, p.concurrency);
      if (p.windowNote) notes.add(p.windowNote);
    });
    const r = await run.done;
    return { state: r.state, maxWindow, notes: [...notes] };
  }, endpoint);
}

test('over HTTP/1.1 the window stays at twelve and says why; over HTTP/2 it opens past that', async ({ page, context }) => {
  test.setTimeout(240_000);
  // 200 ms away: the link asks for far more than twelve blocks in flight.
  const plain = await spawnEmulator(['--latency-ms', '200', '--completion-delay-ms', '0']);
  running.push(plain);
  const h1 = await upload(page, plain.url);
  expect(h1.state).toBe('completed');
  expect(h1.maxWindow).toBeLessThanOrEqual(12);
  expect(h1.notes.join(' ')).toContain('HTTP/1.1');

  const tls = await spawnEmulator(['--tls', '--latency-ms', '200', '--completion-delay-ms', '0']);
  running.push(tls);
  const page2 = await context.browser()!.newPage({ ignoreHTTPSErrors: true, baseURL: new URL(page.url()).origin });
  const h2 = await upload(page2, tls.url);
  expect(h2.state).toBe('completed');
  expect(h2.maxWindow).toBeGreaterThan(12);
  expect(h2.notes.join(' ')).not.toContain('HTTP/1.1');
  await page2.close();
});
