// Connection settings as the person chose them: public ids and endpoints only, never a secret (DESIGN principle 7).

/** How AWS-mode requests reach the service. */
export type EndpointMode =
  | { mode: 'relay'; /** Path prefix on the page's origin; '' = `/snapshots…` at the root (CloudFront template). */ basePath: string }
  | { mode: 'direct' }
  | { mode: 'custom'; /** e.g. http://127.0.0.1:4566 (the emulator server); every service goes there. */ url: string };

/** AWS mode: a region, a Cognito identity pool and an endpoint mode. */
export interface AwsSettings {
  kind: 'aws';
  region: string;
  identityPoolId: string;
  endpoint: EndpointMode;
  /** Login provider name for authenticated identities (e.g. accounts.google.com); its token is kept in memory only. */
  loginProvider?: string;
  /** Where people sign in (OpenID Connect code flow with PKCE); the ID token is kept in memory only. */
  signIn?: { issuer: string; clientId: string };
}

/** What the app connects to. */
export type ConnectionSettings = { kind: 'emulator'; /** The emulated account encrypts every new snapshot. */ encryptionByDefault?: boolean } | AwsSettings;

/** The key under which settings are stored in localStorage. */
export const SETTINGS_KEY = 'blockport.connection';

/** The default: the in-browser emulator. */
export const DEFAULT_SETTINGS: ConnectionSettings = { kind: 'emulator' };

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const POOL_ID = /^[\w-]+:[0-9a-f-]+$/;

/** Every problem with these settings, as sentences; empty when they can be used. */
export function settingsProblems(s: ConnectionSettings): string[] {
  if (s.kind === 'emulator') return [];
  const out: string[] = [];
  if (!REGION.test(s.region)) out.push(`"${s.region}" is not an AWS region name: use one like eu-west-1.`);
  if (!POOL_ID.test(s.identityPoolId)) {
    out.push(`"${s.identityPoolId}" is not a Cognito identity pool id: copy it from the stack output IdentityPoolId (region:uuid).`);
  } else if (REGION.test(s.region) && s.identityPoolId.split(':')[0] !== s.region) {
    out.push(`The identity pool ${s.identityPoolId} belongs to ${s.identityPoolId.split(':')[0]}, not ${s.region}: pick the pool's region.`);
  }
  if (s.endpoint.mode === 'relay' && s.endpoint.basePath && !/^\/[\w\-./]*[^/]$/.test(s.endpoint.basePath)) {
    out.push(`The relay base path "${s.endpoint.basePath}" must start with / and not end with / (or be empty).`);
  }
  if (s.endpoint.mode === 'custom') {
    let url: URL | undefined;
    try {
      url = new URL(s.endpoint.url);
    } catch {
      /* reported below */
    }
    if (!url || !/^https?:$/.test(url.protocol)) out.push(`"${s.endpoint.url}" is not an http(s) URL: enter one like http://127.0.0.1:4566.`);
  }
  if (s.loginProvider !== undefined && !/^[\w.:/-]+$/.test(s.loginProvider)) {
    out.push(`"${s.loginProvider}" is not a login provider name (e.g. accounts.google.com or cognito-idp.<region>.amazonaws.com/<user pool id>).`);
  }
  if (s.signIn !== undefined) {
    if (!/^https?:\/\/[^\s?#]+$/.test(s.signIn.issuer)) out.push(`"${s.signIn.issuer}" is not a sign-in issuer address: use the stack output SignInIssuer (https://cognito-idp.<region>.amazonaws.com/<user pool id>).`);
    if (!/^[\w+-]{1,128}$/.test(s.signIn.clientId)) out.push(`"${s.signIn.clientId}" is not an app client id: use the stack output SignInClientId.`);
  }
  return out;
}

/** Keeps only the known, non-secret fields (whatever the input carried). */
export function publicSettings(s: ConnectionSettings): ConnectionSettings {
  if (s.kind !== 'aws') return { kind: 'emulator', ...(s.encryptionByDefault === true ? { encryptionByDefault: true } : {}) };
  const e = s.endpoint;
  const endpoint: EndpointMode =
    e.mode === 'relay' ? { mode: 'relay', basePath: e.basePath ?? '' } : e.mode === 'custom' ? { mode: 'custom', url: e.url } : { mode: 'direct' };
  return {
    kind: 'aws',
    region: s.region,
    identityPoolId: s.identityPoolId,
    endpoint,
    ...(s.loginProvider ? { loginProvider: s.loginProvider } : {}),
    ...(s.signIn && typeof s.signIn.issuer === 'string' && typeof s.signIn.clientId === 'string' ? { signIn: { issuer: s.signIn.issuer, clientId: s.signIn.clientId } } : {}),
  };
}

/** Parses stored or served settings; undefined when they are not usable. */
export function parseSettings(text: string | null | undefined): ConnectionSettings | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as ConnectionSettings;
    if (v?.kind === 'emulator') return publicSettings(v);
    if (v?.kind !== 'aws' || typeof v.region !== 'string' || typeof v.identityPoolId !== 'string') return undefined;
    if (!v.endpoint || !['relay', 'direct', 'custom'].includes(v.endpoint.mode)) return undefined;
    const s = publicSettings(v);
    return settingsProblems(s).length ? undefined : s;
  } catch {
    return undefined;
  }
}

/** Minimal storage interface (localStorage in the page; a Map in tests). */
export interface SettingsStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Reads the stored settings, falling back to the deployed defaults, then to the in-browser emulator. */
export function loadSettings(storage: SettingsStorage, deployed?: ConnectionSettings): ConnectionSettings {
  return parseSettings(storage.getItem(SETTINGS_KEY)) ?? deployed ?? DEFAULT_SETTINGS;
}

/** Stores the settings without anything secret; refuses unusable ones. */
export function saveSettings(storage: SettingsStorage, s: ConnectionSettings): void {
  const problems = settingsProblems(s);
  if (problems.length) throw new Error(problems.join(' '));
  storage.setItem(SETTINGS_KEY, JSON.stringify(publicSettings(s)));
}

/** Fetches `blockport-config.json` written by deploy/deploy.sh next to the site; undefined when absent or unusable. */
export async function fetchDeployedSettings(base: string, fetchFn: typeof fetch = fetch): Promise<ConnectionSettings | undefined> {
  try {
    const res = await fetchFn(new URL('blockport-config.json', base), { cache: 'no-store' });
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return undefined;
    return parseSettings(await res.text());
  } catch {
    return undefined;
  }
}
