// Shares the main thread's credentials with workers over a MessagePort (comlink): fetched once, never persisted.
import * as Comlink from 'comlink';
import type { AwsCredentialIdentity } from '@smithy/types';
import { RefreshingCredentials } from './refreshing-credentials.ts';
import { serviceClock } from './service-clock.ts';

/** The Cognito identity id credentials from an identity pool carry (fromCognitoIdentityPool adds it). */
export function identityIdOf(c: AwsCredentialIdentity): string | undefined {
  const id = (c as { identityId?: unknown }).identityId;
  return typeof id === 'string' ? id : undefined;
}

/** Credentials as they cross a port, with what this thread knows of the service's clock. */
export type BridgedCredentials = AwsCredentialIdentity & {
  /** Service time minus local time (ms), and the local time it was learned at (0 = never). */
  clock?: { offsetMs: number; sampledAt: number };
};

/** What the main thread exposes on a credential port. */
export interface CredentialServer {
  /** Fresh-enough credentials (the main thread refreshes ahead of expiry, by the service's clock). */
  get(): Promise<BridgedCredentials>;
  /** The service refused `stale` as expired: new credentials (fetched once for every worker that asks). */
  refresh(stale: string): Promise<BridgedCredentials>;
}

/** A credential port to hand (transfer) to one worker, and how to close this thread's end when the run ends. */
export interface OpenCredentialPort {
  port: MessagePort;
  close(): void;
}

// Server ends not yet closed: what a run leaves behind if it forgets to close (tests count them).
const open = new Set<MessagePort>();

/** How many credential ports this thread has opened and not closed. */
export function openCredentialPorts(): number {
  return open.size;
}

function bridged(c: AwsCredentialIdentity): BridgedCredentials {
  // Only the fields a signer needs cross the port (no SDK internals, no functions).
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
    ...(c.expiration ? { expiration: c.expiration } : {}),
    // The Cognito identity names the owner of every snapshot a worker starts.
    ...(identityIdOf(c) ? { identityId: identityIdOf(c) } : {}),
    clock: { offsetMs: serviceClock.offsetMs, sampledAt: serviceClock.sampledAt },
  };
}

/** Main thread: a port for one worker whose every ask is answered from `source`'s cache; close it when the run ends. */
export function openCredentialPort(source: RefreshingCredentials): OpenCredentialPort {
  const { port1, port2 } = new MessageChannel();
  const server: CredentialServer = {
    get: async () => bridged(await source.get()),
    refresh: async (stale) => bridged(await source.refreshRejected(stale)),
  };
  Comlink.expose(server, port1);
  open.add(port1);
  return {
    port: port2,
    close: () => {
      if (!open.delete(port1)) return;
      // Closing this end disentangles the worker's end too, and lets comlink's listener go.
      port1.close();
    },
  };
}

/** Worker: a credential cache that asks the main thread through `port` whenever its copy is due (or refused). */
export function credentialsFromPort(port: MessagePort): RefreshingCredentials {
  const remote = Comlink.wrap<CredentialServer>(port);
  return new RefreshingCredentials(async (req) => {
    const { clock, ...c } = req.stale !== undefined ? await remote.refresh(req.stale) : await remote.get();
    // The main thread may have heard the service's time more recently than this worker (its Cognito answers).
    if (clock) serviceClock.adopt(clock.offsetMs, clock.sampledAt);
    return { ...c, ...(c.expiration ? { expiration: new Date(c.expiration) } : {}) };
  });
}

/** True for a MessagePort (a connection sent to a worker carries one instead of a provider). */
export function isMessagePort(v: unknown): v is MessagePort {
  return typeof MessagePort !== 'undefined' && v instanceof MessagePort;
}
