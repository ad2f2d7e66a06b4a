import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { uploadInProcess } from '../engine/upload/upload-image.ts';
import { memorySource, readSnapshot, syntheticImage } from '../engine/testing/upload-test-kit.ts';
import { advise } from './advice.ts';
import { createAwsClients, type AwsConnection } from './aws-connection.ts';
import { awsCredentials } from './aws-session.ts';
import { connectionForWorker, createClients } from './clients.ts';
import { cognitoFetcher } from './cognito-credentials.ts';
import { RefreshingCredentials, type RefreshEvent } from './refreshing-credentials.ts';
import { serviceClock } from './service-clock.ts';
import type { AwsSettings } from './settings.ts';

const MIN = 60_000;
let emu: SpawnedEmulator;

async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await emu.admin(path, body);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  // Ten-minute credentials: the refresh margin is the SDK's 5 minutes.
  emu = await spawnEmulator(['--identity-pool', 'skew_test', '--credential-ttl', '600']);
});
afterAll(async () => {
  await emu?.stop();
});

describe('credentials judged by the service clock (npm run emulator, real SDK clients, SigV4 and expiry verified)', () => {
  it('refreshes short credentials ahead of expiry by the service\'s clock while the local clock lags it by 7 minutes: no request is refused', async () => {
    const settings: AwsSettings = { kind: 'aws', region: 'us-east-1', identityPoolId: emu.poolId!, endpoint: { mode: 'custom', url: emu.url } };
    // 4-second credentials (refreshed with half their life left); by the local clock they would seem to last 7 minutes.
    await admin('clock', { skewMs: 7 * MIN });
    await admin('config', { latencyMs: 200, credentialTtlSeconds: 4 });
    const creds = new RefreshingCredentials(cognitoFetcher(settings));
    const events: RefreshEvent[] = [];
    creds.onEvent((e) => events.push(e));
    const connection = { kind: 'aws' as const, settings, credentials: creds.provider };
    const clients = await createClients(connection);
    const image = syntheticImage([['random', 48]]);
    try {
      const session = await uploadInProcess({ source: memorySource(image), name: 'slow-clock.raw', lastModified: 1, connection, clients, options: { concurrency: 2, minConcurrency: 1 } });
      const report = await session.done;
      expect(report.state).toBe('completed');
      expect(report.blocksWritten).toBe(48);
    } finally {
      clients.close();
      await admin('config', { latencyMs: 0, credentialTtlSeconds: 600 });
    }
    // Refreshed because they were due by the service's time, never because the service refused them.
    const refreshes = events.filter((e) => e.kind === 'refreshed');
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes.every((e) => e.reason === 'due')).toBe(true);
    expect(events.some((e) => e.kind === 'failed')).toBe(false);
  });

  it('completes an upload whose local clock lags the service by more than the refresh margin, recovering when the service refuses the credentials mid-upload', async () => {
    const settings: AwsSettings = { kind: 'aws', region: 'us-east-1', identityPoolId: emu.poolId!, endpoint: { mode: 'custom', url: emu.url } };
    // The service runs 7 minutes ahead of this process: more than the 5-minute margin, so by the local clock
    // the credentials seem to have 17 minutes left when they have 10.
    await admin('clock', { skewMs: 7 * MIN });
    await admin('config', { latencyMs: 40 });
    const creds = awsCredentials(settings);
    const events: RefreshEvent[] = [];
    creds.onEvent((e) => events.push(e));
    const connection = { kind: 'aws' as const, settings };
    const clients = await createClients(connection);
    const image = syntheticImage([['random', 24], ['zero', 4], ['random', 16]], 4096);
    let first: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    let jumped: Promise<unknown> | undefined;
    try {
      const session = await uploadInProcess({ source: memorySource(image), name: 'skewed.raw', lastModified: 1, connection, clients, options: { concurrency: 2, minConcurrency: 1 } });
      session.onProgress((p) => {
        if (p.ackedBlocks < 6 || jumped) return;
        first = { ...(creds as unknown as { current: typeof first }).current! };
        // Ten minutes pass on the service's clock mid-upload: the first credentials are now expired there,
        // while the local clock (17 minutes behind) would still call them fresh for 5 more minutes.
        jumped = admin('clock', { skewMs: 17 * MIN });
      });
      const report = await session.done;
      await jumped;
      expect(report.state).toBe('completed');
      expect(jumped).toBeDefined();
      // Every block of the image, zero blocks included (the default).
      expect(report.blocksWritten).toBe(Math.ceil(image.length / 524288));
      const back = await readSnapshot(clients.ebs, report.snapshotId, image.length);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
    } finally {
      clients.close();
      await admin('config', { latencyMs: 0 });
    }
    // The refresh happened (ahead of the next request, or once the service refused the old key) and it was one.
    expect(events[0]!.kind).toBe('fetched');
    expect(events.filter((e) => e.kind === 'refreshed')).toHaveLength(1);
    expect(creds.accessKeyId).not.toBe(first!.accessKeyId);
    // This thread learned the service's time from its answers.
    expect(serviceClock.offsetMs).toBeGreaterThan(17 * MIN - 5_000);
    expect(serviceClock.offsetMs).toBeLessThan(17 * MIN + 5_000);
    // Control: the service really does refuse the first credentials now.
    const stale = createAwsClients({ kind: 'aws', settings, credentials: first! });
    const err = await stale.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ExpiredTokenException' });
    expect(advise(err, { settings, service: 'ebs' }).code).toBe('credentials-expired');
  });
});

describe('a refused key is refreshed once and the request resent (the engine runs clients without SDK retries)', () => {
  it('recovers a worker\'s PutSnapshotBlock from ExpiredTokenException through the main thread\'s cache, and gives up on a second refusal', async () => {
    await admin('clock', { skewMs: 0 });
    const settings: AwsSettings = { kind: 'aws', region: 'us-east-1', identityPoolId: emu.poolId!, endpoint: { mode: 'custom', url: emu.url } };
    const main = new RefreshingCredentials(cognitoFetcher(settings));
    const events: RefreshEvent[] = [];
    main.onEvent((e) => events.push(e));
    // What a worker gets: the connection with a port to this thread's cache (cloned as postMessage would).
    const w = connectionForWorker({ kind: 'aws', settings, credentials: main.provider });
    const inWorker = structuredClone(w.connection, { transfer: w.transfer }) as AwsConnection;
    const { ebs } = createAwsClients(inWorker);
    try {
      const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      const used = main.accessKeyId;
      const block = new Uint8Array(524288).fill(7);
      const put = (i: number) =>
        ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: block, DataLength: block.length, Checksum: createHash('sha256').update(block).digest('base64'), ChecksumAlgorithm: 'SHA256' }));
      const expired = { op: 'PutSnapshotBlock', code: 'ExpiredTokenException', status: 403, message: 'The security token included in the request is expired' };
      await admin('fail-next', expired);
      expect((await put(0)).Checksum).toBeTruthy();
      expect(events.map((e) => [e.kind, e.reason])).toEqual([['fetched', undefined], ['refreshed', 'rejected']]);
      expect(main.accessKeyId).not.toBe(used);
      // Refused again after the resend: one refresh per request, then the error reaches the engine.
      await admin('fail-next', expired);
      await admin('fail-next', expired);
      const err = await put(1).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ExpiredTokenException' });
      expect(events.filter((e) => e.kind === 'refreshed')).toHaveLength(2);
    } finally {
      ebs.destroy();
      w.release();
    }
  });
});
