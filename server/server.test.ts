// The JS SDK against `npm run emulator` over real HTTP: EBS, Cognito-issued credentials, SigV4 refusals, EC2, CORS,
// faults, admin, bad input, TLS + HTTP/2, and durability across a restart with --data-dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import http2 from 'node:http2';
import https from 'node:https';
import {
  EBSClient,
  StartSnapshotCommand,
  PutSnapshotBlockCommand,
  CompleteSnapshotCommand,
  ListSnapshotBlocksCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
} from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, DeleteSnapshotCommand } from '@aws-sdk/client-ec2';
import { CognitoIdentityClient, CreateIdentityPoolCommand, GetIdCommand, GetCredentialsForIdentityCommand } from '@aws-sdk/client-cognito-identity';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { BLOCK, admin, b64, block, clients as sdkClients, errorOf, makeSnapshot, region, testCreds, unsignedPuts } from './testing/sdk.ts';
import { useTempDir } from './testing/tools.ts';

/** The kit's clients, with PutSnapshotBlock sent as an unsigned-body operation. */
const clients = (...args: Parameters<typeof sdkClients>) => {
  const c = sdkClients(...args);
  return { ebs: unsignedPuts(c.ebs), ec2: c.ec2 };
};

describe('emulator over HTTP (memory store)', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '50', '--identity-pool', 'blockport', '--body-timeout-ms', '1500']);
  });
  afterAll(async () => {
    expect(await emu.stop()).toBe(0);
  });

  it('runs the EBS direct APIs end to end through the SDK', async () => {
    const { ebs, ec2 } = clients(emu.url);
    const a = block(1);
    const b = block(2);
    const parent = await makeSnapshot(ebs, ec2, { 0: a, 5: b });
    const child = await makeSnapshot(ebs, ec2, { 5: a, 7: b }, parent);
    const list = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: child }));
    expect(list.Blocks!.map((x) => x.BlockIndex)).toEqual([0, 5, 7]);
    expect(list.BlockSize).toBe(BLOCK);
    const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: child, BlockIndex: 5, BlockToken: list.Blocks![1]!.BlockToken }));
    const bytes = await got.BlockData!.transformToByteArray();
    expect(Buffer.from(bytes).equals(Buffer.from(a))).toBe(true);
    expect(got.Checksum).toBe(b64(a));
    expect(got.DataLength).toBe(BLOCK);
    const changed = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: parent, SecondSnapshotId: child }));
    expect(changed.ChangedBlocks!.map((c) => [c.BlockIndex, !!c.FirstBlockToken, !!c.SecondBlockToken])).toEqual([
      [5, true, true],
      [7, false, true],
    ]);
    const put = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const res = await ebs.send(new PutSnapshotBlockCommand({ SnapshotId: put.SnapshotId, BlockIndex: 1, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' }));
    expect(res.Checksum).toBe(b64(a));
    expect(res.ChecksumAlgorithm).toBe('SHA256');
  });

  it('answers the service errors through the SDK (validation, checksum, state, lineage, ClientToken)', async () => {
    const { ebs, ec2 } = clients(emu.url);
    const a = block(3);
    const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: 'tok-js-1' }));
    const again = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: 'tok-js-1' }));
    expect(again.SnapshotId).toBe(s.SnapshotId);
    expect(await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: 'tok-js-1' })))).toMatchObject({ name: 'ConflictException', status: 409 });
    const bad = await errorOf(ebs.send(new PutSnapshotBlockCommand({ SnapshotId: s.SnapshotId, BlockIndex: 0, BlockData: a, DataLength: BLOCK, Checksum: b64(block(4)), ChecksumAlgorithm: 'SHA256' })));
    expect(bad).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
    expect(bad.message).toContain('does not match the computed checksum');
    const beyond = await errorOf(ebs.send(new PutSnapshotBlockCommand({ SnapshotId: s.SnapshotId, BlockIndex: 2048, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' })));
    expect(beyond).toMatchObject({ name: 'ValidationException', reason: 'INVALID_BLOCK' });
    expect(await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 0 })))).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: s.SnapshotId })))).toMatchObject({ reason: 'INVALID_SNAPSHOT_ID' });
    expect(await errorOf(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s.SnapshotId })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    const done = await makeSnapshot(ebs, ec2, { 0: a });
    const put = await errorOf(ebs.send(new PutSnapshotBlockCommand({ SnapshotId: done, BlockIndex: 0, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' })));
    expect(put).toMatchObject({ reason: 'INVALID_SNAPSHOT_ID', message: 'Snapshot is already completed' });
    const other = await makeSnapshot(ebs, ec2, { 1: a });
    expect(await errorOf(ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: done, SecondSnapshotId: other })))).toMatchObject({ reason: 'UNRELATED_SNAPSHOTS' });
    expect(await errorOf(ebs.send(new GetSnapshotBlockCommand({ SnapshotId: done, BlockIndex: 0, BlockToken: 'AAAA' })))).toMatchObject({ reason: 'INVALID_BLOCK_TOKEN' });
  });

  it('shows and deletes snapshots through EC2', async () => {
    const { ebs, ec2 } = clients(emu.url);
    const id = await makeSnapshot(ebs, ec2, { 3: block(9) });
    const s = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'status', Values: ['completed'] }] }));
    const mine = s.Snapshots!.find((x) => x.SnapshotId === id)!;
    expect(mine).toMatchObject({ State: 'completed', Progress: '100%', VolumeSize: 1, Encrypted: false, VolumeId: 'vol-ffffffff' });
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
    expect(await errorOf(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })))).toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });

  it('issues Cognito credentials that pass SigV4 on EBS and EC2, unsigned GetId included', async () => {
    const credentials = fromCognitoIdentityPool({ identityPoolId: emu.poolId!, clientConfig: { endpoint: emu.url, region } });
    const { ebs, ec2 } = clients(emu.url, credentials);
    const c = await credentials();
    expect(c.accessKeyId).toMatch(/^ASIA/);
    expect(c.sessionToken).toBeTruthy();
    expect(c.expiration!.getTime() - Date.now()).toBeGreaterThan(3500_000);
    // The deploy template's policy, enforced for these credentials, wants each snapshot tagged with its owner.
    const owner = (c as { identityId?: string }).identityId!;
    expect(await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'AccessDeniedException' });
    const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: 'blockport-owner', Value: owner }] }));
    expect(s.SnapshotId).toMatch(/^snap-/);
    const d = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [s.SnapshotId!] }));
    expect(d.Snapshots![0]!.State).toBe('pending');
    // Signed management calls need a key; the pool from the command line refuses nothing unauthenticated.
    const cognito = new CognitoIdentityClient({ endpoint: emu.url, region, credentials: testCreds });
    const closed = await cognito.send(new CreateIdentityPoolCommand({ IdentityPoolName: 'closed', AllowUnauthenticatedIdentities: false }));
    expect(await errorOf(cognito.send(new GetIdCommand({ IdentityPoolId: closed.IdentityPoolId })))).toMatchObject({ name: 'NotAuthorizedException' });
    const unsignedCreate = new CognitoIdentityClient({ endpoint: emu.url, region, credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
    expect(await errorOf(unsignedCreate.send(new CreateIdentityPoolCommand({ IdentityPoolName: 'x', AllowUnauthenticatedIdentities: true })))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
    });
  });

  it('refuses bad signatures with the service errors', async () => {
    const wrong = clients(emu.url, { accessKeyId: 'test', secretAccessKey: 'wrong' });
    expect(await errorOf(wrong.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
    const unknown = clients(emu.url, { accessKeyId: 'AKIDNOPE', secretAccessKey: 'x' });
    expect(await errorOf(unknown.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
    expect(await errorOf(unknown.ec2.send(new DescribeSnapshotsCommand({})))).toMatchObject({ name: 'AuthFailure', status: 401 });
    const skewed = clients(emu.url, testCreds, { systemClockOffset: -20 * 60_000 });
    const e = await errorOf(skewed.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })));
    expect(e).toMatchObject({ name: 'InvalidSignatureException' });
    expect(e.message).toMatch(/^Signature expired/);
    // The SDK corrects its clock from the Date header and retries: the skew error is one the SDK recognises.
    const healing = clients(emu.url, testCreds, { systemClockOffset: -20 * 60_000, maxAttempts: 3 });
    expect((await healing.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId).toMatch(/^snap-/);

    const cognito = new CognitoIdentityClient({ endpoint: emu.url, region, credentials: testCreds });
    const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: emu.poolId }));
    const { Credentials } = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
    const forged = clients(emu.url, { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretKey!, sessionToken: 'forged' });
    expect(await errorOf(forged.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'UnrecognizedClientException' });
    await admin(emu, 'config', { credentialTtlSeconds: 1 });
    try {
      const short = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId }));
      const c = short.Credentials!;
      expect(c.Expiration!.getTime() - Date.now()).toBeLessThanOrEqual(1000);
      await new Promise((r) => setTimeout(r, 1100));
      const expired = clients(emu.url, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretKey!, sessionToken: c.SessionToken! });
      expect(await errorOf(expired.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'ExpiredTokenException', status: 403 });
    } finally {
      await admin(emu, 'config', { credentialTtlSeconds: 3600 });
    }
  });

  it('answers CORS preflights and exposes the checksum headers; off means no CORS at all', async () => {
    const pre = await fetch(`${emu.url}/snapshots/snap-0123/blocks/0`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://page.test', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization,x-amz-checksum,x-amz-foo' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://page.test');
    expect(pre.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-amz-foo');
    const real = await fetch(`${emu.url}/snapshots`, { method: 'POST', headers: { Origin: 'http://page.test' }, body: '{}' });
    expect(real.status).toBe(403);
    expect(real.headers.get('access-control-allow-origin')).toBe('http://page.test');
    const exposed = real.headers.get('access-control-expose-headers')!.toLowerCase();
    for (const h of ['x-amz-checksum', 'x-amz-checksum-algorithm', 'x-amz-data-length', 'x-amzn-requestid', 'x-amzn-errortype']) expect(exposed).toContain(h);
    await admin(emu, 'config', { corsOrigins: ['http://other.test'] });
    const refused = await fetch(`${emu.url}/snapshots`, { method: 'OPTIONS', headers: { Origin: 'http://page.test', 'Access-Control-Request-Method': 'POST' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    await admin(emu, 'config', { cors: false, corsOrigins: ['*'] });
    try {
      const off = await fetch(`${emu.url}/snapshots`, { method: 'OPTIONS', headers: { Origin: 'http://page.test', 'Access-Control-Request-Method': 'POST' } });
      expect(off.status).toBe(403);
      expect(off.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await admin(emu, 'config', { cors: true });
    }
  });

  it('injects faults: errors, throttling, dropped connections, the per-snapshot put rate', async () => {
    const { ebs } = clients(emu.url);
    try {
      await admin(emu, 'config', { errorRate: 1 });
      expect(await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).toMatchObject({ name: 'InternalServerException', status: 500 });
      await admin(emu, 'config', { errorRate: 0, throttleRate: 1 });
      const names = new Set<string>();
      for (let i = 0; i < 12; i++) names.add((await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })))).name);
      expect([...names].sort()).toEqual(['RequestThrottledException', 'ThrottlingException']);
      await admin(emu, 'config', { throttleRate: 0, dropRate: 1 });
      const dropped = await errorOf(ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })));
      expect(dropped.status).toBeUndefined();
      await admin(emu, 'config', { dropRate: 0, putRateLimit: 2 });
      const a = block(5);
      // Four puts at once against a limit of 2 a second: exactly two are refused when all four reach the server within
      // one second, which is sure when the whole burst took less. On a loaded machine a burst can take longer; it is
      // then tried again on a new snapshot (a rate limit over a sliding window cannot be asserted on a slower burst).
      let refused: { name: string; Reason?: string }[] | undefined;
      for (let attempt = 0; attempt < 5 && !refused; attempt++) {
        const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
        const put = (i: number) => ebs.send(new PutSnapshotBlockCommand({ SnapshotId: s.SnapshotId, BlockIndex: i, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' }));
        const t0 = performance.now();
        const results = await Promise.allSettled([put(0), put(1), put(2), put(3)]);
        if (performance.now() - t0 >= 900) continue;
        refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { name: string; Reason?: string });
      }
      expect(refused, 'no burst of four puts finished within a second in five tries').toBeDefined();
      expect(refused!.length).toBe(2);
      for (const r of refused!) expect(r).toMatchObject({ name: 'RequestThrottledException', Reason: 'RESOURCE_LEVEL_THROTTLE' });
    } finally {
      await admin(emu, 'config', { errorRate: 0, throttleRate: 0, dropRate: 0, putRateLimit: 0 });
    }
    expect((await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId).toMatch(/^snap-/);
  });

  it('has admin endpoints: health, config, state, reset', async () => {
    expect(await admin(emu, 'health')).toMatchObject({ status: 200, ok: true, store: 'memory' });
    expect(await admin(emu, 'config', { port: 1 })).toMatchObject({ status: 400 });
    expect(await admin(emu, 'config', { errorRate: 2 })).toMatchObject({ status: 400 });
    expect(await admin(emu, 'config', { latencyMs: 5 })).toMatchObject({ status: 200, latencyMs: 5 });
    await admin(emu, 'config', { latencyMs: 0 });
    const state = await admin(emu, 'state');
    expect(((state.ebs as { snapshots: unknown[] }).snapshots.length)).toBeGreaterThan(0);
    const reset = await admin(emu, 'reset', {});
    expect(reset).toMatchObject({ status: 200, identityPools: { blockport: emu.poolId } });
    const after = await admin(emu, 'state');
    expect((after.ebs as { snapshots: unknown[] }).snapshots).toEqual([]);
    expect((await emu.admin('nope')).status).toBe(404);
  });

  it('survives bad input: oversized, short, slow and malformed bodies, unknown paths, garbage', async () => {
    const { ebs } = clients(emu.url);
    const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const u = new URL(emu.url);
    const raw = (text: string, extra?: Buffer): Promise<string> =>
      new Promise((resolve) => {
        const sock = net.connect(Number(u.port), u.hostname, () => {
          sock.write(text);
          if (extra) sock.write(extra);
        });
        let got = '';
        sock.on('data', (d) => (got += d.toString('latin1')));
        sock.on('close', () => resolve(got));
        sock.on('error', () => resolve(got));
        setTimeout(() => sock.destroy(), 5000);
      });
    const big = await raw(`PUT /snapshots/${s.SnapshotId}/blocks/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1.1 413/);
    const chunked = await raw(`PUT /snapshots/${s.SnapshotId}/blocks/0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, Buffer.concat([Buffer.from('100000\r\n'), Buffer.alloc(0x100000), Buffer.from('\r\n')]));
    // Unsigned: refused from its headers, before any of the body is read.
    expect(chunked).toMatch(/^HTTP\/1.1 403/);
    expect(await raw('NONSENSE\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    const slow = await raw(`POST /snapshots HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Vol`);
    expect(slow).toMatch(/^HTTP\/1.1 403/);
    const unknown = await fetch(`${emu.url}/nothing/here`);
    expect(unknown.status).toBe(404);

    // A signed put whose body stops short of its Content-Length: answered "Failed to read block data" once it stalls.
    let captured: { method: string; path: string; headers: Record<string, string> } | undefined;
    const capture = new EBSClient({
      endpoint: emu.url,
      region,
      credentials: testCreds,
      maxAttempts: 1,
      requestHandler: {
        handle: async (req: { method: string; path: string; headers: Record<string, string> }) => {
          captured = req;
          throw new Error('captured');
        },
      } as never,
    });
    capture.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'unsignedPayload' },
    );
    const a = block(6);
    await errorOf(capture.send(new PutSnapshotBlockCommand({ SnapshotId: s.SnapshotId, BlockIndex: 0, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' })));
    const head = `${captured!.method} ${captured!.path} HTTP/1.1\r\n${Object.entries(captured!.headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    expect(head).toMatch(/content-length: 524288/i);
    const stalled = await raw(head, Buffer.from(a.subarray(0, 1000)));
    expect(stalled).toMatch(/^HTTP\/1.1 400/);
    expect(stalled).toContain('Failed to read block data');
    expect(stalled).toContain('INVALID_PARAMETER_VALUE');
    const json = await fetch(`${emu.url}/`, { method: 'POST', headers: { 'X-Amz-Target': 'AWSCognitoIdentityService.GetId', 'Content-Type': 'application/x-amz-json-1.1' }, body: '{nope' });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { __type: string }).__type).toBe('SerializationException');
    expect(await admin(emu, 'health')).toMatchObject({ ok: true });
  });
});

describe('emulator over HTTPS with HTTP/2', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--tls', '--completion-delay-ms', '0']);
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('speaks HTTP/2 over TLS and HTTP/1.1 to the SDK', async () => {
    expect(emu.url).toMatch(/^https:/);
    const session = http2.connect(emu.url, { rejectUnauthorized: false });
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/__admin/health', authorization: `Bearer ${emu.adminToken}` });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(session.alpnProtocol).toBe('h2');
    session.close();
    const agent = new https.Agent({ rejectUnauthorized: false });
    const ebs = new EBSClient({ endpoint: emu.url, region, credentials: testCreds, requestHandler: new NodeHttpHandler({ httpsAgent: agent }) });
    const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const a = block(7);
    const r = await ebs.send(new PutSnapshotBlockCommand({ SnapshotId: s.SnapshotId, BlockIndex: 0, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' }));
    expect(r.Checksum).toBe(b64(a));
  });

  it('opens its flow-control windows wider than a block, so a PutSnapshotBlock body never waits for window updates', async () => {
    const session = http2.connect(emu.url, { rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = session.request({ ':path': '/__admin/health', authorization: `Bearer ${emu.adminToken}` });
        req.on('response', () => resolve());
        req.on('error', reject);
        req.end();
      });
      // The protocol's default is 65,535 bytes for each stream and for the whole connection.
      expect(session.remoteSettings.initialWindowSize).toBeGreaterThanOrEqual(2 * BLOCK);
      expect(session.state.remoteWindowSize).toBeGreaterThanOrEqual(32 * BLOCK);
    } finally {
      session.close();
    }
  });
});

describe('emulator with --data-dir', () => {
  const tempDir = useTempDir('blockport-emu-');

  it('keeps completed snapshots and every acknowledged block across a restart', async () => {
    const dir = tempDir();
    let emu = await spawnEmulator(['--data-dir', dir, '--completion-delay-ms', '0']);
    const a = block(11);
    const b = block(12);
    let id: string;
    let pendingId: string;
    const acked: number[] = [];
    try {
      const { ebs, ec2 } = clients(emu.url);
      id = await makeSnapshot(ebs, ec2, { 0: a, 9: b });
      const p = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      pendingId = p.SnapshotId!;
      // Puts in flight while SIGTERM arrives: every one that was acknowledged must be there after the restart.
      const puts = Array.from({ length: 24 }, (_, i) =>
        ebs.send(new PutSnapshotBlockCommand({ SnapshotId: pendingId, BlockIndex: i, BlockData: a, DataLength: BLOCK, Checksum: b64(a), ChecksumAlgorithm: 'SHA256' })).then(
          () => acked.push(i),
          () => undefined,
        ),
      );
      await new Promise((r) => setTimeout(r, 30));
      const stopped = emu.stop();
      await Promise.all(puts);
      expect(await stopped).toBe(0);
    } finally {
      await emu.stop();
    }
    emu = await spawnEmulator(['--data-dir', dir, '--completion-delay-ms', '0']);
    try {
      const { ebs } = clients(emu.url);
      const list = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
      expect(list.Blocks!.map((x) => x.BlockIndex)).toEqual([0, 9]);
      const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 9, BlockToken: list.Blocks![1]!.BlockToken }));
      expect(Buffer.from(await got.BlockData!.transformToByteArray()).equals(Buffer.from(b))).toBe(true);
      expect(await admin(emu, 'health')).toMatchObject({ store: 'fs' });
      const state = (await admin(emu, 'state')) as { ebs: { snapshots: { id: string; ownBlocks: number; putsByIndex: Record<string, number> }[] } };
      const pending = state.ebs.snapshots.find((s) => s.id === pendingId)!;
      for (const i of acked) expect(pending.putsByIndex[String(i)]).toBe(1);
      await ebs.send(new CompleteSnapshotCommand({ SnapshotId: pendingId, ChangedBlocksCount: pending.ownBlocks }));
    } finally {
      expect(await emu.stop()).toBe(0);
    }
  });
});
