// Credentials from a Cognito identity pool (fromCognitoIdentityPool over the real Cognito Identity client).
import { CognitoIdentityClient, type CognitoIdentityClientConfig } from '@aws-sdk/client-cognito-identity';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-provider-cognito-identity';
import { FetchHttpHandler } from '@smithy/fetch-http-handler';
import type { AwsCredentialIdentity } from '@smithy/types';
import { routeFor } from './endpoints.ts';
import { relayHandler } from './relay-handler.ts';
import { clockObservingHandler } from './service-clock.ts';
import type { AwsSettings } from './settings.ts';

/** A login for an authenticated identity: provider name and its token (kept in memory only). */
export interface Login {
  provider: string;
  token: string;
}

/** Storage for the identity id only (the one thing Cognito lets a client remember); a Map, never a secret. */
class MemoryIdCache {
  private m = new Map<string, string>();
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
}

/** Cognito Identity client config for these settings, routed like every other service (relay, direct, custom). */
export function cognitoClientConfig(s: AwsSettings, origin: string | undefined): CognitoIdentityClientConfig {
  const route = routeFor('cognito-identity', s, origin);
  return {
    region: s.region,
    ...(route.endpoint ? { endpoint: route.endpoint } : {}),
    // Every answer's Date header sets the service clock that credential expiry is judged by.
    requestHandler: clockObservingHandler(route.sendTo ? relayHandler(new FetchHttpHandler(), route.sendTo) : new FetchHttpHandler()),
    maxAttempts: 2,
  };
}

/** A Cognito Identity client for these settings. */
export function cognitoClient(s: AwsSettings, origin: string | undefined): CognitoIdentityClient {
  return new CognitoIdentityClient(cognitoClientConfig(s, origin));
}

/** A function that fetches fresh credentials for the pool in `s` (one GetId per session, then GetCredentialsForIdentity). */
export function cognitoFetcher(
  s: AwsSettings,
  opts: { origin?: string; login?: Login } = {},
): () => Promise<AwsCredentialIdentity> {
  const logins = opts.login ? { [opts.login.provider]: opts.login.token } : undefined;
  const provider = fromCognitoIdentityPool({
    identityPoolId: s.identityPoolId,
    clientConfig: cognitoClientConfig(s, opts.origin),
    ...(logins ? { logins } : {}),
    // An emulator's identities vanish when it restarts: remember the id for this page only there.
    ...(s.endpoint.mode === 'custom' ? { cache: new MemoryIdCache() } : {}),
  });
  return () => provider();
}
