import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { canonicalQuery, canonicalUri, verifySigV4, type KnownCredential, type SignedRequest } from './sigv4.ts';

// node:crypto hash in the shape @smithy/signature-v4 expects (a test-only adapter).
class NodeSha256 {
  private h;
  constructor(secret?: unknown) {
    this.h = secret ? createHmac('sha256', secret as Buffer) : createHash('sha256');
  }
  update(data: Uint8Array | string): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

const keys: Record<string, KnownCredential> = {
  test: { secretAccessKey: 'test' },
  ASIATEMP: { secretAccessKey: 'tempsecret', sessionToken: 'tok-1', expiresAt: Date.now() + 3_600_000 },
  ASIAOLD: { secretAccessKey: 'old', sessionToken: 'tok-old', expiresAt: Date.now() - 1000 },
};
const lookup = (id: string): KnownCredential | undefined => keys[id];

async function smithySign(
  opts: { key?: string; secret?: string; token?: string; service?: string; date?: Date; unsigned?: boolean } = {},
  path = '/snapshots/snap-0123/blocks/7',
  query: Record<string, string> = {},
  body: Uint8Array = new Uint8Array([1, 2, 3]),
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: opts.key ?? 'test',
      secretAccessKey: opts.secret ?? 'test',
      ...(opts.token ? { sessionToken: opts.token } : {}),
    },
    region: 'us-east-1',
    service: opts.service ?? 'ebs',
    sha256: NodeSha256 as never,
  });
  const headers: Record<string, string> = { host: '127.0.0.1:4566', 'content-type': 'application/octet-stream' };
  if (opts.unsigned) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const req = new HttpRequest({ method: 'PUT', hostname: '127.0.0.1', port: 4566, path, query, headers, body });
  const signed = await signer.sign(req, { signingDate: opts.date ?? new Date() });
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) h[k.toLowerCase()] = String(v);
  const rawQuery = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return { method: 'PUT', rawPath: path, rawQuery, headers: h, body };
}

describe('canonical forms', () => {
  it('encodes the wire path once more and keeps slashes', () => {
    expect(canonicalUri('/snapshots/snap-1/blocks/2')).toBe('/snapshots/snap-1/blocks/2');
    expect(canonicalUri('/a%20b/c')).toBe('/a%2520b/c');
    expect(canonicalUri('/a/./b/../c')).toBe('/a/c');
    expect(canonicalUri('')).toBe('/');
  });
  it('sorts and re-encodes the query', () => {
    expect(canonicalQuery('b=2&a=x%2Fy&a=1&c')).toBe('a=1&a=x%2Fy&b=2&c=');
    expect(canonicalQuery('X-Amz-Signature=abc&z=1', 'X-Amz-Signature')).toBe('z=1');
  });
});

describe('verifySigV4 against @smithy/signature-v4', () => {
  it('accepts a correctly signed request and reports its scope', async () => {
    const req = await smithySign({}, '/snapshots/snap-0123/blocks', { maxResults: '100', pageToken: 'a+b/c=' });
    const r = await verifySigV4(req, { lookup });
    expect(r).toMatchObject({ ok: true, accessKeyId: 'test', region: 'us-east-1', service: 'ebs', temporary: false });
  });

  it('refuses a tampered body, path, or query', async () => {
    const req = await smithySign();
    expect((await verifySigV4({ ...req, body: new Uint8Array([9]) }, { lookup })).ok).toBe(false);
    expect((await verifySigV4({ ...req, rawPath: '/snapshots/snap-0123/blocks/8' }, { lookup })).ok).toBe(false);
    const r = await verifySigV4({ ...req, rawQuery: 'x=1' }, { lookup });
    expect(r).toMatchObject({ ok: false, code: 'InvalidSignature' });
    expect(!r.ok && r.message).toContain('The Canonical String for this request should have been');
  });

  it('refuses a wrong secret and an unknown key with distinct codes', async () => {
    expect(await verifySigV4(await smithySign({ secret: 'nope' }), { lookup })).toMatchObject({ code: 'InvalidSignature' });
    expect(await verifySigV4(await smithySign({ key: 'AKIDUNKNOWN' }), { lookup })).toMatchObject({
      code: 'UnrecognizedClient',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('accepts UNSIGNED-PAYLOAD only where the operation allows it', async () => {
    const req = await smithySign({ unsigned: true });
    expect((await verifySigV4(req, { lookup, allowUnsignedPayload: true })).ok).toBe(true);
    expect(await verifySigV4(req, { lookup })).toMatchObject({ code: 'InvalidSignature' });
    // The body is not covered: a different body still verifies.
    expect((await verifySigV4({ ...req, body: new Uint8Array(10) }, { lookup, allowUnsignedPayload: true })).ok).toBe(true);
  });

  it('checks session tokens: right, forged, missing, expired', async () => {
    const good = await smithySign({ key: 'ASIATEMP', secret: 'tempsecret', token: 'tok-1' });
    expect(await verifySigV4(good, { lookup })).toMatchObject({ ok: true, temporary: true });
    const forged = await smithySign({ key: 'ASIATEMP', secret: 'tempsecret', token: 'tok-2' });
    expect(await verifySigV4(forged, { lookup })).toMatchObject({ code: 'UnrecognizedClient' });
    const none = await smithySign({ key: 'ASIATEMP', secret: 'tempsecret' });
    expect(await verifySigV4(none, { lookup })).toMatchObject({ code: 'UnrecognizedClient' });
    const old = await smithySign({ key: 'ASIAOLD', secret: 'old', token: 'tok-old' });
    expect(await verifySigV4(old, { lookup })).toMatchObject({ code: 'ExpiredToken' });
  });

  it('enforces the clock-skew window both ways', async () => {
    const past = await smithySign({ date: new Date(Date.now() - 6 * 60_000) });
    const r = await verifySigV4(past, { lookup });
    expect(r).toMatchObject({ code: 'SignatureExpired' });
    expect(!r.ok && r.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const future = await smithySign({ date: new Date(Date.now() + 6 * 60_000) });
    expect(await verifySigV4(future, { lookup })).toMatchObject({ code: 'SignatureExpired' });
    const near = await smithySign({ date: new Date(Date.now() - 4 * 60_000) });
    expect((await verifySigV4(near, { lookup })).ok).toBe(true);
  });

  it('takes the service name from the credential scope', async () => {
    const req = await smithySign({ service: 'ec2' });
    expect(await verifySigV4(req, { lookup })).toMatchObject({ ok: true, service: 'ec2' });
  });

  it('names what is missing', async () => {
    const req = await smithySign();
    const { authorization: _a, ...noAuth } = req.headers;
    expect(await verifySigV4({ ...req, headers: noAuth }, { lookup })).toMatchObject({
      code: 'MissingAuthenticationToken',
      message: 'Missing Authentication Token',
    });
    const bad = { ...req.headers, authorization: 'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ebs/aws4_request' };
    const r = await verifySigV4({ ...req, headers: bad }, { lookup });
    expect(r).toMatchObject({ code: 'IncompleteSignature' });
    expect(!r.ok && r.message).toContain("requires 'Signature' parameter");
    const hmac = { ...req.headers, authorization: 'AWS3 foo' };
    expect(await verifySigV4({ ...req, headers: hmac }, { lookup })).toMatchObject({ code: 'IncompleteSignature' });
    const { 'x-amz-date': _d, ...noDate } = req.headers;
    expect(await verifySigV4({ ...req, headers: noDate }, { lookup })).toMatchObject({ code: 'IncompleteSignature' });
  });

  it('accepts HTTP/2 :authority in place of host', async () => {
    const req = await smithySign();
    const { host, ...rest } = req.headers;
    expect((await verifySigV4({ ...req, headers: { ...rest, ':authority': host! } }, { lookup })).ok).toBe(true);
  });
});

function hasBotocore(): boolean {
  try {
    execFileSync('python3', ['-c', 'import botocore'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasBotocore())('verifySigV4 against botocore', () => {
  const script = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
a = json.loads(sys.argv[1])
req = AWSRequest(method=a['method'], url=a['url'], data=bytes(a['body'], 'latin-1'), headers=a.get('headers', {}))
auth = SigV4Auth(Credentials(a['key'], a['secret'], a.get('token')), a['service'], 'eu-west-1')
if a.get('unsigned'):
    auth._should_sha256_sign_payload = lambda request: False
auth.add_auth(req)
p = req.prepare()
print(json.dumps({k.lower(): v for k, v in p.headers.items()}))
`;
  function botoSign(args: Record<string, unknown>): Record<string, string> {
    return JSON.parse(execFileSync('python3', ['-c', script, JSON.stringify(args)], { encoding: 'utf8' }));
  }

  it('accepts botocore signatures with paths, queries and bodies', async () => {
    const body = '{"VolumeSize":1}';
    const h = botoSign({ method: 'POST', url: 'http://127.0.0.1:4566/snapshots?a=1&b=x%2Fy', body, key: 'test', secret: 'test', service: 'ebs' });
    const req: SignedRequest = {
      method: 'POST',
      rawPath: '/snapshots',
      rawQuery: 'a=1&b=x%2Fy',
      headers: { ...h, host: '127.0.0.1:4566' },
      body: new TextEncoder().encode(body),
    };
    expect(await verifySigV4(req, { lookup })).toMatchObject({ ok: true, region: 'eu-west-1', service: 'ebs' });
  });

  it('accepts botocore unsigned-body signing (no x-amz-content-sha256 header) for unsigned-body operations', async () => {
    const h = botoSign({ method: 'PUT', url: 'http://127.0.0.1:4566/snapshots/snap-1/blocks/0', body: 'xyz', key: 'ASIATEMP', secret: 'tempsecret', token: 'tok-1', service: 'ebs', unsigned: true });
    expect(h['x-amz-content-sha256']).toBeUndefined();
    const req: SignedRequest = { method: 'PUT', rawPath: '/snapshots/snap-1/blocks/0', rawQuery: '', headers: { ...h, host: '127.0.0.1:4566' }, body: new Uint8Array([120, 121, 122]) };
    expect(await verifySigV4(req, { lookup, allowUnsignedPayload: true })).toMatchObject({ ok: true, temporary: true });
    expect(await verifySigV4(req, { lookup })).toMatchObject({ code: 'InvalidSignature' });
  });
});
