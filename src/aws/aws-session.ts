// The main thread's AWS session: one credential cache per (settings, login), held in memory for the page's life.
import { cognitoFetcher, type Login } from './cognito-credentials.ts';
import { RefreshingCredentials } from './refreshing-credentials.ts';
import { publicSettings, type AwsSettings } from './settings.ts';

const sessions = new Map<string, RefreshingCredentials>();

function keyOf(s: AwsSettings, login: Login | undefined, origin: string | undefined): string {
  return JSON.stringify([publicSettings(s), login?.provider ?? '', login?.token ?? '', origin ?? '']);
}

/** The shared credential cache for these settings (created on first use; the token only lives in this Map's key). */
export function awsCredentials(s: AwsSettings, opts: { origin?: string; login?: Login } = {}): RefreshingCredentials {
  const key = keyOf(s, opts.login, opts.origin);
  let c = sessions.get(key);
  if (!c) {
    c = new RefreshingCredentials(cognitoFetcher(s, opts));
    sessions.set(key, c);
  }
  return c;
}

/** Forgets every session (e.g. when the person switches connection or signs out). */
export function forgetAwsSessions(): void {
  sessions.clear();
}
