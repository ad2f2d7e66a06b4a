// Upload engine figures from one run in headless Chromium: read ceiling, dry run, uploads, Node's SHA-256, peak memory.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { BenchRow } from './types.ts';
import { writeImageFile } from './upload-image-file.ts';
import { benchPage, launchChromium, sampleRss, startPreview } from './upload-browser.ts';
import { spawnEmulator } from '../server/spawn-emulator.ts';

const MiB = 1048576;
type Harness = {
  __bench: {
    readCeiling(workers?: number, sliceBytes?: number, mode?: 'read' | 'read-stream-each' | 'read-new'): Promise<{ bytes: number; ms: number }>;
    readRun(mode: 'read' | 'scan' | 'hash', workers?: number, sliceBytes?: number): Promise<{ bytes: number; ms: number }>;
    engineRun(connection: unknown, options?: unknown): Promise<{ ms: number; bytes: number; state: string; written: number; skipped: number; snapshotId: string }>;
    hashRun(hash: 'webcrypto' | 'wasm', workers?: number): Promise<{ bytes: number; ms: number; kind: string }>;
    rawPuts(connection: unknown, blocks: number, concurrency: number, blobBodies?: boolean, fromImage?: boolean): Promise<{ bytes: number; ms: number }>;
  };
};

const log = (s: string) => console.error(`  · ${s}`);
// BLOCKPORT_BENCH_SCALE=0.1 shrinks every image for a quick check of the plumbing.
const SCALE = Number(process.env.BLOCKPORT_BENCH_SCALE ?? 1);
const sz = (mib: number) => Math.max(1, Math.round(mib * SCALE));

async function nodeSha256(path: string): Promise<number> {
  const fh = await open(path, 'r');
  const buf = Buffer.alloc(16 * MiB);
  let total = 0;
  const t0 = performance.now();
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (!bytesRead) break;
      for (let o = 0; o < bytesRead; o += 524288) createHash('sha256').update(buf.subarray(o, Math.min(bytesRead, o + 524288))).digest();
      total += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return total / MiB / ((performance.now() - t0) / 1000);
}

function endpoint(url: string) {
  return { kind: 'endpoint', endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
}

async function upload(page: Page, connection: unknown, options: unknown = {}) {
  const r = await page.evaluate(([c, o]) => (window as unknown as Harness).__bench.engineRun(c, o), [connection, options] as const);
  if (r.state !== 'completed') throw new Error(`upload ended ${r.state}`);
  return r;
}

export default async function uploadBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'blockport-bench-upload-'));
  const vite = await startPreview(join(dir, 'dist'));
  let { browser } = await launchChromium();
  const servers: { stop: () => Promise<unknown> }[] = [];
  try {
    // The main image: 2 GiB with random, compressible and zero regions (zero regions stay sparse holes).
    const main = join(dir, 'main.img');
    // Mostly empty, like real disks: 512 MiB of data in 2 GiB keeps the upload rows to minutes on a busy 2-core box.
    const regions: [('random' | 'text' | 'zero'), number][] = [['random', sz(192)], ['zero', sz(512)], ['text', sz(128)], ['random', sz(64)], ['zero', sz(1024)], ['text', sz(64)], ['random', sz(64)]];
    const GiB2 = await writeImageFile(main, regions);
    const dataMiB = regions.filter(([k]) => k !== 'zero').reduce((n, [, m]) => n + m, 0);
    log(`image ${GiB2 / MiB} MiB (${dataMiB} MiB data) in ${dir}`);
    const g = 'upload';
    const fileMiB = GiB2 / MiB;

    const { page, close } = await benchPage(browser, vite.url, main);
    const h = (fn: (b: Harness['__bench']) => Promise<unknown>) => page.evaluate(fn as never);
    void h;
    // (a) read ceiling: one worker, 16 MiB slices, discarding. (a) and (b) alternate five times and each row is the
    // median: on a shared machine the load swings within a minute, and a single pair compares two different moments.
    await page.evaluate(() => (window as unknown as Harness).__bench.readCeiling(1, 4 * 1048576)); // warm the file cache
    const aRuns: number[] = [];
    const bRuns: number[] = [];
    for (let k = 0; k < 5; k++) {
      const a = await page.evaluate(() => (window as unknown as Harness).__bench.readCeiling(1));
      aRuns.push(a.bytes / MiB / (a.ms / 1000));
      // (b) dry run through the engine: read + zero-detect + hash (WebCrypto), worker pool.
      const b = await page.evaluate(() => (window as unknown as Harness).__bench.engineRun(null, {}));
      bRuns.push(fileMiB / (b.ms / 1000));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const aMiBps = median(aRuns);
    const bMiBps = median(bRuns);
    rows.push({ group: g, name: '(a) read ceiling: 1 worker, 16 MiB slices into one reused buffer, one stream across the slices (BYOB reads)', value: aMiBps, unit: 'MiB/s', note: `median of ${aRuns.map((x) => x.toFixed(0)).join(', ')}` });
    log(`a ${aRuns.map((x) => x.toFixed(0)).join(' ')} MiB/s`);
    // A stream per slice, as the engine read until 2026-12-02: opening it costs more than reading 16 MiB through it.
    const aEach = await page.evaluate(() => (window as unknown as Harness).__bench.readCeiling(1, 16 * 1048576, 'read-stream-each'));
    rows.push({ group: g, name: "(a'') read: 1 worker, 16 MiB slices into one reused buffer, a stream per slice", value: aEach.bytes / MiB / (aEach.ms / 1000), unit: 'MiB/s', ceiling: { name: '(a)', value: aMiBps } });
    // The same reads with a new ArrayBuffer per slice (Blob.arrayBuffer()), as the engine read before buffer reuse.
    const aNew = await page.evaluate(() => (window as unknown as Harness).__bench.readCeiling(1, 16 * 1048576, 'read-new'));
    rows.push({ group: g, name: "(a') read: 1 worker, 16 MiB slices, a new ArrayBuffer each (Blob.arrayBuffer())", value: aNew.bytes / MiB / (aNew.ms / 1000), unit: 'MiB/s', ceiling: { name: '(a)', value: aMiBps } });
    rows.push({ group: g, name: '(b) dry run: read + zero-detect + hash, engine pool (2 workers, 4 MiB slices)', value: bMiBps, unit: 'MiB/s of image', ceiling: { name: '(a) read', value: aMiBps }, aim: 'b/a ≥ 0.9', note: `median of ${bRuns.map((x) => x.toFixed(0)).join(', ')}; pairwise b/a ${bRuns.map((x, k) => (x / aRuns[k]!).toFixed(2)).join(', ')}` });
    log(`b ${bRuns.map((x) => x.toFixed(0)).join(' ')} MiB/s`);
    // Two workers reading (a2), and the dry run's pieces on their own in two workers reading 4 MiB slices of 128 MiB
    // runs, as the engine does: the read, the read with the zero scan, and with the hash as well. Three alternating
    // rounds, medians.
    const pieces = { a2: [] as number[], read: [] as number[], scan: [] as number[], hash: [] as number[] };
    for (let k = 0; k < 3; k++) {
      const a2 = await page.evaluate(() => (window as unknown as Harness).__bench.readCeiling(2));
      pieces.a2.push(a2.bytes / MiB / (a2.ms / 1000));
      for (const mode of ['read', 'scan', 'hash'] as const) {
        const r = await page.evaluate((m) => (window as unknown as Harness).__bench.readRun(m, 2, 4 * 1048576), mode);
        pieces[mode].push(r.bytes / MiB / (r.ms / 1000));
      }
    }
    const a2MiBps = median(pieces.a2);
    const runs = (xs: number[]) => `median of ${xs.map((x) => x.toFixed(0)).join(', ')}`;
    rows.push({ group: g, name: '(a2) read: 2 workers, 16 MiB slices of 128 MiB runs', value: a2MiBps, unit: 'MiB/s', ceiling: { name: '(a)', value: aMiBps }, note: runs(pieces.a2) });
    for (const [mode, what] of [['read', 'read'], ['scan', 'read + zero scan'], ['hash', 'read + zero scan + hash']] as const) {
      rows.push({ group: g, name: `(b-${mode}) ${what}: 2 workers, 4 MiB slices of 128 MiB runs`, value: median(pieces[mode]), unit: 'MiB/s of image', ceiling: { name: '(a2) 2 workers reading', value: a2MiBps }, note: runs(pieces[mode]) });
    }
    for (const hash of ['webcrypto', 'wasm'] as const) {
      const r = await page.evaluate((hh) => (window as unknown as Harness).__bench.hashRun(hh, 2), hash);
      rows.push({ group: g, name: `(b') read + zero-detect + hash, 2 workers, 16 MiB slices of 128 MiB runs, ${r.kind}`, value: r.bytes / MiB / (r.ms / 1000), unit: 'MiB/s of image', ceiling: { name: '(a) read', value: aMiBps } });
    }

    // (e) Node's OpenSSL SHA-256 over the same file, 512 KiB blocks, one thread.
    const e = await nodeSha256(main);
    rows.push({ group: g, name: '(e) Node OpenSSL SHA-256 of every block, 1 thread', value: e, unit: 'MiB/s' });
    log(`e ${e.toFixed(0)} MiB/s`);

    // Transport ceilings: pre-hashed PutSnapshotBlock straight from the page (no file, no engine), same sink.
    const rawBlocks = Math.max(64, Math.round(256 * SCALE));
    const rawPuts = async (conn: { kind: string; [k: string]: unknown }, concurrency: number, fromImage = false) => {
      const r = await page.evaluate(
        ([cn, n, cc, fi]) => (window as unknown as Harness).__bench.rawPuts(cn, n, cc, cn.kind !== 'emulator', fi),
        [conn, rawBlocks, concurrency, fromImage] as const,
      );
      return r.bytes / MiB / (r.ms / 1000);
    };

    // (c) upload into the in-browser emulator (IndexedDB), against raw puts of the image's own data blocks (Chromium's
    // IndexedDB compresses what it stores, so made-up blocks would be a ceiling for other bytes). Three alternating
    // rounds, medians: the load of this machine drifts within a minute.
    const cRaws: number[] = [];
    const cs: { mibps: number; written: number }[] = [];
    for (let k = 0; k < 3; k++) {
      log('c* raw puts into the in-browser emulator');
      cRaws.push(await rawPuts({ kind: 'emulator', dbName: `bench-raw-${Date.now()}` }, 8, true));
      log(`c* ${cRaws.at(-1)!.toFixed(1)} MiB/s; c upload into the in-browser emulator`);
      const c = await upload(page, { kind: 'emulator', dbName: `bench-${Date.now()}` });
      cs.push({ mibps: c.bytes / MiB / (c.ms / 1000), written: c.written });
      log(`c ${cs.at(-1)!.mibps.toFixed(1)} MiB/s`);
    }
    const cRaw = median(cRaws);
    const cMiBps = median(cs.map((x) => x.mibps));
    rows.push({ group: g, name: `(c*) raw SDK puts from the page into the in-browser emulator, 8 in flight, ${rawBlocks} of the image's data blocks evenly spaced, bodies as the engine sends them (bytes)`, value: cRaw, unit: 'MiB/s', note: runs(cRaws) });
    rows.push({ group: g, name: '(c) upload into the in-browser emulator (IndexedDB)', value: cMiBps, unit: 'MiB/s of data', ceiling: { name: '(c*) raw puts', value: cRaw }, aim: 'c/c* ≥ 0.7', note: `${cs[0]!.written} blocks; ${runs(cs.map((x) => x.mibps))}; pairwise c/c* ${cs.map((x, k) => (x.mibps / cRaws[k]!).toFixed(2)).join(', ')}` });

    // (d) upload to the loopback emulator server over HTTP/2 (TLS), 0 ms and 50 ms added latency.
    let d0 = 0;
    for (const latency of [0, 50]) {
      const emu = await spawnEmulator(['--tls', '--latency-ms', String(latency)]);
      servers.push(emu);
      if (latency === 0) {
        const dRaw = await rawPuts(endpoint(emu.url), 32);
        rows.push({ group: g, name: '(d*) raw SDK puts from the page to the emulator server, HTTP/2 + TLS, 32 in flight', value: dRaw, unit: 'MiB/s' });
        log(`d* ${dRaw.toFixed(1)} MiB/s`);
      }
      const r = await upload(page, endpoint(emu.url), { concurrency: 32 });
      const v = r.bytes / MiB / (r.ms / 1000);
      if (latency === 0) d0 = v;
      rows.push({
        group: g,
        name: `(d${latency}) upload to the emulator server, HTTP/2 + TLS, ${latency} ms added latency`,
        value: v,
        unit: 'MiB/s of data',
        ...(latency ? { ceiling: { name: '(d0)', value: d0 }, aim: 'd50/d0 ≥ 0.8' } : { ceiling: { name: '(d*) raw puts', value: rows.at(-1)!.value } }),
      });
      log(`d${latency} ${v.toFixed(1)} MiB/s`);
      await emu.stop();
    }
    await close();
    await browser.close();

    // (f) peak memory of the browser process tree while uploading a 1 GiB and a 4 GiB image to the server, in a fresh
    // browser: what the rows above left behind in the browser process is not the upload's.
    const fresh = await launchChromium();
    browser = fresh.browser;
    const marker = fresh.marker;
    let f1 = 0;
    let f1pss = 0;
    let f1own = 0;
    let f1q = 0;
    for (const gib of [1, 4]) {
      const path = join(dir, `f${gib}.img`);
      await rm(main, { force: true });
      // An eighth of each image is data, the rest zero: the window, not the image, must bound memory.
      await writeImageFile(path, [['random', sz(gib * 64)], ['zero', sz(gib * 448)], ['text', sz(gib * 64)], ['zero', sz(gib * 448)]]);
      const emu = await spawnEmulator(['--tls']);
      servers.push(emu);
      const p2 = await benchPage(browser, vite.url, path);
      const rss = sampleRss(marker);
      const idle = rss.now();
      const r = await upload(p2.page, endpoint(emu.url), { concurrency: 32 });
      const peak = rss.stop();
      await p2.close();
      // The same disk as qcow2: its allocated clusters go out as Blob slices of the file too.
      const qpath = join(dir, `f${gib}.qcow2`);
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', path, qpath]);
      await rm(path, { force: true });
      const p3 = await benchPage(browser, vite.url, qpath);
      const rssQ = sampleRss(marker);
      const idleQ = rssQ.now();
      await upload(p3.page, endpoint(emu.url), { concurrency: 32 });
      const peakQ = rssQ.stop();
      await p3.close();
      await rm(qpath, { force: true });
      await emu.stop();
      const pssQ = peakQ.pss / MiB;
      if (gib === 1) f1q = pssQ;
      const peakMiB = peak.rss / MiB;
      const pssMiB = peak.pss / MiB;
      if (gib === 1) [f1, f1pss] = [peakMiB, pssMiB];
      const note = `idle ${Math.round(idle.rss / MiB)} MiB, ${(r.bytes / MiB / (r.ms / 1000)).toFixed(0)} MiB/s`;
      rows.push({ group: g, name: `(f${gib}) peak RSS sum of the browser processes, ${gib} GiB image upload`, value: peakMiB, unit: 'MiB', ...(gib === 4 ? { ceiling: { name: '(f1)', value: f1 }, aim: 'f4/f1 ≤ 1.25' } : {}), note });
      rows.push({ group: g, name: `(f${gib}pss) peak PSS sum (shared pages counted once), ${gib} GiB image`, value: pssMiB, unit: 'MiB', ...(gib === 4 ? { ceiling: { name: '(f1pss)', value: f1pss }, aim: 'f4/f1 ≤ 1.25, < 512 MiB' } : {}), note: `idle ${Math.round(idle.pss / MiB)} MiB` });
      // The upload's own share: the peak above what the same browser held with the page open and idle.
      const own = pssMiB - idle.pss / MiB;
      if (gib === 1) f1own = own;
      rows.push({ group: g, name: `(f${gib}own) the upload's own memory: peak PSS minus idle PSS, ${gib} GiB image`, value: own, unit: 'MiB', ...(gib === 4 ? { ceiling: { name: '(f1own)', value: f1own } } : {}) });
      rows.push({ group: g, name: `(f${gib}q) peak PSS sum, the same ${gib} GiB disk as qcow2`, value: pssQ, unit: 'MiB', ...(gib === 4 ? { ceiling: { name: '(f1q)', value: f1q }, aim: 'f4/f1 ≤ 1.25' } : {}), note: `idle ${Math.round(idleQ.pss / MiB)} MiB` });
      log(`f${gib} rss ${peakMiB.toFixed(0)} MiB pss ${pssMiB.toFixed(0)} MiB, qcow2 pss ${pssQ.toFixed(0)} MiB`);
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await browser.close();
    await vite.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
