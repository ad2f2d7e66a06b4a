import { awsCredentials, forgetAwsSessions } from '../../aws/aws-session.ts';
import { beginSignIn, completeSignIn, SignInError, type SignedIn } from '../../aws/oidc-sign-in.ts';
import type { Login } from '../../aws/cognito-credentials.ts';
import type { RefreshingCredentials } from '../../aws/refreshing-credentials.ts';
import {
  fetchDeployedSettings,
  loadSettings,
  saveSettings,
  SETTINGS_KEY,
  settingsProblems,
  type AwsSettings,
  type ConnectionSettings,
} from '../../aws/settings.ts';
import { testConnection, type CheckResult } from '../../aws/test-connection.ts';
import { connection } from '../shared/connection.svelte.ts';

/** The form's fields, as typed (strings), before they become settings. */
export interface ConnectionForm {
  kind: 'emulator' | 'aws';
  region: string;
  identityPoolId: string;
  mode: 'relay' | 'direct' | 'custom';
  basePath: string;
  customUrl: string;
  loginProvider: string;
  /** Memory only: never stored, never logged. */
  loginToken: string;
  /** In-browser emulator: the emulated account encrypts every new snapshot. */
  encryptionByDefault: boolean;
  /** OpenID Connect issuer and public client id of the sign-in (stack outputs SignInIssuer, SignInClientId). */
  signInIssuer: string;
  signInClientId: string;
}

function formOf(s: ConnectionSettings): ConnectionForm {
  const aws = s.kind === 'aws' ? s : undefined;
  return {
    kind: s.kind,
    region: aws?.region ?? '',
    identityPoolId: aws?.identityPoolId ?? '',
    mode: aws?.endpoint.mode ?? 'relay',
    basePath: aws?.endpoint.mode === 'relay' ? aws.endpoint.basePath : '',
    customUrl: aws?.endpoint.mode === 'custom' ? aws.endpoint.url : '',
    loginProvider: aws?.loginProvider ?? '',
    loginToken: '',
    encryptionByDefault: s.kind === 'emulator' && s.encryptionByDefault === true,
    signInIssuer: aws?.signIn?.issuer ?? '',
    signInClientId: aws?.signIn?.clientId ?? '',
  };
}

/** The settings a form describes (nothing secret in them). */
export function settingsOf(f: ConnectionForm): ConnectionSettings {
  if (f.kind === 'emulator') return { kind: 'emulator', ...(f.encryptionByDefault ? { encryptionByDefault: true } : {}) };
  const endpoint: AwsSettings['endpoint'] =
    f.mode === 'relay' ? { mode: 'relay', basePath: f.basePath.trim() } : f.mode === 'custom' ? { mode: 'custom', url: f.customUrl.trim() } : { mode: 'direct' };
  return {
    kind: 'aws',
    region: f.region.trim(),
    identityPoolId: f.identityPoolId.trim(),
    endpoint,
    ...(f.loginProvider.trim() ? { loginProvider: f.loginProvider.trim() } : {}),
    ...(f.signInIssuer.trim() ? { signIn: { issuer: f.signInIssuer.trim().replace(/\/+$/, ''), clientId: f.signInClientId.trim() } } : {}),
  };
}

/** The connection view's state: the form, Test connection's result, and the credentials in use (memory only). */
class ConnectionSettingsState {
  form = $state<ConnectionForm>(formOf({ kind: 'emulator' }));
  saved = $state.raw<ConnectionSettings>({ kind: 'emulator' });
  testing = $state(false);
  result = $state.raw<CheckResult | null>(null);
  problems = $state.raw<string[]>([]);
  /** Credential fetches of the connection in use: 1 = first, more = refreshes (shown so a person can see it work). */
  fetches = $state(0);
  expiration = $state<number | undefined>(undefined);
  /** Who is signed in (memory only: the ID token is never stored); null = nobody. */
  signedIn = $state.raw<Pick<SignedIn, 'username' | 'expiresAt'> | null>(null);
  /** Why signing in failed, as a sentence; null when it did not. */
  signInProblem = $state<string | null>(null);
  #session: SignedIn | undefined;
  #creds: RefreshingCredentials | undefined;
  #unsubscribe: (() => void) | undefined;

  /** Restores what was saved, else what the deployment suggests (blockport-config.json), and makes it the page's connection. */
  async restore(): Promise<void> {
    await this.finishSignIn();
    const stored = loadSettings(localStorage);
    this.form = formOf(stored);
    this.use(stored, this.login());
    if (localStorage.getItem(SETTINGS_KEY) !== null) return;
    const untouched = JSON.stringify(this.form);
    const deployed = await fetchDeployedSettings(location.href);
    // Only when nothing was saved and the person has not started editing meanwhile.
    if (!deployed || JSON.stringify(this.form) !== untouched || localStorage.getItem(SETTINGS_KEY) !== null) return;
    this.form = formOf(deployed);
    this.use(deployed, this.login());
  }

  /** Validates and stores the form (without the login token) and switches new uploads to it. */
  apply(): boolean {
    const s = settingsOf(this.form);
    this.problems = settingsProblems(s);
    if (this.problems.length) return false;
    saveSettings(localStorage, s);
    this.use(s, this.login());
    return true;
  }

  /** Runs Test connection with the form as it is (applying it when it passes). */
  async test(): Promise<void> {
    const s = settingsOf(this.form);
    this.problems = settingsProblems(s);
    this.result = null;
    if (this.problems.length || s.kind !== 'aws') return;
    this.testing = true;
    try {
      const creds = awsCredentials(s, { origin: location.origin, login: this.login() });
      creds.invalidate(); // a test proves fresh credentials, not a cached success
      this.result = await testConnection(s, creds, { origin: location.origin });
      if (this.result.ok) this.apply();
    } finally {
      this.testing = false;
    }
  }

  /** Sends the person to the sign-in page of the connection in use; they come back signed in. */
  async signIn(): Promise<void> {
    const s = this.saved;
    this.signInProblem = null;
    if (s.kind !== 'aws' || !s.signIn) {
      this.signInProblem = 'This connection has no sign-in: enter the sign-in issuer and client id in Connection, then save.';
      return;
    }
    try {
      location.assign(await beginSignIn(s.signIn, location.href));
    } catch (e) {
      this.signInProblem = e instanceof SignInError ? e.message : `Signing in could not start (${(e as Error).message}): try again.`;
    }
  }

  /** Forgets the ID token and the credentials it brought (they live in memory only). */
  signOut(): void {
    this.#session = undefined;
    this.signedIn = null;
    forgetAwsSessions();
    this.use(this.saved, this.login());
  }

  /** When this page load is the sign-in's redirect back: exchange the code, then take it out of the address bar. */
  private async finishSignIn(): Promise<void> {
    try {
      const done = await completeSignIn(location.href);
      if (!done) return;
      this.#session = done;
      this.signedIn = { username: done.username, expiresAt: done.expiresAt };
    } catch (e) {
      this.signInProblem = e instanceof SignInError ? e.message : `Signing in could not be finished (${(e as Error).message}): sign in again.`;
    } finally {
      const u = new URL(location.href);
      if (u.searchParams.has('code') || u.searchParams.has('error')) {
        for (const k of ['code', 'state', 'iss', 'error', 'error_description', 'session_state']) u.searchParams.delete(k);
        history.replaceState(history.state, '', u.toString());
      }
    }
  }

  private login(): Login | undefined {
    if (this.#session) return { provider: this.#session.provider, token: this.#session.idToken };
    const provider = this.form.loginProvider.trim();
    const token = this.form.loginToken.trim();
    return provider && token ? { provider, token } : undefined;
  }

  private use(s: ConnectionSettings, login: Login | undefined): void {
    this.saved = s;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (s.kind === 'emulator') {
      this.#creds = undefined;
      connection.set({ kind: 'emulator', ...(s.encryptionByDefault ? { encryptionByDefault: true } : {}) });
      return;
    }
    const creds = awsCredentials(s, { origin: location.origin, login });
    this.#creds = creds;
    this.fetches = creds.fetches;
    this.expiration = creds.expiration;
    this.#unsubscribe = creds.onEvent(() => {
      this.fetches = creds.fetches;
      this.expiration = creds.expiration;
    });
    connection.set({ kind: 'aws', settings: s, origin: location.origin, credentials: creds.provider });
  }
}

/** The one connection settings state of the page. */
export const connectionSettings = new ConnectionSettingsState();

// The saved connection applies from page load, whichever view opens first.
if (typeof window !== 'undefined') void connectionSettings.restore();
