// Pacing figures from one run: Blockport's CLI against a 64-way fixed pool (bench/pace-peer.ts, built as coldsnap
// is) at 0 ms and 1000 ms on a 1 GiB image, and link utilization on a shaped link in Node and in Chromium (--tls).
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchRow } from './types.ts';
import { writeImageFile } from './upload-image-file.ts';
import { benchPage, launchChromium, startPreview } from './upload-browser.ts';
import { spawnEmulator } from '../server/spawn-emulator.ts';

const run = promisify(execFile);
const MiB = 1048576;
const log = (s: string) => console.error(`  · ${s}`);
const SCALE = Number(process.env.BLOCKPORT_BENCH_SCALE ?? 1);
const sz = (mib: number) => Math.max(1, Math.round(mib * SCALE));
/** The shaped link: "a laptop on 200 Mbit/s, 80 ms from the region". */
const LINK = { mibps: 24, latencyMs: 80, jitterMs: 20 };
/** Peer/blockport pairs per latency. */
const ROUNDS = Number(process.env.BLOCKPORT_PACE_ROUNDS ?? 3);
const env = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };

/** Empty blocks skipped on both sides: the CLI's flag where it has one (writing them becomes its default). */
async function zeroSkipFlags(): Promise<string[]> {
  const src = await readFile(join(process.cwd(), 'cli', 'commands', 'upload.ts'), 'utf8');
  return src.includes("'--zero-blocks'") ? ['--zero-blocks', 'skip'] : [];
}

async function blockport(image: string, url: string, state: string): Promise<{ ms: number; written: number; avgMiBps: number }> {
  const t0 = performance.now();
  const { stdout } = await run(
    process.execPath,
    ['cli/blockport.mjs', 'upload', image, '--endpoint', url, '--json', '--no-progress', '--restart', '--state', state, ...(await zeroSkipFlags())],
    { env, maxBuffer: 16 * MiB },
  );
  const ms = performance.now() - t0;
  const r = JSON.parse(stdout) as { State: string; BlocksWritten: number; AverageMiBps: number };
  if (r.State !== 'completed') throw new Error(`blockport upload ended ${r.State}`);
  return { ms, written: r.BlocksWritten, avgMiBps: r.AverageMiBps };
}

async function peer(image: string, url: string): Promise<{ ms: number; written: number }> {
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/pace-peer.ts', image, url, '64'], { env, maxBuffer: 16 * MiB });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { written: number };
  return { ms: performance.now() - t0, written: r.written };
}

export default async function paceBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const g = 'pace';
  const dir = await mkdtemp(join(tmpdir(), 'blockport-bench-pace-'));
  try {
    // 1 GiB with 768 MiB of data: random, compressible and empty regions.
    const image = join(dir, 'pace.img');
    await writeImageFile(image, [['random', sz(384)], ['zero', sz(256)], ['text', sz(256)], ['random', sz(128)]]);
    const state = join(dir, 'state.json');
    const own: Record<number, number> = {};
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    for (const latency of [0, 1000]) {
      // Completion is immediate so both sides are timed to `completed` without the emulator's delay.
      const emu = await spawnEmulator(['--latency-ms', String(latency), '--completion-delay-ms', '0']);
      try {
        // Alternating pairs, medians: on a shared machine the load swings within a minute.
        const peers: number[] = [];
        const ours: number[] = [];
        let written = 0;
        // Every upload starts on an empty emulator (its memory store would otherwise hold 768 MiB more for each
        // upload before it, and its garbage collector slow whichever side runs later), and the side that goes first
        // alternates.
        const fresh = async () => {
          const r = await emu.admin('reset', {});
          if (!r.ok) throw new Error(`emulator reset: ${r.status} ${await r.text()}`);
        };
        for (let k = 0; k < ROUNDS; k++) {
          let p: Awaited<ReturnType<typeof peer>>;
          let b: Awaited<ReturnType<typeof blockport>>;
          if (k % 2 === 0) {
            await fresh();
            p = await peer(image, emu.url);
            await fresh();
            b = await blockport(image, emu.url, state);
          } else {
            await fresh();
            b = await blockport(image, emu.url, state);
            await fresh();
            p = await peer(image, emu.url);
          }
          log(`${latency} ms: peer ${(p.ms / 1000).toFixed(1)} s (${p.written} blocks), blockport ${(b.ms / 1000).toFixed(1)} s (${b.written} blocks)`);
          if (b.written !== p.written) log(`blocks differ: blockport ${b.written}, peer ${p.written}`);
          peers.push(p.ms);
          ours.push(b.ms);
          written = b.written;
        }
        own[latency] = median(ours);
        rows.push({
          group: g,
          name: `(p${latency}) blockport upload, 1 GiB image (${written} data blocks, empty ones skipped), ${latency} ms added latency: speed against a 64-way fixed pool`,
          value: median(peers) / median(ours),
          unit: '×',
          ceiling: { name: 'peer (same run) = 1', value: 1 },
          aim: latency ? '≥ 2.0' : '≥ 1.0',
          note: `medians of ${ROUNDS}: blockport ${(median(ours) / 1000).toFixed(1)} s, peer ${(median(peers) / 1000).toFixed(1)} s; pairwise ${peers.map((x, k) => (x / ours[k]!).toFixed(2)).join(', ')}`,
        });
      } finally {
        await emu.stop();
      }
    }
    rows.push({
      group: g,
      name: '(p1000/p0) blockport’s own time at 1000 ms over its time at 0 ms (latency hidden)',
      value: own[1000]! / own[0]!,
      unit: '×',
      aim: '≤ 1.3',
    });

    // Link utilization: data bytes / upload time / bandwidth, on one shaped link.
    const linkImage = join(dir, 'link.img');
    await writeImageFile(linkImage, [['random', sz(192)], ['zero', sz(128)], ['text', sz(64)]]);
    const linkFlags = ['--bandwidth', String(LINK.mibps), '--latency-ms', String(LINK.latencyMs), '--latency-jitter-ms', String(LINK.jitterMs), '--completion-delay-ms', '0'];
    const linkName = `${LINK.mibps} MiB/s, ${LINK.latencyMs} ± ${LINK.jitterMs} ms`;
    // Each shaped run follows the same upload over an unshaped loopback link: what this machine does at the moment,
    // so a busy machine is not mistaken for a pacing that leaves the link idle.
    {
      const free = await spawnEmulator(['--completion-delay-ms', '0']);
      let unshaped = 0;
      try {
        unshaped = (await blockport(linkImage, free.url, state)).avgMiBps;
      } finally {
        await free.stop();
      }
      const emu = await spawnEmulator(linkFlags);
      try {
        const b = await blockport(linkImage, emu.url, state);
        log(`link node: ${b.avgMiBps.toFixed(1)} MiB/s (unshaped ${unshaped.toFixed(1)})`);
        rows.push({ group: g, name: `(u-node) link utilization, blockport CLI, ${linkName}`, value: b.avgMiBps, unit: 'MiB/s of data', ceiling: { name: 'link', value: LINK.mibps }, aim: '≥ 0.9', note: `${b.written} blocks; the same upload unshaped: ${unshaped.toFixed(1)} MiB/s` });
      } finally {
        await emu.stop();
      }
    }
    {
      const vite = await startPreview(join(dir, 'dist'));
      const { browser } = await launchChromium();
      type H = { __bench: { engineRun(c: unknown, o?: unknown): Promise<{ avgMiBps: number; ms: number; bytes: number; state: string; written: number; window: { max: number; meanInFlight: number } }> } };
      const upload = async (flags: string[]) => {
        const emu = await spawnEmulator(['--tls', ...flags]);
        try {
          const { page, close } = await benchPage(browser, vite.url, linkImage);
          const connection = { kind: 'endpoint', endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
          const r = await page.evaluate((c) => (window as unknown as H).__bench.engineRun(c, {}), connection);
          await close();
          if (r.state !== 'completed') throw new Error(`browser upload ended ${r.state}`);
          // The upload's own report, as the CLI's above: its data bytes over the session (StartSnapshot to the completion
          // verdict). `page` adds the page's start of the upload (workers, the job record) before it.
          return { v: r.avgMiBps, page: r.bytes / MiB / (r.ms / 1000), written: r.written, window: r.window };
        } finally {
          await emu.stop();
        }
      };
      try {
        const unshaped = await upload(['--completion-delay-ms', '0']);
        const r = await upload(linkFlags);
        log(`link chromium: ${r.v.toFixed(1)} MiB/s (unshaped ${unshaped.v.toFixed(1)})`);
        rows.push({ group: g, name: `(u-chromium) link utilization, engine in Chromium over HTTP/2 (--tls), ${linkName}`, value: r.v, unit: 'MiB/s of data', ceiling: { name: 'link', value: LINK.mibps }, aim: '≥ 0.9', note: `${r.written} blocks, window up to ${r.window.max}, ${r.window.meanInFlight.toFixed(1)} in flight on average; ${r.page.toFixed(1)} MiB/s timed from the page's start; the same upload unshaped: ${unshaped.v.toFixed(1)} MiB/s` });
      } finally {
        await browser.close();
        await vite.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
