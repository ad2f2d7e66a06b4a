import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { blockDigestsOfFile, writeImageFile } from '../../bench/upload-image-file.ts';
import { botoRead, startCli } from '../testing/cli-kit.ts';

const LONG = !!process.env.BLOCKPORT_LONG;
/** The longest the CLI may take to say it waits: the deadline before the latency is learned (30 s), and some slack. */
const NOTICE_MS = 45_000;
/** Once it says so, the server stays stopped this long more: its probes fail too before it continues. */
const STOPPED_AFTER_WAITING_MS = 5_000;

const startUpload = (args: string[]) => startCli('upload', args);

async function admin(emu: SpawnedEmulator, what: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await emu.admin(what, body);
  expect(r.ok, await r.clone().text()).toBe(true);
  return (await r.json()) as Record<string, unknown>;
}

describe('blockport upload when the service stalls or stops answering', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blockport-cli-outage-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('against --stall-rate 0.05 completes identical: stalled requests are abandoned at their deadline, retried, and their connections closed', { timeout: 240_000 }, async () => {
    const emu = await spawnEmulator(['--completion-delay-ms', '200', '--stall-rate', '0.05']);
    try {
      const image = join(dir, 'stall.img');
      // 128 blocks: with 5 % of requests stalled, a run without a single stall has a chance of about 0.1 %.
      await writeImageFile(image, [['random', 64]]);
      const expected = await blockDigestsOfFile(image);
      const cli = startUpload([image, '--endpoint', emu.url, '--json', '--no-progress']);
      expect(await cli.exited, cli.err()).toBe(0);
      const report = JSON.parse(cli.out()) as Record<string, unknown>;
      expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: 128 });
      const health = (await admin(emu, 'health')) as { stalls: { total: number; open: number; longestMs: number } };
      expect(health.stalls.total).toBeGreaterThan(0);
      // Abandoned by the client's request deadline, not by its sockets' 120 s timeout: no stall was held that long.
      expect(health.stalls.longestMs).toBeLessThan(110_000);
      // Every stalled request was aborted by the client: no connection (and no block body) is left hanging.
      expect(health.stalls.open).toBe(0);
      // Reading back must not stall: the check is of the snapshot, not of the fault.
      await admin(emu, 'config', { stallRate: 0 });
      const back = botoRead(emu.url, report.SnapshotId as string);
      expect(back.state).toBe('completed');
      expect(Object.keys(back.blocks).length).toBe(128);
      expect(expected.digests.filter((d, i) => back.blocks[i] !== d).length).toBe(0);
    } finally {
      await emu.stop();
    }
  });

  // Tens of seconds of waiting for deadlines: under `npm run test:long`. In npm test, the same story runs in-process with
  // short deadlines (src/engine/upload/expired-while-silent.test.ts); the sentence on resume in resume-check.test.ts
  // and e2e/jobs-timed-out-snapshot.spec.ts.
  it.runIf(LONG)('a snapshot that expired while the service was silent is reported as expired, with the way forward', { timeout: 200_000 }, async () => {
    const emu = await spawnEmulator(['--completion-delay-ms', '200', '--latency-ms', '40']);
    try {
      const image = join(dir, 'expire.img');
      await writeImageFile(image, [['random', 64]]);
      const cli = startUpload([image, '--endpoint', emu.url, '--concurrency', '2', '--timeout', '10']);
      for (let t = 0; t < 1200 && !cli.lines.some((l) => /^uploading [1-9]/.test(l.text)); t++) await new Promise((r) => setTimeout(r, 25));
      // Every request now goes unanswered (a silent network) until the service's clock has run past the Timeout.
      await admin(emu, 'config', { stallRate: 1 });
      for (let t = 0; t < 1200 && !cli.lines.some((l) => /waiting for the network/.test(l.text)); t++) await new Promise((r) => setTimeout(r, 50));
      expect(cli.err()).toMatch(/waiting for the network/);
      await admin(emu, 'clock', { advanceMs: 11 * 60_000 });
      await admin(emu, 'config', { stallRate: 0 });
      expect(await cli.exited).toBe(1);
      expect(cli.err()).toMatch(/The snapshot snap-\w+ timed out: nothing was written to it for more than 10 minutes\. Start the upload again.* Pass --restart to upload the image as a new snapshot\./);
    } finally {
      await emu.stop();
    }
  });

  it('with the server stopped (SIGSTOP) mid-upload until it says it waits for the network, then continued, the same command completes by itself', { timeout: 300_000 }, async () => {
    // Latency and a small window keep the upload going long enough to be stopped in its middle on any machine.
    const emu = await spawnEmulator(['--completion-delay-ms', '200', '--latency-ms', '40', '--verbose']);
    try {
      const image = join(dir, 'stop.img');
      await writeImageFile(image, [['random', 64]]);
      const expected = await blockDigestsOfFile(image);
      const cli = startUpload([image, '--endpoint', emu.url, '--json', '--concurrency', '2']);
      const puts = () => emu.output().split('\n').filter((l) => l.startsWith('PUT /snapshots/') && l.endsWith('→ 201')).length;
      for (let t = 0; t < 1200 && puts() < 24; t++) await new Promise((r) => setTimeout(r, 25));
      expect(puts()).toBeGreaterThanOrEqual(24);
      emu.proc.kill('SIGSTOP');
      const stoppedAt = Date.now();
      const saysWaiting = () => cli.lines.some((l) => /waiting for the network/.test(l.text));
      for (let t = 0; t < NOTICE_MS / 50 && !saysWaiting(); t++) await new Promise((r) => setTimeout(r, 50));
      expect(saysWaiting(), cli.err()).toBe(true);
      await new Promise((r) => setTimeout(r, STOPPED_AFTER_WAITING_MS));
      const continuedAt = Date.now();
      emu.proc.kill('SIGCONT');
      const code = await cli.exited;
      expect(code, cli.err()).toBe(0);
      const doneAt = Date.now();
      // The state was shown while the server was silent, and the upload went on by itself afterwards.
      const waiting = cli.lines.find((l) => /waiting for the network/.test(l.text));
      expect(waiting, cli.err()).toBeDefined();
      const resumed = cli.lines.find((l) => l.at >= continuedAt && /^uploading /.test(l.text));
      const report = JSON.parse(cli.out()) as Record<string, unknown>;
      expect(report).toMatchObject({ State: 'completed', ChangedBlocksCount: 128 });
      const back = botoRead(emu.url, report.SnapshotId as string);
      expect(back.state).toBe('completed');
      expect(expected.digests.filter((d, i) => back.blocks[i] !== d).length).toBe(0);
      console.log(
        `SIGSTOP ${((continuedAt - stoppedAt) / 1000).toFixed(1)} s: "waiting" shown ${((waiting!.at - stoppedAt) / 1000).toFixed(1)} s after the stop; uploading again ${resumed ? `${((resumed.at - continuedAt) / 1000).toFixed(1)} s` : 'n/a'} after SIGCONT; done ${((doneAt - continuedAt) / 1000).toFixed(1)} s after SIGCONT`,
      );
    } finally {
      emu.proc.kill('SIGCONT');
      await emu.stop();
    }
  });
});
