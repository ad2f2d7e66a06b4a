// SigV4 query signing as clients we did not write do it: boto3's generate_presigned_url for EBS ListSnapshotBlocks and
// EC2 DescribeSnapshots is accepted, X-Amz-Expires is enforced, a presigned URL's body is hashed, and a parameter
// given in both the query and the body is refused (a DescribeSnapshots URL cannot become a DeleteSnapshot).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { CompleteSnapshotCommand, ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';
import { BLOCK, clients, makeSnapshot, region, testCreds } from './testing/sdk.ts';
import { has } from './testing/tools.ts';

function bytes(d: SourceData): string | Uint8Array {
  return typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
}

/** SHA-256 and HMAC-SHA-256 in the shape the SDK's signer takes. */
class Sha256 {
  private h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

const PRESIGN = `
import boto3, json, sys
url, snap = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
ebs = boto3.client('ebs', **kw)
ec2 = boto3.client('ec2', **kw)
print(json.dumps({
  'list': ebs.generate_presigned_url('list_snapshot_blocks', Params={'SnapshotId': snap}, ExpiresIn=600),
  'describe': ec2.generate_presigned_url('describe_snapshots', Params={'SnapshotIds': [snap]}, ExpiresIn=600),
  'listShort': ebs.generate_presigned_url('list_snapshot_blocks', Params={'SnapshotId': snap}, ExpiresIn=60),
  'describeShort': ec2.generate_presigned_url('describe_snapshots', Params={'SnapshotIds': [snap]}, ExpiresIn=60),
  'describeGet': ec2.generate_presigned_url('describe_snapshots', Params={'SnapshotIds': [snap]}, ExpiresIn=600, HttpMethod='GET'),
  'describeWeekPlus': ec2.generate_presigned_url('describe_snapshots', Params={'SnapshotIds': [snap]}, ExpiresIn=604801),
}))
`;

/** A SigV4 signer for `service` with the emulator's default keys. */
const signer = (service: 'ebs' | 'ec2') => new SignatureV4({ credentials: testCreds, region, service, sha256: Sha256 });

/** EC2 DescribeSnapshots as a POST to the emulator at `url`, with `headers` beside Host. */
function describeRequest(url: string, headers: Record<string, string>) {
  const u = new URL(url);
  return { method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', query: { Action: 'DescribeSnapshots', Version: '2016-11-15' }, headers: { host: u.host, ...headers } };
}

function presign(url: string, snap: string): Record<'list' | 'describe' | 'describeGet' | 'listShort' | 'describeShort' | 'describeWeekPlus', string> {
  return JSON.parse(execFileSync('python3', ['-c', PRESIGN, url, snap], { encoding: 'utf8', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } }));
}

describe.skipIf(!has('python3', ['-c', 'import boto3']))('presigned requests (boto3 generate_presigned_url)', () => {
  let emu: SpawnedEmulator;
  let snap: string;
  let urls: ReturnType<typeof presign>;
  let ec2: EC2Client;
  const exists = async (): Promise<boolean> => ((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).some((s) => s.SnapshotId === snap);

  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '0']);
    const c = clients(emu.url);
    ec2 = c.ec2;
    snap = await makeSnapshot(c.ebs, ec2, { 5: new Uint8Array(BLOCK).fill(3) });
    urls = presign(emu.url, snap);
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('accepts boto3 presigned ListSnapshotBlocks and DescribeSnapshots URLs', async () => {
    const list = await fetch(urls.list);
    const listText = await list.text();
    expect(list.status, listText).toBe(200);
    expect((JSON.parse(listText) as { Blocks: { BlockIndex: number }[] }).Blocks.map((b) => b.BlockIndex)).toEqual([5]);
    // EC2's operations are POSTs, so botocore signs the URL for POST (with an empty body) unless told GET.
    for (const [u, method] of [[urls.describe, 'POST'], [urls.describeGet, 'GET']] as const) {
      const d = await fetch(u, { method });
      const dText = await d.text();
      expect(d.status, dText).toBe(200);
      expect(dText).toContain(`<snapshotId>${snap}</snapshotId>`);
    }
  });

  it('accepts a URL the JS SDK\'s SignatureV4.presign makes for ListSnapshotBlocks (it signs the empty body\'s hash too)', async () => {
    const u = new URL(emu.url);
    const signed = await signer('ebs').presign(
      { method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: `/snapshots/${snap}/blocks`, query: {}, headers: { host: u.host } },
      { expiresIn: 300 },
    );
    const q = new URLSearchParams(signed.query as Record<string, string>).toString();
    const r = await fetch(`${emu.url}/snapshots/${snap}/blocks?${q}`);
    const text = await r.text();
    expect(r.status, text).toBe(200);
    expect((JSON.parse(text) as { Blocks: { BlockIndex: number }[] }).Blocks.map((b) => b.BlockIndex)).toEqual([5]);
  });

  it('hashes every presigned payload but PutSnapshotBlock\'s: a put presigned over UNSIGNED-PAYLOAD is stored, a StartSnapshot is not', async () => {
    const u = new URL(emu.url);
    const at = (path: string, headers: Record<string, string>, body?: string) => ({
      method: body === undefined ? 'PUT' : 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, query: {}, headers: { host: u.host, ...headers }, ...(body !== undefined ? { body } : {}),
    });
    const url = (signed: { path: string; query?: unknown }) => `${emu.url}${signed.path}?${new URLSearchParams(signed.query as Record<string, string>)}`;
    const { ebs } = clients(emu.url);
    const target = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    const data = new Uint8Array(BLOCK).fill(9);
    const put = { 'x-amz-data-length': String(BLOCK), 'x-amz-checksum': createHash('sha256').update(data).digest('base64'), 'x-amz-checksum-algorithm': 'SHA256' };
    const signedPut = await signer('ebs').presign(at(`/snapshots/${target}/blocks/0`, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...put }), {
      expiresIn: 300,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(put)),
    });
    const r = await fetch(url(signedPut), { method: 'PUT', headers: put, body: data });
    expect(r.status, await r.text()).toBe(201);
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: target, ChangedBlocksCount: 1 }));
    expect((await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: target }))).Blocks!.map((b) => b.BlockIndex)).toEqual([0]);

    const count = async () => ((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).length;
    const before = await count();
    const body = JSON.stringify({ VolumeSize: 1 });
    const json = { 'content-type': 'application/json' };
    const unsigned = await signer('ebs').presign(at('/snapshots', { ...json, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), {
      expiresIn: 300,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    });
    const refused = await fetch(url(unsigned), { method: 'POST', headers: json, body });
    const text = await refused.text();
    expect(refused.status, text).toBe(403);
    expect(text).toMatch(/signature/i);
    expect(await count()).toBe(before);
    // The same request presigned over its body's own hash is started.
    const hashed = await signer('ebs').presign(at('/snapshots', json, body), { expiresIn: 300 });
    const started = await fetch(url(hashed), { method: 'POST', headers: json, body });
    expect(started.status, await started.clone().text()).toBe(201);
    expect(((await started.json()) as { SnapshotId: string }).SnapshotId).toMatch(/^snap-/);
    expect(await count()).toBe(before + 1);
  });

  it('refuses X-Amz-Expires beyond seven days, and URLs past their expiry, in each service\'s error shape', async () => {
    const week = await fetch(urls.describeWeekPlus, { method: 'POST' });
    expect(week.status).toBe(400);
    expect(await week.text()).toMatch(/X-Amz-Expires/);
    // The service's clock runs 2 minutes ahead: the 60-second URLs have expired, the 10-minute ones have not.
    expect((await emu.admin('clock', { skewMs: 120_000 })).status).toBe(200);
    try {
      const l = await fetch(urls.listShort);
      expect(l.status).toBe(403);
      expect(l.headers.get('x-amzn-errortype')).toMatch(/InvalidSignatureException/);
      expect(await l.text()).toMatch(/Request has expired/);
      const d = await fetch(urls.describeShort, { method: 'POST' });
      expect(d.status).toBe(400);
      expect(await d.text()).toMatch(/<Code>RequestExpired<\/Code>/);
      expect((await fetch(urls.list)).status).toBe(200);
      expect((await fetch(urls.describe, { method: 'POST' })).status).toBe(200);
    } finally {
      await emu.admin('clock', { skewMs: 0 });
    }
  });

  it('hashes a presigned request body: a DescribeSnapshots URL cannot delete the snapshot', async () => {
    const r = await fetch(urls.describe, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=DeleteSnapshot&SnapshotId=${snap}`,
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(await exists()).toBe(true);
    // A URL presigned over UNSIGNED-PAYLOAD (what the emulator once assumed for every presigned request) no longer
    // lets any body through.
    const unsigned = await signer('ec2').presign(describeRequest(emu.url, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), {
      expiresIn: 600,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    });
    const q = new URLSearchParams(unsigned.query as Record<string, string>).toString();
    const del = await fetch(`${emu.url}/?${q}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `SnapshotId=${snap}&Action=DeleteSnapshot` });
    expect(del.status).toBeGreaterThanOrEqual(400);
    expect(await exists()).toBe(true);
    // The same body without a duplicate Action still fails: the URL signed an empty body.
    const r2 = await fetch(urls.describe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'DryRun=true' });
    expect(await r2.text()).toMatch(/SignatureDoesNotMatch/);
  });

  it('refuses a parameter given in both the signed query and the body (header-signed too)', async () => {
    const body = `Action=DeleteSnapshot&SnapshotId=${snap}&Version=2016-11-15`;
    const signed = await signer('ec2').sign({ ...describeRequest(emu.url, { 'content-type': 'application/x-www-form-urlencoded' }), body });
    const r = await fetch(`${emu.url}/?Action=DescribeSnapshots&Version=2016-11-15`, { method: 'POST', headers: signed.headers, body });
    const text = await r.text();
    expect(r.status, text).toBe(400);
    expect(text).toMatch(/InvalidParameterCombination[\s\S]*Action/);
    expect(await exists()).toBe(true);
  });
});
