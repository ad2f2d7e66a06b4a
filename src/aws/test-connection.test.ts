import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CognitoIdentityClient, CreateIdentityPoolCommand } from '@aws-sdk/client-cognito-identity';
import { spawnEmulator, type SpawnedEmulator } from '../../server/spawn-emulator.ts';
import { EBSClient, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advise } from './advice.ts';
import { awsClientConfig } from './aws-clients.ts';
import { createAwsClients } from './aws-connection.ts';
import { cognitoFetcher } from './cognito-credentials.ts';
import { RefreshingCredentials } from './refreshing-credentials.ts';
import type { AwsSettings } from './settings.ts';
import { PROBE_SNAPSHOT_ID, testConnection } from './test-connection.ts';

let emu: SpawnedEmulator;
beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'blockport_test']);
});
afterAll(async () => {
  await emu?.stop();
});

const settings = (over: Partial<AwsSettings> = {}): AwsSettings => ({
  kind: 'aws',
  region: 'us-east-1',
  identityPoolId: emu.poolId!,
  endpoint: { mode: 'custom', url: emu.url },
  ...over,
});
const run = (s: AwsSettings, fetcher = cognitoFetcher(s), probe?: (u: string) => Promise<boolean | undefined>) =>
  testConnection(s, new RefreshingCredentials(fetcher), probe ? { probe } : {});

describe('Test connection against the emulator server (real SDK clients, SigV4 verified)', () => {
  it('proves credentials, EBS (a missing snapshot reads as the service 404) and EC2', async () => {
    const r = await run(settings());
    expect(r.steps.map((s) => [s.step, s.ok])).toEqual([['credentials', true], ['ebs', true], ['ec2', true]]);
    expect(r.ok).toBe(true);
    expect(r.identityId).toMatch(/^us-east-1:/);
    expect(r.steps[1]!.text).toMatch(/refused the probe snapshot as not yours/);
    expect(r.steps[2]!.text).toMatch(/may read this account's images too/);
    expect(r.steps[2]!.text).toMatch(/A dry run of RegisterImage was allowed, so Create AMI may register images from your snapshots/);
  });

  it('says Create AMI will not work where a dry run of RegisterImage is refused, and registers nothing either way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blockport-policy-'));
    const file = join(dir, 'no-register.json');
    // A policy that allows the uploads and reading images, but not registering them.
    writeFileSync(
      file,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['ebs:*', 'ec2:DescribeSnapshots', 'ec2:DescribeImages'], Resource: '*' }],
      }),
    );
    const strict = await spawnEmulator(['--identity-pool', 'blockport_test', '--iam-policy', file]);
    try {
      const r = await testConnection({ ...settings(), identityPoolId: strict.poolId!, endpoint: { mode: 'custom', url: strict.url } }, new RefreshingCredentials(cognitoFetcher({ ...settings(), identityPoolId: strict.poolId!, endpoint: { mode: 'custom', url: strict.url } })));
      expect(r.ok).toBe(true);
      expect(r.steps[2]!.text).toMatch(/But a dry run of RegisterImage was refused \(ec2:RegisterImage\), so Create AMI will not work/);
      const ec2 = new EC2Client({ region: 'us-east-1', endpoint: strict.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      expect((await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images).toEqual([]);
    } finally {
      await strict.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names an unknown pool', async () => {
    const r = await run(settings({ identityPoolId: 'us-east-1:00000000-0000-0000-0000-000000000000' }));
    expect(r.ok).toBe(false);
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]!.advice).toMatchObject({ code: 'unknown-pool' });
    expect(r.steps[0]!.text).toBe('There is no identity pool us-east-1:00000000-0000-0000-0000-000000000000 in us-east-1.');
  });

  it('says when the pool gives nothing to visitors without a login', async () => {
    const admin = new CognitoIdentityClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const pool = await admin.send(new CreateIdentityPoolCommand({ IdentityPoolName: 'no_guests', AllowUnauthenticatedIdentities: false }));
    const r = await run(settings({ identityPoolId: pool.IdentityPoolId! }));
    expect(r.steps[0]!.advice).toMatchObject({ code: 'unauthenticated-disabled' });
    expect(r.steps[0]!.advice!.action).toMatch(/Enter a login|AllowUnauthenticatedIdentities/);
  });

  it('gets authenticated credentials with a login, and names a login the pool does not accept', async () => {
    const admin = new CognitoIdentityClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const pool = await admin.send(
      new CreateIdentityPoolCommand({ IdentityPoolName: 'members', AllowUnauthenticatedIdentities: false, SupportedLoginProviders: { 'accounts.example.com': 'blockport-app' } }),
    );
    const s = settings({ identityPoolId: pool.IdentityPoolId!, loginProvider: 'accounts.example.com' });
    const ok = await run(s, cognitoFetcher(s, { login: { provider: 'accounts.example.com', token: 'id-token-of-alice' } }));
    expect(ok.ok).toBe(true);
    const stranger = await run(s, cognitoFetcher(s, { login: { provider: 'login.other.example', token: 'x' } }));
    expect(stranger.steps[0]!.advice).toMatchObject({ code: 'login-invalid' });
    expect(stranger.steps[0]!.text).toBe('The identity pool refused the login: Token is not from a supported provider of this identity pool.');
  });

  it('recognises a bad secret from the service\'s signature refusal', async () => {
    const s = settings();
    const good = cognitoFetcher(s);
    const r = await run(s, async () => ({ ...(await good()), secretAccessKey: 'not-the-secret' }));
    expect(r.steps.map((x) => x.ok)).toEqual([true, false]);
    expect(r.steps[1]!.advice).toMatchObject({ code: 'bad-signature' });
    expect(r.steps[1]!.text).toMatch(/^EBS rejected the request signature/);
  });

  it('survives a client clock ten minutes slow: the SDK corrects it from the Date header and the request is resent once', async () => {
    const s = settings();
    const creds = new RefreshingCredentials(cognitoFetcher(s));
    const probe = () => new ListSnapshotBlocksCommand({ SnapshotId: PROBE_SNAPSHOT_ID, MaxResults: 100 });
    await creds.get();
    // This process's clock runs ten minutes slow; the emulator (another process) keeps the true time.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 10 * 60_000 });
    try {
      const { ebs } = createAwsClients({ kind: 'aws', settings: s, credentials: creds.provider });
      // Refused by IAM (the probe snapshot is nobody's), which is checked after the signature: the resend worked.
      await expect(ebs.send(probe())).rejects.toMatchObject({ name: 'AccessDeniedException' });
      // Without the resend the same skew is refused, and the advice names the clock.
      const bare = new EBSClient({ ...awsClientConfig('ebs', s, creds.provider, undefined), maxAttempts: 1 });
      const err = await bare.send(probe()).catch((e: unknown) => e);
      expect(advise(err, { settings: s, service: 'ebs' })).toMatchObject({ code: 'clock-skew' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('passes with a clock 10 minutes slow, and still names the clock (the service runs ahead: POST /__admin/clock skewMs)', async () => {
    const skew = (skewMs: number) => emu.admin('clock', { skewMs });
    expect((await skew(10 * 60_000)).ok).toBe(true);
    try {
      const r = await run(settings());
      expect(r.ok).toBe(true);
      expect(r.clockOffsetMs).toBeGreaterThan(9 * 60_000);
      expect(r.steps[1]!.text).toMatch(/clock is 10 minutes behind AWS time.*NTP/);
    } finally {
      expect((await skew(0)).ok).toBe(true);
    }
    const fine = await run(settings());
    expect(fine.clockOffsetMs).toBeUndefined();
    expect(fine.steps[1]!.text).not.toMatch(/clock/);
  });

  it('tells an endpoint that does not answer from one that blocks CORS, using the probe', async () => {
    const s = settings({ endpoint: { mode: 'custom', url: 'http://127.0.0.1:9' } });
    const down = await run(s, cognitoFetcher(s), async () => false);
    expect(down.steps[0]!.advice).toMatchObject({ code: 'unreachable' });
    expect(down.steps[0]!.text).toMatch(/^Nothing answered at http:\/\/127\.0\.0\.1:9/);
    const blocked = await run(s, cognitoFetcher(s), async () => true);
    expect(blocked.steps[0]!.advice).toMatchObject({ code: 'cors' });
    expect(blocked.steps[0]!.advice!.action).toMatch(/relay/);
  });
});

describe('advice for failures the emulator cannot produce', () => {
  const s: AwsSettings = { kind: 'aws', region: 'eu-west-1', identityPoolId: 'eu-west-1:00000000-0000-0000-0000-000000000000', endpoint: { mode: 'relay', basePath: '' } };
  const ctx = { settings: s, service: 'ebs' as const, origin: 'https://d111.cloudfront.net' };

  it('shows the IAM policy for AccessDenied', () => {
    const a = advise(Object.assign(new Error('User is not authorized to perform: ebs:StartSnapshot'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403, requestId: 'r' } }), ctx);
    expect(a.code).toBe('access-denied');
    const policy = JSON.parse(a.policy!);
    expect(policy.Statement.flatMap((x: { Action: string[] }) => x.Action)).toContain('ebs:PutSnapshotBlock');
    expect(policy.Statement[0].Resource).toBe('arn:aws:ec2:eu-west-1::snapshot/*');
  });

  it('names clock skew, an expired login and expired credentials apart', () => {
    const skew = advise(Object.assign(new Error('Signature expired: 20260101T000000Z is now earlier than 20260101T001000Z (20260101T001500Z - 5 min.)'), { name: 'InvalidSignatureException' }), ctx);
    expect(skew.code).toBe('clock-skew');
    const login = advise(Object.assign(new Error('Invalid login token. Token expired: 1700000000 >= 1690000000'), { name: 'NotAuthorizedException' }), { ...ctx, service: 'cognito-identity' });
    expect(login.code).toBe('login-expired');
    const creds = advise(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }), ctx);
    expect(creds.code).toBe('credentials-expired');
    expect(new Set([skew.what, login.what, creds.what]).size).toBe(3);
  });

  it('names the page\'s CSP when it refused the request, rather than CORS', () => {
    const custom = { ...s, endpoint: { mode: 'custom' as const, url: 'http://10.0.0.5:4566' } };
    const a = advise(new TypeError('Failed to fetch'), { settings: custom, service: 'cognito-identity', cspBlocked: true });
    expect(a.code).toBe('csp-blocked');
    expect(advise(new TypeError('Failed to fetch'), { settings: custom, service: 'cognito-identity', reachable: true }).code).toBe('cors');
  });

  it('says the relay is missing when the site answers a relay path with something other than the API', () => {
    const a = advise(Object.assign(new Error('Unexpected token <'), { name: 'SyntaxError', $metadata: { httpStatusCode: 404 } }), ctx);
    expect(a.code).toBe('relay-missing');
    expect(a.what).toMatch(/^https:\/\/d111\.cloudfront\.net did not answer like the EBS API \(HTTP 404\)/);
  });
});
