// Cognito Identity, the part a browser needs to get AWS credentials: pools, identities, temporary keys.
// Transport-neutral (WebCrypto only); the JSON 1.1 wire lives in cognito-wire.ts.

import type { KnownCredential } from './sigv4.ts';
import { ServiceRefusal } from './errors.ts';

/** A refusal in Cognito's terms: `__type` name, HTTP status and message. */
export class CognitoError extends ServiceRefusal {
  override readonly name = 'CognitoError';
}

/** An identity pool as DescribeIdentityPool returns it. */
export interface IdentityPool {
  IdentityPoolId: string;
  IdentityPoolName: string;
  AllowUnauthenticatedIdentities: boolean;
  AllowClassicFlow?: boolean;
  SupportedLoginProviders?: Record<string, string>;
  DeveloperProviderName?: string;
  OpenIdConnectProviderARNs?: string[];
  CognitoIdentityProviders?: { ProviderName?: string; ClientId?: string; ServerSideTokenCheck?: boolean }[];
  SamlProviderARNs?: string[];
  IdentityPoolTags?: Record<string, string>;
}

/** Temporary credentials as GetCredentialsForIdentity returns them (Expiration in epoch seconds). */
export interface IssuedCredentials {
  AccessKeyId: string;
  SecretKey: string;
  SessionToken: string;
  Expiration: number;
}

interface Identity {
  id: string;
  poolId: string;
  /** Login provider names this identity was created with; empty for an unauthenticated identity. */
  logins: string[];
  /** For logins whose tokens are verified: provider → the token's subject this identity belongs to. */
  subjects?: Record<string, string>;
}

/** Checks a login token of one provider (signature, issuer, audience, expiry); resolves to its subject, or throws. */
export type LoginVerifier = (token: string) => Promise<string>;

interface Issued extends KnownCredential {
  identityId: string;
}

export interface CognitoOptions {
  /** Lifetime of issued credentials in seconds (Cognito: 1 hour). */
  credentialTtlSeconds?: number;
  /** Region used in pool and identity ids when the request does not say. */
  region?: string;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
}

const POOL_ID = /^[\w-]+:[0-9a-f-]+$/;
const POOL_NAME = /^[\w ]+$/;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(n: number, alphabet: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function uuidFrom(text: string): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const x = [...h.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-4${x.slice(13, 16)}-a${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

function constraint(value: unknown, member: string, rule: string): CognitoError {
  const shown = value === undefined || value === null ? 'null' : `'${String(value)}'`;
  return new CognitoError(
    'ValidationException',
    `1 validation error detected: Value ${shown} at '${member}' failed to satisfy constraint: ${rule}`,
  );
}

function requirePoolId(v: unknown): string {
  if (typeof v !== 'string') throw constraint(v, 'identityPoolId', 'Member must not be null');
  if (v.length < 1 || v.length > 55 || !POOL_ID.test(v)) {
    throw constraint(v, 'identityPoolId', 'Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+');
  }
  return v;
}

function loginsOf(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new CognitoError('SerializationException', 'Logins must be a map');
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(v as Record<string, unknown>)) {
    if (typeof t !== 'string' || !t) throw new CognitoError('NotAuthorizedException', 'Invalid login token. Token is empty.');
    out[k] = t;
  }
  return out;
}

/** The Cognito Identity service: identity pools, stable identities, and the temporary keys it issued. */
export class CognitoService {
  private pools = new Map<string, IdentityPool>();
  private identities = new Map<string, Identity>();
  private issued = new Map<string, Issued>();
  credentialTtlSeconds: number;
  readonly region: string;
  private clock: () => number;
  /** Providers whose tokens are verified (an OpenID Connect issuer): the identity follows the token's subject. */
  readonly verifiers = new Map<string, LoginVerifier>();

  constructor(opts: CognitoOptions = {}) {
    this.credentialTtlSeconds = opts.credentialTtlSeconds ?? 3600;
    this.region = opts.region ?? 'us-east-1';
    this.clock = opts.clock ?? Date.now;
  }

  /** Credentials the SigV4 verifier accepts: the keys this service issued (expired ones included, so they are told apart). */
  lookup(accessKeyId: string): KnownCredential | undefined {
    return this.issued.get(accessKeyId);
  }

  /** Who holds an issued key: its identity, the identity's pool, and whether it signed in (for IAM). */
  principalOf(accessKeyId: string): { identityId: string; poolId: string; authenticated: boolean } | undefined {
    const issued = this.issued.get(accessKeyId);
    const identity = issued && this.identities.get(issued.identityId);
    return identity && { identityId: identity.id, poolId: identity.poolId, authenticated: identity.logins.length > 0 };
  }

  /** Verifies the tokens of verifiable providers; provider → subject (throws NotAuthorizedException on a bad token). */
  private async subjectsOf(logins: Record<string, string>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [provider, token] of Object.entries(logins)) {
      const verify = this.verifiers.get(provider);
      if (!verify) continue;
      try {
        out[provider] = await verify(token);
      } catch (err) {
        throw new CognitoError('NotAuthorizedException', `Invalid login token. ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** GetCredentialsForIdentity after verifying the login tokens: a verified token must be the identity's own subject's. */
  async getCredentialsForIdentityVerified(input: Record<string, unknown>): Promise<{ IdentityId: string; Credentials: IssuedCredentials }> {
    const subjects = await this.subjectsOf(loginsOf(input.Logins));
    const identity = typeof input.IdentityId === 'string' ? this.identities.get(input.IdentityId) : undefined;
    for (const [provider, sub] of Object.entries(identity?.subjects ?? {})) {
      if (subjects[provider] !== sub) {
        throw new CognitoError('NotAuthorizedException', "Logins don't match. Please include at least one valid login for this identity or identity pool.");
      }
    }
    return this.getCredentialsForIdentity(input);
  }

  /** Forgets every pool, identity and issued key. */
  reset(): void {
    this.pools.clear();
    this.identities.clear();
    this.issued.clear();
  }

  /** A plain snapshot of the state, for the admin dump (secrets left out). */
  dump(): { pools: IdentityPool[]; identities: { id: string; poolId: string; authenticated: boolean }[]; issuedKeys: { accessKeyId: string; identityId: string; expiresAt: string }[] } {
    return {
      pools: [...this.pools.values()],
      identities: [...this.identities.values()].map((i) => ({ id: i.id, poolId: i.poolId, authenticated: i.logins.length > 0 })),
      issuedKeys: [...this.issued.entries()].map(([k, v]) => ({
        accessKeyId: k,
        identityId: v.identityId,
        expiresAt: new Date(v.expiresAt ?? 0).toISOString(),
      })),
    };
  }

  /** CreateIdentityPool; `fixedId` makes the id a function of the name (startup pools keep their id across restarts). */
  async createIdentityPool(input: Record<string, unknown>, region = this.region, fixedId = false): Promise<IdentityPool> {
    const name = input.IdentityPoolName;
    if (typeof name !== 'string') throw constraint(name, 'identityPoolName', 'Member must not be null');
    if (name.length < 1 || name.length > 128) throw constraint(name, 'identityPoolName', 'Member must have length between 1 and 128');
    if (!POOL_NAME.test(name)) throw constraint(name, 'identityPoolName', 'Member must satisfy regular expression pattern: [\\w ]+');
    const allow = input.AllowUnauthenticatedIdentities;
    if (typeof allow !== 'boolean') throw constraint(allow, 'allowUnauthenticatedIdentities', 'Member must not be null');
    const id = `${region}:${fixedId ? await uuidFrom(`pool:${name}`) : crypto.randomUUID()}`;
    const pool: IdentityPool = { IdentityPoolId: id, IdentityPoolName: name, AllowUnauthenticatedIdentities: allow };
    if (typeof input.AllowClassicFlow === 'boolean') pool.AllowClassicFlow = input.AllowClassicFlow;
    if (input.SupportedLoginProviders && typeof input.SupportedLoginProviders === 'object') {
      pool.SupportedLoginProviders = input.SupportedLoginProviders as Record<string, string>;
    }
    if (typeof input.DeveloperProviderName === 'string') pool.DeveloperProviderName = input.DeveloperProviderName;
    if (Array.isArray(input.OpenIdConnectProviderARNs)) pool.OpenIdConnectProviderARNs = input.OpenIdConnectProviderARNs as string[];
    if (Array.isArray(input.CognitoIdentityProviders)) pool.CognitoIdentityProviders = input.CognitoIdentityProviders as IdentityPool['CognitoIdentityProviders'];
    if (Array.isArray(input.SamlProviderARNs)) pool.SamlProviderARNs = input.SamlProviderARNs as string[];
    if (input.IdentityPoolTags && typeof input.IdentityPoolTags === 'object') pool.IdentityPoolTags = input.IdentityPoolTags as Record<string, string>;
    this.pools.set(id, pool);
    return pool;
  }

  private pool(id: string): IdentityPool {
    const p = this.pools.get(id);
    if (!p) throw new CognitoError('ResourceNotFoundException', `IdentityPool '${id}' not found.`);
    return p;
  }

  /** DescribeIdentityPool. */
  describeIdentityPool(input: Record<string, unknown>): IdentityPool {
    return this.pool(requirePoolId(input.IdentityPoolId));
  }

  /** ListIdentityPools, paged by an opaque token. */
  listIdentityPools(input: Record<string, unknown>): { IdentityPools: { IdentityPoolId: string; IdentityPoolName: string }[]; NextToken?: string } {
    const max = input.MaxResults;
    if (typeof max !== 'number') throw constraint(max, 'maxResults', 'Member must not be null');
    if (!Number.isInteger(max) || max < 1 || max > 60) throw constraint(max, 'maxResults', 'Member must have value between 1 and 60');
    const all = [...this.pools.values()];
    let start = 0;
    if (input.NextToken !== undefined && input.NextToken !== null) {
      const t = String(input.NextToken);
      const m = /^p(\d+)$/.exec(t);
      if (!m) throw new CognitoError('InvalidParameterException', `Invalid pagination token: ${t}`);
      start = Number(m[1]);
    }
    const page = all.slice(start, start + max).map((p) => ({ IdentityPoolId: p.IdentityPoolId, IdentityPoolName: p.IdentityPoolName }));
    return start + max < all.length ? { IdentityPools: page, NextToken: `p${start + max}` } : { IdentityPools: page };
  }

  /** DeleteIdentityPool: its identities go with it. */
  deleteIdentityPool(input: Record<string, unknown>): Record<string, never> {
    const id = requirePoolId(input.IdentityPoolId);
    this.pool(id);
    this.pools.delete(id);
    for (const [k, v] of this.identities) if (v.poolId === id) this.identities.delete(k);
    return {};
  }

  private checkLogins(pool: IdentityPool, logins: Record<string, string>): void {
    const known = new Set<string>([
      ...Object.keys(pool.SupportedLoginProviders ?? {}),
      ...(pool.OpenIdConnectProviderARNs ?? []),
      ...(pool.SamlProviderARNs ?? []),
      ...(pool.CognitoIdentityProviders ?? []).map((p) => p.ProviderName ?? ''),
    ]);
    for (const provider of Object.keys(logins)) {
      if (!known.has(provider)) {
        throw new CognitoError('NotAuthorizedException', 'Token is not from a supported provider of this identity pool.');
      }
    }
  }

  /** GetId: one stable identity per pool and set of logins (provider + token). */
  async getId(input: Record<string, unknown>): Promise<{ IdentityId: string }> {
    const poolId = requirePoolId(input.IdentityPoolId);
    const logins = loginsOf(input.Logins);
    const pool = this.pool(poolId);
    const providers = Object.keys(logins).sort();
    if (!providers.length && !pool.AllowUnauthenticatedIdentities) {
      throw new CognitoError('NotAuthorizedException', 'Unauthenticated access is not supported for this identity pool.');
    }
    this.checkLogins(pool, logins);
    // A verified token names a person (its subject), so each sign-in of that person reaches the same identity.
    const subjects = await this.subjectsOf(logins);
    const key = providers.map((p) => `${p}=${subjects[p] !== undefined ? `sub:${subjects[p]}` : logins[p]}`).join('\n');
    const id = `${poolId.split(':')[0]}:${await uuidFrom(`identity:${poolId}\n${key}`)}`;
    if (!this.identities.has(id)) this.identities.set(id, { id, poolId, logins: providers, ...(Object.keys(subjects).length ? { subjects } : {}) });
    return { IdentityId: id };
  }

  /** GetCredentialsForIdentity: fresh temporary keys for a known identity. */
  getCredentialsForIdentity(input: Record<string, unknown>): { IdentityId: string; Credentials: IssuedCredentials } {
    const id = input.IdentityId;
    if (typeof id !== 'string') throw constraint(id, 'identityId', 'Member must not be null');
    if (id.length < 1 || id.length > 55 || !POOL_ID.test(id)) {
      throw constraint(id, 'identityId', 'Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+');
    }
    const logins = loginsOf(input.Logins);
    const identity = this.identities.get(id);
    if (!identity) throw new CognitoError('ResourceNotFoundException', `Identity '${id}' not found.`);
    const pool = this.pools.get(identity.poolId);
    if (!pool) throw new CognitoError('ResourceNotFoundException', `Identity '${id}' not found.`);
    if (identity.logins.length) {
      if (!identity.logins.some((p) => p in logins)) {
        throw new CognitoError('NotAuthorizedException', 'Logins don\'t match. Please include at least one valid login for this identity or identity pool.');
      }
      this.checkLogins(pool, logins);
    } else if (!pool.AllowUnauthenticatedIdentities) {
      throw new CognitoError('NotAuthorizedException', 'Unauthenticated access is not supported for this identity pool.');
    }
    const now = this.clock();
    const expiresAt = Math.floor(now / 1000) * 1000 + this.credentialTtlSeconds * 1000;
    const accessKeyId = `ASIA${randomString(16, ALNUM)}`;
    const secret = base64(crypto.getRandomValues(new Uint8Array(30)));
    const token = base64(crypto.getRandomValues(new Uint8Array(180)));
    this.issued.set(accessKeyId, { secretAccessKey: secret, sessionToken: token, expiresAt, identityId: id });
    // Expired keys are kept a day so a late request is told "expired", then forgotten to bound memory.
    for (const [k, v] of this.issued) if ((v.expiresAt ?? 0) < now - 86_400_000) this.issued.delete(k);
    return { IdentityId: id, Credentials: { AccessKeyId: accessKeyId, SecretKey: secret, SessionToken: token, Expiration: expiresAt / 1000 } };
  }
}
