// The engine in Chromium against `npm run emulator` with 10% injected errors/throttles and 50 ms latency:
// the snapshot completes and reads back byte-identical.
import { test, expect } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { blockDigestsOfFile, writeImageFile } from '../bench/upload-image-file.ts';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';

type EngineWindow = { __engine: typeof import('../src/engine/api.ts') };

let dir: string;
let imagePath: string;
let qcow2Path: string;
let expected: { digests: string[]; zero: boolean[] };
let emu: SpawnedEmulator;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockport-faults-'));
  imagePath = join(dir, 'disk.img');
  await writeImageFile(imagePath, [['random', 24], ['zero', 16], ['text', 16], ['random', 8]], 4097);
  expected = await blockDigestsOfFile(imagePath);
  // The same disk as qcow2: allocated clusters go out as Blob slices of the file, like raw blocks.
  qcow2Path = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', imagePath, qcow2Path]);
  emu = await spawnEmulator(['--error-rate', '0.05', '--throttle-rate', '0.05', '--latency-ms', '50']);
});

// The faults are on for each upload (the read-back of the one before turned them off).
test.beforeEach(async () => {
  expect((await emu.admin('config', { errorRate: 0.05, throttleRate: 0.05, latencyMs: 50 })).ok).toBe(true);
});

test.afterAll(async () => {
  await emu?.stop();
  await rm(dir, { recursive: true, force: true });
});

// npm test runs the qcow2 case (its reads go through the format's tables); `npm run test:long` raw as well.
for (const format of ['raw', 'qcow2'] as const) test(`${format}: 10% injected errors and throttles, 50 ms latency: completed and byte-identical${format === 'raw' ? ' @long' : ''}`, async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/');
  await page.addScriptTag({ type: 'module', url: '/e2e/engine-harness.ts' });
  await page.waitForFunction(() => '__engine' in window, undefined, { timeout: 60_000 });
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'engine-file';
    document.body.append(input);
  });
  await page.setInputFiles('#engine-file', format === 'raw' ? imagePath : qcow2Path);
  const result = await page.evaluate(async (endpoint) => {
    const engine = (window as unknown as EngineWindow).__engine;
    const file = (document.getElementById('engine-file') as HTMLInputElement).files![0]!;
    const run = await engine.startUpload({
      file,
      connection: { kind: 'endpoint', endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
      options: { description: 'faults', workers: 2 },
    });
    const report = await run.done;
    return { report, retried: run.progress().retried };
  }, emu.url);
  expect(result.report.state).toBe('completed');
  // Faults were really injected and survived by retrying.
  expect(result.retried).toBeGreaterThan(0);
  // Every block is written by default, the zero ones too.
  const allBlocks = expected.zero.length;
  expect(result.report.changedBlocksCount).toBe(allBlocks);

  // Read back from Node through the SDK, the faults off: they were for the upload, and the SDK's own backoff through
  // them only costs time.
  const off = await emu.admin('config', { errorRate: 0, throttleRate: 0, latencyMs: 0 });
  expect(off.ok).toBe(true);
  const ebs = new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const got = new Map<number, string>();
  let NextToken: string | undefined;
  do {
    const pageOut = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: result.report.snapshotId, MaxResults: 100, ...(NextToken ? { NextToken } : {}) }));
    for (const b of pageOut.Blocks ?? []) {
      const r = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: result.report.snapshotId, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
      got.set(b.BlockIndex!, createHash('sha256').update(await r.BlockData!.transformToByteArray()).digest('base64'));
    }
    NextToken = pageOut.NextToken ?? undefined;
  } while (NextToken);
  expect(got.size).toBe(allBlocks);
  const mismatched = expected.digests.filter((d, i) => got.get(i) !== d).length;
  expect(mismatched).toBe(0);
});
