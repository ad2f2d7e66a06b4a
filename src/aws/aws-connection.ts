// AWS-mode clients for clients.ts: Cognito credentials (shared, refreshed), relay/direct/custom routing, the tag.
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { awsClientConfig, retryAfterClockCorrection, retryAfterExpiredCredentials, tagStartedSnapshots } from './aws-clients.ts';
import { awsCredentials } from './aws-session.ts';
import { credentialsFromPort, identityIdOf, isMessagePort, openCredentialPort } from './credential-bridge.ts';
import { RefreshingCredentials, refreshingOf } from './refreshing-credentials.ts';
import { observeServiceClock } from './service-clock.ts';
import { publicSettings, type AwsSettings } from './settings.ts';

/** An AWS-mode connection: settings (stored), the page origin (relay), credentials (memory only, or a port in workers). */
export interface AwsConnection {
  kind: 'aws';
  settings: AwsSettings;
  /** The Blockport page's origin; relay mode sends requests there. Defaults to location.origin. */
  origin?: string;
  /** A provider (main thread), a MessagePort to the main thread's provider (workers); absent = the pool's unauthenticated identity. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider | MessagePort;
}

function pageOrigin(c: AwsConnection): string | undefined {
  return c.origin ?? (typeof location !== 'undefined' ? location.origin : undefined);
}

// Worker-side caches, one per port, so every client in a worker shares one refresh.
const fromPorts = new WeakMap<MessagePort, RefreshingCredentials>();
// Main-thread wrappers of plain providers, so every worker port shares one cache.
const wrapped = new WeakMap<AwsCredentialIdentityProvider, RefreshingCredentials>();

/** The credential cache behind a connection (a refreshable one), or a fixed provider when the caller gave one. */
function credentialsOf(c: AwsConnection): RefreshingCredentials | AwsCredentialIdentityProvider {
  const cr = c.credentials;
  if (isMessagePort(cr)) {
    let r = fromPorts.get(cr);
    if (!r) fromPorts.set(cr, (r = credentialsFromPort(cr)));
    return r;
  }
  if (typeof cr === 'function') return refreshingOf(cr) ?? cr;
  if (cr) return async () => cr;
  return awsCredentials(c.settings, { origin: pageOrigin(c) });
}

/** The EBS and EC2 clients of an AWS connection; `handler` is the transport the caller would use anyway. */
export function createAwsClients(c: AwsConnection, opts: { handler?: unknown; maxAttempts?: number } = {}): { ebs: EBSClient; ec2: EC2Client } {
  const source = credentialsOf(c);
  const credentials = source instanceof RefreshingCredentials ? source.provider : source;
  const origin = pageOrigin(c);
  const handler = opts.handler as Parameters<typeof awsClientConfig>[4];
  const ebs = new EBSClient({ ...awsClientConfig('ebs', c.settings, credentials, origin, handler), maxAttempts: opts.maxAttempts ?? 1 });
  const ec2 = new EC2Client(awsClientConfig('ec2', c.settings, credentials, origin, handler));
  tagStartedSnapshots(ebs, credentials);
  for (const client of [ebs, ec2]) {
    retryAfterClockCorrection(client);
    observeServiceClock(client);
    if (source instanceof RefreshingCredentials) retryAfterExpiredCredentials(client, source);
  }
  return { ebs, ec2 };
}

/** The Cognito identity id of the connection's credentials (the owner tag of the person's snapshots), if any. */
export async function ownerOf(c: AwsConnection): Promise<string | undefined> {
  const source = credentialsOf(c);
  return identityIdOf(await (source instanceof RefreshingCredentials ? source.get() : source()));
}

/** The connection as stored (ledger, settings): no credentials, no port. */
export function publicAwsConnection(c: AwsConnection): AwsConnection {
  return { kind: 'aws', settings: publicSettings(c.settings) as AwsSettings };
}

/** A connection ready to post to one worker: what to transfer with it, and how to close its port when the run ends. */
export interface WorkerConnection<C> {
  connection: C;
  transfer: Transferable[];
  /** Closes this thread's end of the credential port (finish, failure, pause, cancel); idempotent. */
  release(): void;
}

/**
 * Main thread → one worker: the connection with its credentials replaced by a fresh MessagePort to this thread's
 * cache (pass `transfer` to comlink's transfer()). Credentials are fetched and refreshed here only.
 */
export function awsConnectionForWorker(c: AwsConnection): WorkerConnection<AwsConnection> {
  let source: RefreshingCredentials;
  const cr = c.credentials;
  if (typeof cr === 'function') {
    // A cache's own provider: serve from that cache, so a worker's refused key refreshes it (not a copy).
    let r = refreshingOf(cr) ?? wrapped.get(cr);
    if (!r) wrapped.set(cr, (r = new RefreshingCredentials(() => cr())));
    source = r;
  } else if (cr && !isMessagePort(cr)) {
    source = new RefreshingCredentials(async () => cr);
  } else {
    source = awsCredentials(c.settings, { origin: pageOrigin(c) });
  }
  const { port, close } = openCredentialPort(source);
  return {
    connection: { kind: 'aws', settings: c.settings, ...(pageOrigin(c) ? { origin: pageOrigin(c) } : {}), credentials: port },
    transfer: [port],
    release: close,
  };
}
