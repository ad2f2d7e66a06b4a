// AWS-mode clients for clients.ts: Cognito credentials (shared, refreshed), relay/direct/custom routing, the tag.
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { awsClientConfig, retryAfterClockCorrection, tagStartedSnapshots } from './aws-clients.ts';
import { awsCredentials } from './aws-session.ts';
import { credentialPort, credentialsFromPort, isMessagePort } from './credential-bridge.ts';
import { RefreshingCredentials } from './refreshing-credentials.ts';
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

function providerOf(c: AwsConnection): AwsCredentialIdentityProvider {
  const cr = c.credentials;
  if (isMessagePort(cr)) {
    let r = fromPorts.get(cr);
    if (!r) fromPorts.set(cr, (r = credentialsFromPort(cr)));
    return r.provider;
  }
  if (typeof cr === 'function') return cr;
  if (cr) return async () => cr;
  return awsCredentials(c.settings, { origin: pageOrigin(c) }).provider;
}

/** The EBS and EC2 clients of an AWS connection; `handler` is the transport the caller would use anyway. */
export function createAwsClients(c: AwsConnection, opts: { handler?: unknown; maxAttempts?: number } = {}): { ebs: EBSClient; ec2: EC2Client } {
  const credentials = providerOf(c);
  const origin = pageOrigin(c);
  const handler = opts.handler as Parameters<typeof awsClientConfig>[4];
  const ebs = new EBSClient({ ...awsClientConfig('ebs', c.settings, credentials, origin, handler), maxAttempts: opts.maxAttempts ?? 1 });
  const ec2 = new EC2Client(awsClientConfig('ec2', c.settings, credentials, origin, handler));
  tagStartedSnapshots(ebs);
  retryAfterClockCorrection(ebs);
  retryAfterClockCorrection(ec2);
  return { ebs, ec2 };
}

/** The connection as stored (ledger, settings): no credentials, no port. */
export function publicAwsConnection(c: AwsConnection): AwsConnection {
  return { kind: 'aws', settings: publicSettings(c.settings) as AwsSettings };
}

/**
 * Main thread → one worker: the connection with its credentials replaced by a fresh MessagePort to this thread's
 * cache (pass `transfer` to comlink's transfer()). Credentials are fetched and refreshed here only.
 */
export function awsConnectionForWorker(c: AwsConnection): { connection: AwsConnection; transfer: Transferable[] } {
  let source: RefreshingCredentials;
  const cr = c.credentials;
  if (typeof cr === 'function') {
    let r = wrapped.get(cr);
    if (!r) wrapped.set(cr, (r = new RefreshingCredentials(() => cr())));
    source = r;
  } else if (cr && !isMessagePort(cr)) {
    source = new RefreshingCredentials(async () => cr);
  } else {
    source = awsCredentials(c.settings, { origin: pageOrigin(c) });
  }
  const port = credentialPort(source);
  return { connection: { kind: 'aws', settings: c.settings, ...(pageOrigin(c) ? { origin: pageOrigin(c) } : {}), credentials: port }, transfer: [port] };
}
