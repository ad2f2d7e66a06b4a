// PutSnapshotBlock throughput into `npm run emulator` on loopback, next to moto_server driven the same way in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EBSClient, StartSnapshotCommand, PutSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { spawnEmulator } from '../server/spawn-emulator.ts';
import type { BenchRow } from './types.ts';

const BLOCK = 524288;
const TOTAL_MIB = Number(process.env.BENCH_SERVER_MIB ?? 256);
const CONCURRENCY = Number(process.env.BENCH_SERVER_CONCURRENCY ?? 16);
// Every target gets the same byte and time budget, whichever ends first, so a slow target cannot hold up the run.
const TIME_LIMIT_MS = Number(process.env.BENCH_SERVER_SECONDS ?? 30) * 1000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startMoto(): Promise<{ url: string; proc: ChildProcess } | undefined> {
  const port = await freePort();
  // Its request log goes nowhere: an unread pipe fills up and stalls moto after a few hundred requests.
  const proc = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  // moto imports every service before it listens: allow it a minute on a busy machine.
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) return undefined;
    try {
      await fetch(`${url}/moto-api/`);
      return { url, proc };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  proc.kill('SIGKILL');
  return undefined;
}

/** MiB/s of up to `TOTAL_MIB` (or TIME_LIMIT_MS) of PutSnapshotBlock calls, `CONCURRENCY` in flight, through the JS SDK on keep-alive sockets. */
async function putThroughput(url: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const ebs = new EBSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // A stalled request is timed out and retried rather than hanging the bench.
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, requestTimeout: 10_000, throwOnRequestTimeout: true }),
  });
  // As the app does: the body is not signed (the service allows it), so the client does not hash each block twice.
  ebs.middlewareStack.add(
    (next, ctx) => async (args) => {
      if (ctx.commandName === 'PutSnapshotBlockCommand') (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedPayload' },
  );
  const blocks = Array.from({ length: 16 }, (_, i) => {
    const b = new Uint8Array(BLOCK);
    b.fill(i + 1, 0, 1024);
    return { data: b, sum: createHash('sha256').update(b).digest('base64') };
  });
  const count = (TOTAL_MIB * 1024 * 1024) / BLOCK;
  const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: Math.max(1, Math.ceil((count * BLOCK) / 2 ** 30)) }));
  const put = (i: number) => {
    const b = blocks[i % blocks.length]!;
    return ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: b.data, DataLength: BLOCK, Checksum: b.sum, ChecksumAlgorithm: 'SHA256' }));
  };
  for (let i = 0; i < CONCURRENCY; i++) await put(i);
  let next = 0;
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count && performance.now() - t0 < TIME_LIMIT_MS) {
        try {
          await put(next++);
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  ebs.destroy();
  agent.destroy();
  if (failed) console.error(`  ${url}: ${failed} puts failed after retries`);
  return (done * BLOCK) / 2 ** 20 / seconds;
}

export default async function (): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const moto = await startMoto();
  let motoRate: number | undefined;
  try {
    if (moto) motoRate = await putThroughput(moto.url);
  } finally {
    moto?.proc.kill('SIGKILL');
  }
  const ceiling = motoRate !== undefined ? { name: 'moto_server, same load', value: motoRate } : undefined;
  const note = `${TOTAL_MIB} MiB or ${TIME_LIMIT_MS / 1000} s, ${CONCURRENCY} in flight, JS SDK, HTTP/1.1 loopback; moto checks nothing (no checksum, size, token) so it is a baseline, not a ceiling`;

  const mem = await spawnEmulator(['--completion-delay-ms', '0']);
  try {
    rows.push({ group: 'server', name: 'PutSnapshotBlock into npm run emulator (memory store)', value: await putThroughput(mem.url), unit: 'MiB/s', ...(ceiling ? { ceiling } : {}), aim: '≥ 1 (SigV4 + SHA-256 checked)', note });
  } finally {
    await mem.stop();
  }
  const dir = await mkdtemp(join(tmpdir(), 'bench-emu-'));
  const fs = await spawnEmulator(['--completion-delay-ms', '0', '--data-dir', dir]);
  try {
    rows.push({ group: 'server', name: 'PutSnapshotBlock into npm run emulator (--data-dir, fsync per block)', value: await putThroughput(fs.url), unit: 'MiB/s', ...(ceiling ? { ceiling } : {}), note: 'durable before acknowledged' });
  } finally {
    await fs.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (motoRate === undefined) console.error('  moto_server not available (python3 -m moto.server): no baseline');
  return rows;
}
