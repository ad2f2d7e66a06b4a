// Shares the main thread's credentials with workers over a MessagePort (comlink): fetched once, never persisted.
import * as Comlink from 'comlink';
import type { AwsCredentialIdentity } from '@smithy/types';
import { RefreshingCredentials } from './refreshing-credentials.ts';

/** What the main thread exposes on a credential port. */
export interface CredentialServer {
  /** Fresh-enough credentials (the main thread refreshes ahead of expiry). */
  get(): Promise<AwsCredentialIdentity>;
}

/** Main thread: a port to hand (transfer) to one worker; every ask is answered from `source`'s cache. */
export function credentialPort(source: RefreshingCredentials): MessagePort {
  const { port1, port2 } = new MessageChannel();
  const server: CredentialServer = {
    async get() {
      const c = await source.get();
      // Only the fields a signer needs cross the port (no SDK internals, no functions).
      return {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
        ...(c.expiration ? { expiration: c.expiration } : {}),
      };
    },
  };
  Comlink.expose(server, port1);
  return port2;
}

/** Worker: a credential cache that asks the main thread through `port` whenever its copy is due for refresh. */
export function credentialsFromPort(port: MessagePort): RefreshingCredentials {
  const remote = Comlink.wrap<CredentialServer>(port);
  return new RefreshingCredentials(async () => {
    const c = await remote.get();
    return { ...c, ...(c.expiration ? { expiration: new Date(c.expiration) } : {}) };
  });
}

/** True for a MessagePort (a connection sent to a worker carries one instead of a provider). */
export function isMessagePort(v: unknown): v is MessagePort {
  return typeof MessagePort !== 'undefined' && v instanceof MessagePort;
}
