// A minimal OpenID Connect provider for offline sign-in: discovery, a login form, the code flow with PKCE (S256,
// public clients only), RS256 ID tokens and their JWKS. It stands in for a Cognito user pool's hosted UI.

import { createHash, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { jsonResponse, textBytes, type EmuResponse } from '../src/emulator/http.ts';
import type { IncomingRequest } from './app.ts';

/** Where the provider lives under the emulator's origin. */
export const OIDC_PATH = '/oidc';

export interface OidcOptions {
  /** username → password. */
  users: Map<string, string>;
  /** The one public client allowed (the Blockport page). */
  clientId: string;
  /** ID token lifetime in seconds. */
  tokenTtlSeconds?: number;
  clock?: () => number;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  username: string;
  nonce?: string;
  expiresAt: number;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function form(body: Uint8Array): URLSearchParams {
  return new URLSearchParams(new TextDecoder().decode(body));
}

function oauthError(status: number, error: string, description: string): EmuResponse {
  return jsonResponse(status, { error, error_description: description }, { 'Cache-Control': 'no-store' });
}

/** The provider: its issuer is `<origin>/oidc`, fixed once the server knows its port. */
export class OidcProvider {
  private readonly key: { privateKey: KeyObject; publicKey: KeyObject };
  private readonly kid = b64url(randomBytes(8));
  private readonly codes = new Map<string, PendingCode>();
  private readonly clock: () => number;
  issuer = '';

  constructor(readonly opts: OidcOptions) {
    this.key = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.clock = opts.clock ?? Date.now;
  }

  /** The login provider name Cognito Identity knows this issuer by (issuer without the scheme). */
  get providerName(): string {
    return this.issuer.replace(/^https?:\/\//, '');
  }

  /** The stable subject of a user (what Cognito ties the identity to). */
  subjectOf(username: string): string {
    const h = createHash('sha256').update(`oidc-user:${username}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** Answers a request under /oidc, or undefined when the path is not the provider's. */
  handle(req: IncomingRequest): EmuResponse | undefined {
    const path = req.path.slice(OIDC_PATH.length).replace(/\/+$/, '');
    const m = req.method.toUpperCase();
    if (path === '/.well-known/openid-configuration' && m === 'GET') return jsonResponse(200, this.discovery());
    if (path === '/jwks' && m === 'GET') return jsonResponse(200, this.jwks());
    if (path === '/authorize' && m === 'GET') return this.authorizeForm(new URLSearchParams(req.rawQuery));
    if (path === '/authorize' && m === 'POST') return this.authorizeSubmit(form(req.body));
    if (path === '/token' && m === 'POST') return this.token(form(req.body));
    return undefined;
  }

  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      authorization_endpoint: `${this.issuer}/authorize`,
      token_endpoint: `${this.issuer}/token`,
      jwks_uri: `${this.issuer}/jwks`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid'],
    };
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: [{ ...this.key.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' }] };
  }

  /** Problems with an authorization request, as a sentence (shown on the page, never redirected: the URI may be bad). */
  private checkAuthorize(p: URLSearchParams): string | undefined {
    if (p.get('response_type') !== 'code') return 'response_type must be "code" (the authorization code flow).';
    if (p.get('client_id') !== this.opts.clientId) return `Unknown client_id "${p.get('client_id') ?? ''}": this provider serves the client "${this.opts.clientId}".`;
    const uri = p.get('redirect_uri') ?? '';
    if (!/^https?:\/\/[^#]+$/.test(uri)) return 'redirect_uri must be an http(s) address without a fragment.';
    if (p.get('code_challenge_method') !== 'S256' || !/^[\w-]{43}$/.test(p.get('code_challenge') ?? '')) {
      return 'PKCE is required: send code_challenge (43 characters, base64url of SHA-256) with code_challenge_method=S256.';
    }
    if (!(p.get('scope') ?? '').split(' ').includes('openid')) return 'scope must include "openid".';
    return undefined;
  }

  private page(status: number, body: string): EmuResponse {
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>Sign in · Blockport emulator</title></head><body>${body}</body></html>`;
    return { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY' }, body: textBytes(html) };
  }

  private authorizeForm(p: URLSearchParams, problem?: string): EmuResponse {
    const bad = this.checkAuthorize(p);
    if (bad) return this.page(400, `<h1>Sign-in request refused</h1><p role="alert">${esc(bad)}</p>`);
    const keep = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope', 'nonce'];
    const hidden = keep.filter((k) => p.has(k)).map((k) => `<input type="hidden" name="${k}" value="${esc(p.get(k)!)}">`).join('');
    return this.page(
      problem ? 401 : 200,
      `<h1>Sign in to the Blockport emulator</h1>${problem ? `<p role="alert">${esc(problem)}</p>` : ''}` +
        `<form method="post" action="${esc(this.issuer)}/authorize">${hidden}` +
        '<label>User name <input name="username" autocomplete="username" required></label> ' +
        '<label>Password <input name="password" type="password" autocomplete="current-password" required></label> ' +
        '<button type="submit">Sign in</button></form>',
    );
  }

  private authorizeSubmit(p: URLSearchParams): EmuResponse {
    if (this.checkAuthorize(p)) return this.authorizeForm(p);
    const username = p.get('username') ?? '';
    const password = this.opts.users.get(username);
    if (password === undefined || password !== (p.get('password') ?? '')) {
      return this.authorizeForm(p, 'That user name and password do not match: check them and sign in again.');
    }
    const code = b64url(randomBytes(24));
    const now = this.clock();
    for (const [k, v] of this.codes) if (v.expiresAt < now) this.codes.delete(k);
    this.codes.set(code, {
      clientId: p.get('client_id')!,
      redirectUri: p.get('redirect_uri')!,
      challenge: p.get('code_challenge')!,
      username,
      ...(p.get('nonce') ? { nonce: p.get('nonce')! } : {}),
      expiresAt: now + 5 * 60_000,
    });
    const to = new URL(p.get('redirect_uri')!);
    to.searchParams.set('code', code);
    if (p.get('state') !== null) to.searchParams.set('state', p.get('state')!);
    to.searchParams.set('iss', this.issuer);
    return { status: 302, headers: { Location: to.toString(), 'Cache-Control': 'no-store' }, body: new Uint8Array(0) };
  }

  private token(p: URLSearchParams): EmuResponse {
    if (p.get('grant_type') !== 'authorization_code') return oauthError(400, 'unsupported_grant_type', 'Only grant_type=authorization_code is supported.');
    const code = this.codes.get(p.get('code') ?? '');
    // A code is good once, whatever happens next.
    if (code) this.codes.delete(p.get('code')!);
    if (!code || code.expiresAt < this.clock()) return oauthError(400, 'invalid_grant', 'The authorization code is unknown, used or expired: sign in again.');
    if (p.get('client_id') !== code.clientId) return oauthError(400, 'invalid_grant', 'The code was issued to another client.');
    if (p.get('redirect_uri') !== code.redirectUri) return oauthError(400, 'invalid_grant', 'redirect_uri differs from the one the code was issued for.');
    const verifier = p.get('code_verifier') ?? '';
    if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier) || b64url(createHash('sha256').update(verifier).digest()) !== code.challenge) {
      return oauthError(400, 'invalid_grant', 'The PKCE code_verifier does not match the code_challenge.');
    }
    const ttl = this.opts.tokenTtlSeconds ?? 3600;
    const iat = Math.floor(this.clock() / 1000);
    const idToken = this.signJwt({
      iss: this.issuer,
      sub: this.subjectOf(code.username),
      aud: code.clientId,
      iat,
      exp: iat + ttl,
      auth_time: iat,
      preferred_username: code.username,
      ...(code.nonce ? { nonce: code.nonce } : {}),
    });
    return jsonResponse(200, { id_token: idToken, access_token: b64url(randomBytes(24)), token_type: 'Bearer', expires_in: ttl }, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  }

  signJwt(claims: Record<string, unknown>): string {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${b64url(sign('sha256', Buffer.from(`${head}.${body}`), this.key.privateKey))}`;
  }

  /** Verifies an ID token of this provider for its client; resolves to the subject (what Cognito's GetId does). */
  async verifyIdToken(token: string): Promise<string> {
    const [h, b, s] = token.split('.');
    if (!h || !b || !s) throw new Error('The token is not a JWT.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string; kid?: string };
    if (header.alg !== 'RS256' || header.kid !== this.kid) throw new Error('The token is not signed by this provider.');
    if (!verify('sha256', Buffer.from(`${h}.${b}`), this.key.publicKey, Buffer.from(s, 'base64url'))) throw new Error('The token signature is invalid.');
    const c = JSON.parse(Buffer.from(b, 'base64url').toString()) as { iss?: string; aud?: string; exp?: number; sub?: string };
    if (c.iss !== this.issuer) throw new Error('The token issuer does not match.');
    if (c.aud !== this.opts.clientId) throw new Error('The token audience does not match.');
    if (typeof c.exp !== 'number' || c.exp * 1000 < this.clock()) throw new Error('Token is expired.');
    if (typeof c.sub !== 'string') throw new Error('The token has no subject.');
    return c.sub;
  }
}
