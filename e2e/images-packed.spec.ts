import { test, expect, type Page } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { FORMAT_FIXTURES, cached, fixtureOracle, manifestOfRaw, sourceRaw } from '../src/images/testing/test-fixtures.ts';
import { PACKED_FIXTURES, packedFixture } from '../src/images/testing/container-fixtures.ts';

// One fixture per container and decoder, and the nestings people download, in a real Chromium worker with OPFS.
const CASES = ['plain.raw.gz-members', 'plain.raw.xz', 'plain.raw.zst-frames', 'plain.raw.bz2', 'plain.raw.tar-pax', 'plain.raw.zip64', 'v3.qcow2.xz', 'stream.vmdk.zip-deflate', 'plain.raw.tar-gnu.gz', 'v3.qcow2.zip-stored.bz2'];

interface Result {
  ok: boolean;
  manifest?: unknown;
  container?: string[];
  unpacked?: number;
  opened?: number;
  isImageFormatError?: boolean;
  code?: string;
  message?: string;
}

async function inspectInWorker(page: Page, path: string, streamed = false): Promise<Result> {
  await page.setInputFiles('#fixture', path);
  return page.evaluate(
    (streamed) =>
      new Promise<Result>((resolve, reject) => {
        const file = (document.getElementById('fixture') as HTMLInputElement).files![0]!;
        const w = new Worker('/e2e/pages/packed-worker.ts', { type: 'module' });
        w.onmessage = (e) => {
          w.terminate();
          resolve(e.data as Result);
        };
        w.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
        w.postMessage({ file, streamed });
      }),
    streamed,
  );
}

test.describe('packed disk images in a Chromium worker', () => {
  let page: Page;
  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await page.goto('/e2e/pages/images.html');
  });
  test.afterAll(async () => {
    await page.close();
  });

  for (const name of CASES) {
    test(`${name} gives the unpacked image's manifest`, async () => {
      const p = PACKED_FIXTURES.find((f) => f.name === name)!;
      const spec = FORMAT_FIXTURES.find((f) => f.name === p.inner)!;
      const got = await inspectInWorker(page, packedFixture(p));
      expect(got.ok, got.message).toBe(true);
      expect(got.container).toEqual(p.container);
      expect(got.manifest).toEqual(manifestOfRaw(readFileSync(fixtureOracle(p.inner, sourceRaw(16))), spec.format));
      // Nothing is left in OPFS once the worker is done.
      const left = await page.evaluate(async () => {
        const names: string[] = [];
        for await (const n of ((await navigator.storage.getDirectory()) as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
        return names.filter((n) => n.startsWith('unpack-'));
      });
      expect(left).toEqual([]);
    });
  }

  // Read the way an upload worker reads them: out of the decompressor, front to back, once.
  for (const name of ['stream.vmdk.xz', 'stream.vmdk.gz', 'plain.raw.zst-frames']) {
    test(`${name} streamed out of its decompressor gives the unpacked image's manifest`, async () => {
      const p = PACKED_FIXTURES.find((f) => f.name === name)!;
      const spec = FORMAT_FIXTURES.find((f) => f.name === p.inner)!;
      const got = await inspectInWorker(page, packedFixture(p), true);
      expect(got.ok, got.message).toBe(true);
      expect(got.container).toEqual(p.container);
      expect(got.opened).toBe(1);
      expect(got.manifest).toEqual(manifestOfRaw(readFileSync(fixtureOracle(p.inner, sourceRaw(16))), spec.format));
    });
  }

  test('a cut xz stream is refused with a sentence', async () => {
    const path = cached('e2e-cut.raw.xz', (out) => {
      const b = readFileSync(packedFixture(PACKED_FIXTURES.find((f) => f.name === 'plain.raw.xz')!));
      writeFileSync(out, b.subarray(0, b.length >> 1));
    });
    const got = await inspectInWorker(page, path);
    expect(got.ok).toBe(false);
    expect(got.isImageFormatError).toBe(true);
    expect(got.code).toBe('truncated');
    expect(got.message).toMatch(/This xz file is truncated .*pick the complete file/);
  });
});
