import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { beginSignIn, completeSignIn, loginProviderOf, SignInError } from './oidc-sign-in.ts';

class MemoryStorage {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

const issuer = 'https://idp.example/pool';
const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

function provider() {
  const posted: URLSearchParams[] = [];
  let claims: object = {};
  const fetchFn = (async (url: string | URL, init?: RequestInit) => {
    const u = String(url);
    if (u.endsWith('/.well-known/openid-configuration')) {
      return Response.json({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` });
    }
    posted.push(new URLSearchParams(String(init?.body)));
    return Response.json({ id_token: jwt(claims), token_type: 'Bearer' });
  }) as typeof fetch;
  return { fetchFn, posted, setClaims: (c: object) => (claims = c) };
}

describe('OpenID Connect sign-in (code flow with PKCE, public client)', () => {
  it('sends a S256 challenge, then exchanges the code with its verifier; the token stays out of storage', async () => {
    const storage = new MemoryStorage() as unknown as Storage;
    const p = provider();
    const go = new URL(await beginSignIn({ issuer, clientId: 'page' }, 'https://site.example/?x=1#/library', { storage, fetchFn: p.fetchFn }));
    expect(go.origin + go.pathname).toBe(`${issuer}/authorize`);
    expect(Object.fromEntries(go.searchParams)).toMatchObject({ response_type: 'code', client_id: 'page', redirect_uri: 'https://site.example/', code_challenge_method: 'S256', scope: 'openid' });
    expect(go.searchParams.has('client_secret')).toBe(false);
    p.setClaims({ sub: 's-1', preferred_username: 'alice', nonce: go.searchParams.get('nonce'), exp: 2_000_000_000 });
    const back = `https://site.example/?code=c0de&state=${go.searchParams.get('state')}`;
    const done = await completeSignIn(back, { storage, fetchFn: p.fetchFn });
    expect(done).toMatchObject({ provider: loginProviderOf(issuer), username: 'alice', expiresAt: 2_000_000_000_000 });
    expect(done!.provider).toBe('idp.example/pool');
    const sent = p.posted[0]!;
    expect(sent.get('code')).toBe('c0de');
    expect(createHash('sha256').update(sent.get('code_verifier')!).digest('base64url')).toBe(go.searchParams.get('code_challenge'));
    expect((storage as unknown as MemoryStorage).m.size).toBe(0);
  });

  it('refuses an answer with another state or a token for another sign-in, and ignores a page that is no answer', async () => {
    const storage = new MemoryStorage() as unknown as Storage;
    const p = provider();
    expect(await completeSignIn('https://site.example/', { storage, fetchFn: p.fetchFn })).toBeUndefined();
    await beginSignIn({ issuer, clientId: 'page' }, 'https://site.example/', { storage, fetchFn: p.fetchFn });
    await expect(completeSignIn('https://site.example/?code=c&state=forged', { storage, fetchFn: p.fetchFn })).rejects.toThrow(SignInError);
    expect(p.posted).toHaveLength(0);
    const go = new URL(await beginSignIn({ issuer, clientId: 'page' }, 'https://site.example/', { storage, fetchFn: p.fetchFn }));
    p.setClaims({ sub: 's', nonce: 'someone-else' });
    await expect(completeSignIn(`https://site.example/?code=c&state=${go.searchParams.get('state')}`, { storage, fetchFn: p.fetchFn })).rejects.toThrow(/nonce differs/);
  });
});
