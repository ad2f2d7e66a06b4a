// boto3 and the AWS CLI (clients we did not write) against `npm run emulator`; skipped only where python3/boto3 is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { awsEnv, has, run } from './testing/tools.ts';

const here = dirname(fileURLToPath(import.meta.url));

const boto3 = has('python3', ['-c', 'import boto3']);
const awsCli = has('aws', ['--version']);
if (!boto3) console.warn('conformance: python3 with boto3 is not available; the boto3 conformance run is skipped');
if (!awsCli) console.warn('conformance: the AWS CLI is not installed; the CLI smoke run is skipped');

const env = awsEnv();

/** Runs a client; `out` is everything it printed. */
async function runClient(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await run(cmd, args, { env });
  return { code: r.code, out: `${r.out}${r.err}` };
}

describe.skipIf(!boto3 && !awsCli)('conformance with clients we did not write', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '50']);
  });
  afterAll(async () => {
    expect(await emu.stop()).toBe(0);
  });

  it.skipIf(!boto3)('boto3 passes every check of server/conformance/test_ebs_boto3.py', { timeout: 300_000 }, async () => {
    env.BLOCKPORT_ADMIN_TOKEN = emu.adminToken;
    const r = await runClient('python3', [join(here, 'conformance', 'test_ebs_boto3.py'), emu.url]);
    if (r.code !== 0) console.error(r.out);
    expect(r.out).toMatch(/\n\d+ passed, 0 failed/);
    expect(Number(/(\d+) passed/.exec(r.out)?.[1])).toBeGreaterThanOrEqual(20);
    expect(r.code).toBe(0);
  });

  it.skipIf(!awsCli)('the AWS CLI starts a snapshot and EC2 lists it', async () => {
    const r = await runClient('aws', ['ebs', 'start-snapshot', '--volume-size', '1', '--endpoint-url', emu.url, '--region', 'us-east-1', '--output', 'json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { SnapshotId: string; Status: string; BlockSize: number };
    expect(s.SnapshotId).toMatch(/^snap-[0-9a-f]+$/);
    expect(s.Status).toBe('pending');
    expect(s.BlockSize).toBe(524288);
    const d = await runClient('aws', ['ec2', 'describe-snapshots', '--snapshot-ids', s.SnapshotId, '--endpoint-url', emu.url, '--region', 'us-east-1', '--output', 'json']);
    expect(d.code).toBe(0);
    expect((JSON.parse(d.out) as { Snapshots: { SnapshotId: string; State: string }[] }).Snapshots[0]).toMatchObject({ SnapshotId: s.SnapshotId, State: 'pending' });
  });
});
