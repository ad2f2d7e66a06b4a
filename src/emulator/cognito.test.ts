import { describe, expect, it } from 'vitest';
import { CognitoService } from './cognito.ts';
import { handleCognitoRequest } from './cognito-wire.ts';
import type { EmuRequest } from './http.ts';

function call(svc: CognitoService, op: string, body: unknown, raw?: string): Promise<{ status: number; json: Record<string, unknown>; type?: string }> {
  const req: EmuRequest = {
    method: 'POST',
    path: '/',
    query: {},
    headers: { 'x-amz-target': `AWSCognitoIdentityService.${op}`, 'content-type': 'application/x-amz-json-1.1' },
    body: new TextEncoder().encode(raw ?? JSON.stringify(body)),
  };
  return handleCognitoRequest(svc, req).then((r) => ({
    status: r.status,
    json: JSON.parse(new TextDecoder().decode(r.body)),
    type: r.headers['x-amzn-ErrorType'],
  }));
}

describe('Cognito Identity over JSON 1.1', () => {
  it('creates, describes, lists (paged) and deletes pools', async () => {
    const svc = new CognitoService();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(svc, 'CreateIdentityPool', { IdentityPoolName: `pool ${i}`, AllowUnauthenticatedIdentities: true });
      expect(r.status).toBe(200);
      expect(r.json.IdentityPoolId).toMatch(/^us-east-1:[0-9a-f-]{36}$/);
      ids.push(r.json.IdentityPoolId as string);
    }
    expect((await call(svc, 'DescribeIdentityPool', { IdentityPoolId: ids[1] })).json.IdentityPoolName).toBe('pool 1');
    const p1 = await call(svc, 'ListIdentityPools', { MaxResults: 2 });
    expect((p1.json.IdentityPools as unknown[]).length).toBe(2);
    const p2 = await call(svc, 'ListIdentityPools', { MaxResults: 2, NextToken: p1.json.NextToken });
    expect(p2.json.IdentityPools).toEqual([{ IdentityPoolId: ids[2], IdentityPoolName: 'pool 2' }]);
    expect(p2.json.NextToken).toBeUndefined();
    expect((await call(svc, 'DeleteIdentityPool', { IdentityPoolId: ids[0] })).status).toBe(200);
    const gone = await call(svc, 'DescribeIdentityPool', { IdentityPoolId: ids[0] });
    expect(gone).toMatchObject({ status: 400, json: { __type: 'ResourceNotFoundException' } });
  });

  it('gives a stable identity per pool and logins, and refuses unauthenticated access where forbidden', async () => {
    const svc = new CognitoService();
    const open = (await call(svc, 'CreateIdentityPool', { IdentityPoolName: 'open', AllowUnauthenticatedIdentities: true })).json.IdentityPoolId;
    const closed = (
      await call(svc, 'CreateIdentityPool', {
        IdentityPoolName: 'closed',
        AllowUnauthenticatedIdentities: false,
        SupportedLoginProviders: { 'accounts.google.com': 'client' },
      })
    ).json.IdentityPoolId;
    const a = await call(svc, 'GetId', { IdentityPoolId: open });
    const b = await call(svc, 'GetId', { IdentityPoolId: open });
    expect(a.json.IdentityId).toBe(b.json.IdentityId);
    const c = await call(svc, 'GetId', { IdentityPoolId: closed });
    expect(c).toMatchObject({ status: 400, json: { __type: 'NotAuthorizedException', message: 'Unauthenticated access is not supported for this identity pool.' } });
    const withLogin = await call(svc, 'GetId', { IdentityPoolId: closed, Logins: { 'accounts.google.com': 'tok' } });
    expect(withLogin.status).toBe(200);
    expect(withLogin.json.IdentityId).not.toBe(a.json.IdentityId);
    const other = await call(svc, 'GetId', { IdentityPoolId: closed, Logins: { 'graph.facebook.com': 'tok' } });
    expect(other.json.__type).toBe('NotAuthorizedException');
    const noLogins = await call(svc, 'GetCredentialsForIdentity', { IdentityId: withLogin.json.IdentityId });
    expect(noLogins.json.__type).toBe('NotAuthorizedException');
    const creds = await call(svc, 'GetCredentialsForIdentity', { IdentityId: withLogin.json.IdentityId, Logins: { 'accounts.google.com': 'tok' } });
    expect(creds.status).toBe(200);
  });

  it('issues temporary keys the verifier knows, with the configured lifetime', async () => {
    let now = 1_700_000_000_000;
    const svc = new CognitoService({ credentialTtlSeconds: 900, clock: () => now });
    const pool = (await call(svc, 'CreateIdentityPool', { IdentityPoolName: 'p', AllowUnauthenticatedIdentities: true })).json.IdentityPoolId;
    const id = (await call(svc, 'GetId', { IdentityPoolId: pool })).json.IdentityId;
    const r = await call(svc, 'GetCredentialsForIdentity', { IdentityId: id });
    const c = r.json.Credentials as Record<string, string | number>;
    expect(c.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c.Expiration).toBe(now / 1000 + 900);
    const known = svc.lookup(c.AccessKeyId as string);
    expect(known).toMatchObject({ secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiresAt: now + 900_000 });
    expect(svc.lookup('ASIANOTISSUED')).toBeUndefined();
    const again = (await call(svc, 'GetCredentialsForIdentity', { IdentityId: id })).json.Credentials as Record<string, string>;
    expect(again.AccessKeyId).not.toBe(c.AccessKeyId);
    now += 10_000;
    expect((await call(svc, 'GetCredentialsForIdentity', { IdentityId: 'us-east-1:00000000-0000-4000-a000-000000000000' })).json.__type).toBe('ResourceNotFoundException');
  });

  it('answers bad input with the service errors', async () => {
    const svc = new CognitoService();
    expect(await call(svc, 'GetId', null, '{not json')).toMatchObject({ status: 400, json: { __type: 'SerializationException' } });
    expect(await call(svc, 'GetId', null, '[1]')).toMatchObject({ status: 400, json: { __type: 'SerializationException' } });
    expect(await call(svc, 'Nope', {})).toMatchObject({ status: 400, json: { __type: 'UnknownOperationException' } });
    const v = await call(svc, 'CreateIdentityPool', { IdentityPoolName: 'bad/name', AllowUnauthenticatedIdentities: true });
    expect(v).toMatchObject({ status: 400, json: { __type: 'ValidationException' }, type: 'ValidationException:' });
    expect(String(v.json.message)).toMatch(/^1 validation error detected: Value 'bad\/name' at 'identityPoolName'/);
    expect((await call(svc, 'GetId', {})).json.message).toContain("Value null at 'identityPoolId'");
    expect((await call(svc, 'ListIdentityPools', { MaxResults: 0 })).json.__type).toBe('ValidationException');
  });

  it('derives a startup pool id from its name', async () => {
    const a = await new CognitoService().createIdentityPool({ IdentityPoolName: 'blockport', AllowUnauthenticatedIdentities: true }, 'us-east-1', true);
    const b = await new CognitoService().createIdentityPool({ IdentityPoolName: 'blockport', AllowUnauthenticatedIdentities: true }, 'us-east-1', true);
    expect(a.IdentityPoolId).toBe(b.IdentityPoolId);
  });
});
