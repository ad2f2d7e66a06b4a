// Download figures: the engine against raw GetSnapshotBlock reads, from the in-browser emulator and the loopback server.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EBSClient } from '@aws-sdk/client-ebs';
import type { BenchRow } from './types.ts';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.ts';
import { startVite } from './upload-browser.ts';
import { spawnEmulator } from '../server/spawn-emulator.ts';
import { downloadSnapshot } from '../src/engine/download/download.ts';
import { patternBlock, rawReadMiBps, writeSnapshot } from '../fixtures/snapshots.ts';
import { fileTarget } from '../cli/commands/download.ts';

const MiB = 1048576;
const BS = 524288;
const SCALE = Number(process.env.BLOCKPORT_BENCH_SCALE ?? 1);
// In-browser rounds (medians reported).
const ROUNDS = 3;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const log = (s: string) => console.error(`  · ${s}`);

/** index → block for `mib` MiB of distinct content. */
function blocks(mib: number, seed: number): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 0; i < (mib * MiB) / BS; i++) m.set(i, patternBlock(seed + i));
  return m;
}

async function loopback(rows: BenchRow[]): Promise<void> {
  const g = 'download';
  const mib = Math.max(8, Math.round(256 * SCALE));
  const emu = await spawnEmulator([]);
  const dir = await mkdtemp(join(tmpdir(), 'blockport-bench-dl-'));
  const ebs = new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  try {
    const t0 = performance.now();
    const id = await writeSnapshot(ebs, blocks(mib, 1), { volumeSizeGiB: 1 });
    const up = mib / ((performance.now() - t0) / 1000);
    log(`loopback: wrote ${mib} MiB (${up.toFixed(0)} MiB/s, one put at a time)`);
    await rawReadMiBps(ebs, id, 4); // warm sockets and the server's caches
    // Rounds of raw and engine in turn, medians kept: the machine's load drifts less within a round.
    const raws: number[] = [];
    const engines: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      raws.push(await rawReadMiBps(ebs, id, 16));
      const file = join(dir, `out-${round}.img`);
      const fh = await open(file, 'w');
      const t1 = performance.now();
      const r = await downloadSnapshot({ ebs, snapshotId: id, target: fileTarget(fh), size: mib * MiB, concurrency: 16 });
      engines.push((r.blocksFetched * BS) / MiB / ((performance.now() - t1) / 1000));
      await rm(file, { force: true });
    }
    log(`loopback rounds: raw ${raws.map((x) => x.toFixed(0))} engine ${engines.map((x) => x.toFixed(0))}`);
    const raw = median(raws);
    const eng = median(engines);
    rows.push({ group: g, name: '(h*) raw SDK GetSnapshotBlock from the loopback server, 16 in flight, bodies dropped', value: raw, unit: 'MiB/s' });
    rows.push({
      group: g,
      name: '(h) engine download from the loopback server to a file: list, get, verify SHA-256, write, checkpoint',
      value: eng,
      unit: 'MiB/s',
      ceiling: { name: '(h*) raw reads', value: raw },
      aim: 'h/h* ≥ 0.7',
      note: `${mib} MiB, median of ${ROUNDS} rounds`,
    });
    rows.push({ group: g, name: '(hu) upload of the same data to the loopback server, one PutSnapshotBlock at a time (fixture)', value: up, unit: 'MiB/s', ceiling: { name: '(h) download', value: eng } });
    log(`loopback: raw ${raw.toFixed(0)} MiB/s, engine ${eng.toFixed(0)} MiB/s`);
  } finally {
    ebs.destroy();
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

type Probe = { raw: number; engine: number; picked: number; upload: number; mib: number; fetched: number };

async function inBrowser(rows: BenchRow[]): Promise<void> {
  const g = 'download';
  const mib = Math.max(8, Math.round(128 * SCALE));
  const vite = await startVite();
  // A persistent profile: its storage quota follows the disk (a fresh context's is small, and the picked file is in OPFS here).
  const profile = await mkdtemp(join(tmpdir(), 'blockport-bench-profile-'));
  const browser = await chromium.launchPersistentContext(profile, chromiumLaunchOptions());
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.text().startsWith('rounds:')) log(`browser ${m.text()}`);
    });
    // The app's download flow with OPFS in place of the native picker (as in the e2e specs).
    await page.addInitScript(() => {
      (window as unknown as { showSaveFilePicker: unknown }).showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) =>
        (await navigator.storage.getDirectory()).getFileHandle(`bench-${suggestedName}`, { create: true });
    });
    // tsx keeps function names with a __name() helper that does not exist in the page: provide it.
    await page.addInitScript(() => {
      (globalThis as unknown as { __name: (f: unknown) => unknown }).__name = (f) => f;
    });
    await page.goto(`${vite.url}/#/download`, { timeout: 180_000 });
    const mods = { clients: '/src/aws/clients.ts', fixture: '/fixtures/snapshots.ts', state: '/src/app/download/downloads-state.svelte.ts', ledger: '/src/engine/browser/download-ledger.ts' };
    // The dev server may re-optimize dependencies on first use (hmr is off, so the page is not told): reload and retry.
    await page.evaluate(async (m) => {
      for (const u of Object.values(m)) await import(/* @vite-ignore */ u);
    }, mods).catch(async () => {
      await page.reload({ timeout: 180_000 });
      await page.evaluate(async (m) => {
        for (const u of Object.values(m)) await import(/* @vite-ignore */ u);
      }, mods);
    });
    const r = (await page.evaluate(
      async ([n, m, rounds]) => {
        const { createClients } = await import(/* @vite-ignore */ m.clients);
        const { writeSnapshot, patternBlock, rawReadMiBps } = await import(/* @vite-ignore */ m.fixture);
        const { downloads } = await import(/* @vite-ignore */ m.state);
        const { ebs, close } = await createClients({ kind: 'emulator' });
        const src = new Map<number, Uint8Array>();
        for (let i = 0; i < (n * 1048576) / 524288; i++) src.set(i, patternBlock(7 + i));
        const t0 = performance.now();
        const id: string = await writeSnapshot(ebs, src);
        const upload = n / ((performance.now() - t0) / 1000);
        const fetched = src.size;
        // The engine as the page runs it: a worker, the IndexedDB ledger, OPFS through a sync access handle.
        const { DownloadLedger } = await import(/* @vite-ignore */ m.ledger);
        const ledger = new DownloadLedger();
        // The page's own state says when its worker is done (no IndexedDB read per poll, unlike refresh()).
        const waitDone = async (rec: string): Promise<void> => {
          for (;;) {
            await new Promise((res) => setTimeout(res, 20));
            const row = downloads.rows.find((x: { record: { id: string } }) => x.record.id === rec);
            if (row && !row.live && row.record.state !== 'running') {
              if (row.record.state !== 'completed') throw new Error(`download ${row.record.state}: ${row.record.error}`);
              return;
            }
          }
        };
        // Warm-up: a one-block download loads the worker's modules (the dev server compiles them on first use).
        const { ebs: e2, close: c2 } = await createClients({ kind: 'emulator' });
        const tiny: string = await writeSnapshot(e2, new Map([[0, patternBlock(1)]]));
        c2();
        const w = window as unknown as { showSaveFilePicker?: unknown };
        const picker = w.showSaveFilePicker;
        await waitDone(await downloads.start(tiny, { kind: 'emulator' }));
        // Rounds of raw, (g) and (gp) in turn, medians kept: the machine's load drifts less within a round.
        const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1]!;
        const raws: number[] = [];
        const engines: number[] = [];
        const pickeds: number[] = [];
        for (let round = 0; round < rounds; round++) {
          // Raw reads: GetSnapshotBlock through the same SDK client, 8 in flight, bodies dropped.
          raws.push(await rawReadMiBps(ebs, id, 8));
          // (g): no save picker (Firefox, Safari): straight into OPFS.
          delete w.showSaveFilePicker;
          const t2 = performance.now();
          await waitDone(await downloads.start(id, { kind: 'emulator' }));
          engines.push(n / ((performance.now() - t2) / 1000));
          // (gp): a picked file: staged in OPFS, then written into the picked file in one pass.
          w.showSaveFilePicker = picker;
          const t3 = performance.now();
          await waitDone(await downloads.start(id, { kind: 'emulator' }));
          pickeds.push(n / ((performance.now() - t3) / 1000));
          // The files of this round go: the next round starts from the same free space.
          for (const r of await ledger.list()) {
            if (r.snapshotId === id) {
              await downloads.remove(r.id);
              await (await navigator.storage.getDirectory()).removeEntry(r.fileName).catch(() => undefined);
            }
          }
        }
        close();
        console.log(`rounds: raw ${raws.map((x) => x.toFixed(0))} engine ${engines.map((x) => x.toFixed(0))} picked ${pickeds.map((x) => x.toFixed(0))}`);
        const [raw, engine, picked] = [median(raws), median(engines), median(pickeds)];
        return { raw, engine, picked, upload, mib: n, fetched };
      },
      [mib, mods, ROUNDS] as const,
    )) as Probe;
    rows.push({ group: g, name: '(g*) raw SDK GetSnapshotBlock in the page from the in-browser emulator (IndexedDB), 8 in flight', value: r.raw, unit: 'MiB/s' });
    rows.push({
      group: g,
      name: '(g) engine download from the in-browser emulator to OPFS: worker, verify, sync access handle, ledger',
      value: r.engine,
      unit: 'MiB/s',
      ceiling: { name: '(g*) raw reads', value: r.raw },
      aim: 'g/g* ≥ 0.7',
      note: `${r.mib} MiB, ${r.fetched} blocks, timed from the click; median of ${ROUNDS} rounds`,
    });
    rows.push({
      group: g,
      name: '(gp) engine download from the in-browser emulator into a picked file: staged in OPFS, then written in one pass',
      value: r.picked,
      unit: 'MiB/s',
      ceiling: { name: '(g*) raw reads', value: r.raw },
      note: `${r.mib} MiB, timed from the click to the committed file; median of ${ROUNDS} rounds`,
    });
    rows.push({ group: g, name: '(gu) upload of the same data into the in-browser emulator, one put at a time (fixture)', value: r.upload, unit: 'MiB/s', ceiling: { name: '(g) download', value: r.engine } });
    log(`browser: raw ${r.raw.toFixed(0)} MiB/s, engine ${r.engine.toFixed(0)} MiB/s, picked ${r.picked.toFixed(0)} MiB/s`);
  } finally {
    await browser.close();
    await vite.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Download throughput rows (see bench/results). */
export default async function downloadBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  await loopback(rows);
  await inBrowser(rows);
  return rows;
}
