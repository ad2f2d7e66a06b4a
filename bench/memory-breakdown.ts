// Where an upload's memory goes: per-process PSS of the browser at the peak of an upload to the loopback emulator
// server (HTTP/2 + TLS), and the V8 and Blink heaps of the page and each upload worker at that moment (CDP
// Runtime.getHeapUsage). A diagnostic for the (f) rows of bench/upload.bench.ts, not a benchmark: it prints, and
// asserts nothing. Usage: npm run bench:memory -- [GiB=4] ['{"concurrency":32}' upload options] [xz|gz: the image
// packed so, streamed out of its decompressor]
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CDPSession } from '@playwright/test';
import { writeImageFile } from './upload-image-file.ts';
import { benchPage, launchChromium, processKind, procTree, pssOf, startPreview } from './upload-browser.ts';
import { spawnEmulator } from '../server/spawn-emulator.ts';

const MiB = 1048576;
const mib = (n: number) => (n / MiB).toFixed(0).padStart(5);

type Snapshot = { total: number; byPid: Map<number, number> };
function snapshot(marker: string): Snapshot {
  const byPid = new Map(procTree(marker).map((pid) => [pid, pssOf(pid)] as const));
  return { total: [...byPid.values()].reduce((a, b) => a + b, 0), byPid };
}

/** Runtime.getHeapUsage of one target, through the browser's CDP session; null if it ended or did not answer. */
async function heapOf(cdp: CDPSession, targetId: string): Promise<Record<string, number> | null> {
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: false })) as { sessionId: string };
  const answer = new Promise<Record<string, number> | null>((resolve) => {
    const onMessage = (e: { sessionId: string; message: string }) => {
      const m = JSON.parse(e.message) as { id?: number; result?: Record<string, number> };
      // The target may send events first: only the answer to our request counts.
      if (e.sessionId !== sessionId || m.id !== 1) return;
      cdp.off('Target.receivedMessageFromTarget', onMessage);
      resolve(m.result ?? null);
    };
    cdp.on('Target.receivedMessageFromTarget', onMessage);
    setTimeout(() => resolve(null), 3000);
  });
  await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.getHeapUsage' }) });
  const r = await answer;
  await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => undefined);
  return r;
}

/** The V8 and Blink heaps of every page and worker, a line each. */
async function heaps(cdp: CDPSession): Promise<string[]> {
  const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; title: string; url: string }[] };
  const out: string[] = [];
  for (const t of targetInfos.filter((x) => x.type === 'worker' || x.type === 'page')) {
    const r = await Promise.race([heapOf(cdp, t.targetId).catch(() => null), new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
    if (!r) continue;
    out.push(
      `${`${t.type} ${t.title || t.url}`.slice(0, 44).padEnd(44)} V8 used ${mib(r.usedSize ?? 0)}, committed ${mib(r.totalSize ?? 0)}, ArrayBuffers ${mib(r.backingStorageSize ?? 0)}, Blink (cppgc) used ${mib(r.embedderHeapUsedSize ?? 0)} MiB`,
    );
  }
  return out;
}

const gib = Number(process.argv[2] ?? 4);
const options = JSON.parse(process.argv[3] ?? '{"concurrency":32}') as Record<string, unknown>;
const packWith = process.argv[4] as 'xz' | 'gz' | undefined;
const dir = await mkdtemp(join(tmpdir(), 'blockport-memory-'));
const vite = await startPreview(join(dir, 'dist'));
const { browser, marker } = await launchChromium();
const emu = await spawnEmulator(['--tls']);
try {
  // The (f) rows' image: an eighth data, the rest zero.
  const path = join(dir, 'f.img');
  await writeImageFile(path, [['random', gib * 64], ['zero', gib * 448], ['text', gib * 64], ['zero', gib * 448]]);
  // Packed as downloads are (xz in blocks, as `xz -T0` writes them), then streamed by the page.
  const picked = packWith ? `${path}.${packWith}` : path;
  if (packWith) execFileSync('sh', ['-c', `${packWith === 'xz' ? 'xz -1 -T2' : 'gzip -1'} -c '${path}' > '${picked}'`]);
  const page = await benchPage(browser, vite.url, picked);
  const cdp = await browser.newBrowserCDPSession();
  await new Promise((r) => setTimeout(r, 1000));
  const idle = snapshot(marker);
  let peak = idle;
  let atPeak: string[] = [];
  let asking = false;
  const timer = setInterval(() => {
    const s = snapshot(marker);
    if (s.total > peak.total) peak = s;
    // Heaps are asked for whenever the total is near its peak so far (an answer takes a while).
    if (asking || s.total < 0.95 * peak.total || s.total < idle.total + 32 * MiB) return;
    asking = true;
    void heaps(cdp)
      .then((h) => (atPeak = h.length > atPeak.length || h.length > 1 ? h : atPeak))
      .finally(() => (asking = false));
  }, 100);
  const connection = { kind: 'endpoint', endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const r = await page.page.evaluate(([c, o]) => (window as unknown as { __bench: { engineRun(c: unknown, o: unknown): Promise<{ state: string; bytes: number; ms: number }> } }).__bench.engineRun(c, o), [connection, options] as const);
  clearInterval(timer);
  console.log(`${gib} GiB image${packWith ? ` as .raw.${packWith}` : ''}, ${JSON.stringify(options)}: ${r.state}, ${(r.bytes / MiB / (r.ms / 1000)).toFixed(1)} MiB/s of data`);
  console.log(`PSS of the browser's processes: idle ${mib(idle.total)} MiB, peak ${mib(peak.total)} MiB`);
  for (const [pid, pss] of [...peak.byPid].sort((a, b) => b[1] - a[1])) {
    let kind = 'gone';
    try {
      kind = processKind(pid);
    } catch {
      /* ended since */
    }
    console.log(`  ${kind.padEnd(44)} idle ${mib(idle.byPid.get(pid) ?? 0)}  peak ${mib(pss)} MiB`);
  }
  console.log('Heaps at the last moment the total was within 5 % of its peak:');
  for (const h of atPeak) console.log(`  ${h}`);
  await page.close();
} finally {
  await browser.close();
  await emu.stop();
  await vite.close();
  await rm(dir, { recursive: true, force: true });
}
