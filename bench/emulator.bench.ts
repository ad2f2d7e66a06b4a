// PutSnapshotBlock throughput into the IndexedDB store in Chromium, against raw IndexedDB batched writes in the same run.
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { chromiumLaunchOptions } from '../e2e/chromium.ts';
import type { BenchRow } from './types.ts';
import type {} from './emulator-bench-page.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIB = Number(process.env.BENCH_EMULATOR_MIB ?? 256);
const CONCURRENCY = Number(process.env.BENCH_EMULATOR_CONCURRENCY ?? 16);
const ROUNDS = 2;
const STORE_OPTS = {
  maxInflight: process.env.BENCH_EMULATOR_INFLIGHT ? Number(process.env.BENCH_EMULATOR_INFLIGHT) : undefined,
  maxBatch: process.env.BENCH_EMULATOR_BATCH ? Number(process.env.BENCH_EMULATOR_BATCH) : undefined,
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export default async function emulatorBench(): Promise<BenchRow[]> {
  const port = await freePort();
  // A dependency cache of its own: other Vite servers on the machine rewrite the shared one and reload the page mid-run.
  const cacheDir = join(tmpdir(), 'blockport-emulator-bench-vite');
  const vite = await createServer({ root, configFile: join(root, 'vite.config.ts'), cacheDir, logLevel: 'error', server: { port, strictPort: true, host: '127.0.0.1', hmr: false } });
  await vite.listen();
  const browser = await chromium.launch(chromiumLaunchOptions());
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/bench/emulator-bench.html`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 120_000 });
    const n = Math.round((MIB * 1048576) / 524288);
    await page.evaluate((count) => window.emulatorBench.prepare(count), n);
    // Warm-up: first IndexedDB use and first SDK call pay one-off costs.
    await page.evaluate(() => window.emulatorBench.ceiling());
    const ceil: number[] = [];
    const emu: number[] = [];
    const direct: number[] = [];
    const bytes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ceil.push(await page.evaluate(() => window.emulatorBench.ceiling()));
      emu.push(await page.evaluate(([c, o]) => window.emulatorBench.emulator(c, o), [CONCURRENCY, STORE_OPTS] as const));
      bytes.push(await page.evaluate(([c, o]) => window.emulatorBench.emulator(c, o, 'bytes'), [CONCURRENCY, STORE_OPTS] as const));
      direct.push(await page.evaluate(([c, o]) => window.emulatorBench.emulator(c, o, 'direct'), [CONCURRENCY, STORE_OPTS] as const));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ceiling = { name: 'raw IndexedDB put, 32 × 512 KiB per transaction, 2 transactions queued', value: mean(ceil) };
    return [
      { group: 'emulator', name: 'raw IndexedDB batched writes', value: ceiling.value, unit: 'MiB/s', note: `${MIB} MiB random, ${ROUNDS} rounds` },
      {
        group: 'emulator',
        name: 'PutSnapshotBlock into IndexedDB store, Uint8Array bodies (as the engine sends them to the in-browser emulator)',
        value: mean(bytes),
        unit: 'MiB/s',
        ceiling,
        aim: '≥ 0.7',
        note: `@aws-sdk/client-ebs, ${CONCURRENCY} in flight, ${MIB} MiB random; per round ${bytes.map((b, k) => (b / ceil[k]!).toFixed(2)).join(', ')}`,
      },
      {
        group: 'emulator',
        name: 'PutSnapshotBlock into IndexedDB store, Blob bodies (as fetch transports send them; the emulator reads each back)',
        value: mean(emu),
        unit: 'MiB/s',
        ceiling,
        note: `Blob bodies made before timing, ${CONCURRENCY} in flight, ${MIB} MiB random`,
      },
      {
        group: 'emulator',
        name: 'model.putSnapshotBlock into IndexedDB store (no SDK)',
        value: mean(direct),
        unit: 'MiB/s',
        ceiling,
        note: `${CONCURRENCY} in flight: shows the SDK's share of the cost`,
      },
    ];
  } finally {
    await browser.close();
    await vite.close();
  }
}
