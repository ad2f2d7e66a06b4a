import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FORMAT_FIXTURES, cached, fixture, fixtureOracle, qemu, sourceRaw } from '../src/images/testing/test-fixtures.ts';

// 16 MiB-virtual fixtures keep the browser run short; the Node suite covers the 64 MiB ones.
const SOURCE_MIB = 16;

const BLOCK = 524288;

interface WorkerResult {
  ok: boolean;
  format?: string;
  subformat?: string;
  virtualSize?: number;
  notices?: string[];
  states?: number[];
  hashes?: string[];
  name?: string;
  isImageFormatError?: boolean;
  code?: string;
  message?: string;
}

/** Hands the file to a module worker (real File from an <input>) that reads every block through openImage. */
async function readInWorker(page: Page, path: string): Promise<WorkerResult> {
  const t0 = Date.now();
  await page.setInputFiles("#fixture", path);
  if (process.env.E2E_TIMING) console.log("setInputFiles ms", Date.now() - t0);
  return page.evaluate(
    () =>
      new Promise<WorkerResult>((resolve, reject) => {
        const file = (document.getElementById('fixture') as HTMLInputElement).files![0]!;
        const w = new Worker('/e2e/pages/images-worker.ts', { type: 'module' });
        w.onmessage = (e) => {
          w.terminate();
          resolve(e.data as WorkerResult);
        };
        w.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
        w.postMessage({ file });
      }),
  );
}

function oracleHashes(raw: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i * BLOCK < raw.length; i++) {
    const block = Buffer.alloc(BLOCK);
    raw.copy(block, 0, i * BLOCK, Math.min(raw.length, (i + 1) * BLOCK));
    out.push(createHash('sha256').update(block).digest('hex'));
  }
  return out;
}

test.describe('disk image readers in a Chromium worker', () => {
  // One page per test worker (set up again after a failure): each test hands a new File to a new module worker.
  let page: Page;
  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await page.goto('/e2e/pages/images.html');
  });
  test.afterAll(async () => {
    await page.close();
  });

  for (const spec of FORMAT_FIXTURES) {
    test(`${spec.name} reads block for block as qemu-img converts it`, async () => {
      const src = sourceRaw(SOURCE_MIB);
      const path = fixture(spec.name, src);
      const oracle = readFileSync(fixtureOracle(spec.name, src));
      const want = oracleHashes(oracle);
      const got = await readInWorker(page, path);
      expect(got.ok, got.message).toBe(true);
      expect(got.format).toBe(spec.format);
      if (spec.subformat) expect(got.subformat).toBe(spec.subformat);
      expect(got.virtualSize).toBe(oracle.length);
      expect(got.hashes).toEqual(want);
      const zero = createHash('sha256').update(Buffer.alloc(BLOCK)).digest('hex');
      got.states!.forEach((s, i) => {
        if (s !== 2) expect(want[i], `block ${i} is marked empty but holds data`).toBe(zero);
      });
      if (spec.name === 'snapshot.qcow2') expect(got.notices!.join(' ')).toMatch(/internal snapshot.*only the current state/);
    });
  }

  test('a refused file crosses the worker boundary as ImageFormatError with its sentence', async () => {
    const path = cached('refuse-e2e-backing.qcow2', (p) => {
      qemu('qemu-img', ['create', '-f', 'qcow2', `${p}.base`, '16M']);
      qemu('qemu-img', ['create', '-f', 'qcow2', '-b', `${p}.base`, '-F', 'qcow2', p]);
    });
    const got = await readInWorker(page, path);
    expect(got.ok).toBe(false);
    expect(got.isImageFormatError).toBe(true);
    expect(got.name).toBe('ImageFormatError');
    expect(got.code).toBe('backing-file');
    expect(got.message).toMatch(/has a backing file.*qemu-img convert/);
  });
});
