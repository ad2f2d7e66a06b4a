// Sign-in with OpenID Connect: the authorization code flow with PKCE for a public client (no secret). The ID token
// lives in memory only; the one-use PKCE verifier and state wait in sessionStorage across the redirect, then go.

/** Where people sign in: the issuer (its discovery document names the endpoints) and the page's public client id. */
export interface SignInSettings {
  issuer: string;
  clientId: string;
}

/** A completed sign-in: the ID token (memory only), who it names, and until when it is good. */
export interface SignedIn {
  idToken: string;
  /** The Cognito Identity login provider name: the issuer without its scheme. */
  provider: string;
  username: string;
  expiresAt: number;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  issuer: string;
}

/** Thrown with a sentence a person can act on. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
}

const PENDING_KEY = 'blockport.sign-in.pending';

/** The login provider name Cognito Identity expects for an issuer (host and path, no scheme). */
export function loginProviderOf(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n: number): string {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function discover(issuer: string, fetchFn: typeof fetch): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let res: Response;
  try {
    res = await fetchFn(url, { cache: 'no-store' });
  } catch {
    throw new SignInError(`The sign-in service at ${issuer} could not be reached: check the issuer address and your network, then try again.`);
  }
  if (!res.ok) throw new SignInError(`The sign-in service at ${issuer} answered ${res.status} for its discovery document: check the issuer address.`);
  const d = (await res.json()) as Partial<Discovery>;
  if (!d.authorization_endpoint || !d.token_endpoint) throw new SignInError(`The sign-in service at ${issuer} does not describe its endpoints: check the issuer address.`);
  return d as Discovery;
}

/** The page's own address without query or fragment: where the sign-in service sends the person back. */
export function redirectUriOf(href: string): string {
  const u = new URL(href);
  return `${u.origin}${u.pathname}`;
}

/** Starts signing in: returns the sign-in page's address to navigate to (the verifier waits in sessionStorage). */
export async function beginSignIn(s: SignInSettings, href: string, opts: { storage?: Storage; fetchFn?: typeof fetch } = {}): Promise<string> {
  const storage = opts.storage ?? sessionStorage;
  const d = await discover(s.issuer, opts.fetchFn ?? fetch);
  const verifier = random(48);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = random(16);
  const nonce = random(16);
  const redirectUri = redirectUriOf(href);
  storage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, redirectUri, issuer: s.issuer, clientId: s.clientId, tokenEndpoint: d.token_endpoint }));
  const u = new URL(d.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: s.clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return u.toString();
}

function claimsOf(idToken: string): Record<string, unknown> {
  const part = idToken.split('.')[1] ?? '';
  try {
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  } catch {
    throw new SignInError('The sign-in service returned an unreadable ID token: sign in again.');
  }
}

/**
 * Finishes a sign-in when `href` is the redirect back (carries code and state): exchanges the code with the verifier.
 * Resolves to undefined when this page load is not a redirect back. The caller removes the code from the address.
 */
export async function completeSignIn(href: string, opts: { storage?: Storage; fetchFn?: typeof fetch } = {}): Promise<SignedIn | undefined> {
  const storage = opts.storage ?? sessionStorage;
  const u = new URL(href);
  const code = u.searchParams.get('code');
  const error = u.searchParams.get('error');
  const raw = storage.getItem(PENDING_KEY);
  if (!code && !error) return undefined;
  storage.removeItem(PENDING_KEY);
  if (!raw) return undefined;
  const p = JSON.parse(raw) as { verifier: string; state: string; nonce: string; redirectUri: string; issuer: string; clientId: string; tokenEndpoint: string };
  if (u.searchParams.get('state') !== p.state) throw new SignInError('The sign-in answer does not belong to this tab (its state differs): sign in again.');
  if (error) throw new SignInError(`Sign-in was refused (${error}${u.searchParams.get('error_description') ? `: ${u.searchParams.get('error_description')}` : ''}): try again.`);
  let res: Response;
  try {
    res = await (opts.fetchFn ?? fetch)(p.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: p.redirectUri, client_id: p.clientId, code_verifier: p.verifier }).toString(),
    });
  } catch {
    throw new SignInError('The sign-in service could not be reached to finish signing in: check your network, then sign in again.');
  }
  const body = (await res.json().catch(() => ({}))) as { id_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.id_token) throw new SignInError(`Signing in could not be finished (${body.error_description ?? body.error ?? res.status}): sign in again.`);
  const c = claimsOf(body.id_token);
  if (c.nonce !== undefined && c.nonce !== p.nonce) throw new SignInError('The ID token was not issued for this sign-in (its nonce differs): sign in again.');
  const username = String(c['cognito:username'] ?? c.preferred_username ?? c.email ?? c.sub ?? 'signed in');
  return { idToken: body.id_token, provider: loginProviderOf(p.issuer), username, expiresAt: typeof c.exp === 'number' ? c.exp * 1000 : Date.now() + 3600_000 };
}
