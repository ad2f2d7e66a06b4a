// The one place that builds SDK clients from a Connection (emulator, custom endpoint, Cognito, relay).
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { applyDeadlines, type DeadlineOptions, type DeadlineStats } from './request-deadline.ts';
import { awsConnectionForWorker, createAwsClients, publicAwsConnection, type AwsConnection, type WorkerConnection } from './aws-connection.ts';
import { emulatorExtension, type EmulatorExtension } from './emulator-extension.ts';

/** Credentials as a value or a provider; held in memory only, never persisted. */
export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Where EBS calls go. Stored in the ledger without `credentials`. */
export type Connection =
  | {
      kind: 'emulator';
      /** IndexedDB database of the in-browser emulator. */
      dbName?: string;
      /** The emulated account encrypts every new snapshot (EBS encryption by default). */
      encryptionByDefault?: boolean;
    }
  | {
      kind: 'endpoint';
      /** e.g. https://127.0.0.1:4566; absent = the AWS endpoint of `region`. */
      endpoint?: string;
      region: string;
      credentials?: Credentials;
    }
  /** AWS through Cognito credentials, relay/direct/custom endpoint (src/aws/aws-connection.ts). */
  | AwsConnection;

/** The EBS and EC2 clients of one connection. */
export interface Clients {
  ebs: EBSClient;
  ec2: EC2Client;
  /** Releases sockets. */
  close(): void;
  /** The in-browser emulator's extension calls (lineage, stored bytes, changes); absent for other connections. */
  emulator?: EmulatorExtension;
}

/** Options that shape the transport. */
export interface ClientOptions {
  /** Send PutSnapshotBlock bodies as Blob (browsers: ~4× faster than Uint8Array bodies). */
  blobBodies?: boolean;
  /** Per-request timeout in ms (endpoint connections). */
  requestTimeout?: number;
  /** Credentials used when the connection carries none (endpoint mode); Node callers pass the default chain. */
  defaultCredentials?: Credentials;
  /** Node only: a request handler (e.g. NodeHttpHandler with TLS options); browsers use fetch. */
  requestHandler?: unknown;
  /** How request deadlines follow observed latency (default DEFAULT_DEADLINES); false: no deadlines. */
  deadlines?: Partial<DeadlineOptions> | false;
  /** Counts requests aborted at their deadline. */
  deadlineStats?: DeadlineStats;
}

/** Puts every request of both clients under a deadline learned from their own latencies. */
function withDeadlines<T extends { ebs: EBSClient; ec2: EC2Client }>(clients: T, opts: ClientOptions): T {
  if (opts.deadlines === false) return clients;
  applyDeadlines(clients.ebs, opts.deadlines ?? {}, opts.deadlineStats);
  applyDeadlines(clients.ec2, opts.deadlines ?? {}, opts.deadlineStats);
  return clients;
}

/** The connection without secrets, safe to store. */
export function publicConnection(c: Connection): Connection {
  if (c.kind === 'emulator') return { kind: 'emulator', ...(c.dbName ? { dbName: c.dbName } : {}), ...(c.encryptionByDefault ? { encryptionByDefault: true } : {}) };
  if (c.kind === 'aws') return publicAwsConnection(c);
  return { kind: 'endpoint', region: c.region, ...(c.endpoint ? { endpoint: c.endpoint } : {}) };
}

/** A short label for a connection, for logs and the UI. */
export function describeConnection(c: Connection): string {
  if (c.kind === 'aws') return `AWS ${c.settings.region} (${c.settings.endpoint.mode === 'custom' ? c.settings.endpoint.url : c.settings.endpoint.mode})`;
  return c.kind === 'emulator' ? `in-browser emulator (${c.dbName ?? 'blockport-emulator'})` : `${c.endpoint ?? `AWS ${c.region}`}`;
}

/**
 * PutSnapshotBlock is an unsigned-body operation: mark the payload UNSIGNED so the signer does not hash each block
 * a second time, and (browsers) hand fetch a Blob body, which Chromium uploads ~4× faster than a Uint8Array.
 */
export function tuneEbsClient(ebs: EBSClient, opts: { blobBodies?: boolean } = {}): EBSClient {
  ebs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutSnapshotBlockCommand') {
        const req = args.request as { headers: Record<string, string>; body?: unknown };
        req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'blockportUnsignedPayload', override: true },
  );
  if (opts.blobBodies && typeof Blob !== 'undefined') {
    ebs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutSnapshotBlockCommand') {
          const req = args.request as { body?: unknown };
          if (req.body instanceof Uint8Array) req.body = new Blob([req.body as Uint8Array<ArrayBuffer>]);
        }
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'blockportBlobBody', override: true },
    );
  }
  return ebs;
}

/** Builds the clients for a connection (real SDK clients; the emulator only swaps the request handler). */
export async function createClients(c: Connection, opts: ClientOptions = {}): Promise<Clients> {
  if (c.kind === 'emulator') {
    const { openBrowserEmulator, createEmulatorHandler, handleEbsRequest, handleEc2Request, EMULATOR_CREDENTIALS } = await import('../emulator/index.ts');
    const { model } = await openBrowserEmulator(c.dbName, c.encryptionByDefault ? { encryptionByDefault: true } : {});
    const common = { region: 'us-east-1', credentials: EMULATOR_CREDENTIALS, maxAttempts: 1 };
    const ebs = new EBSClient({ ...common, requestHandler: createEmulatorHandler((r) => handleEbsRequest(model, r)) });
    const ec2 = new EC2Client({ ...common, requestHandler: createEmulatorHandler((r) => handleEc2Request(model, r)) });
    tuneEbsClient(ebs, opts);
    // The emulator's database connection is the clients' own: closing them closes it.
    return withDeadlines({ ebs, ec2, close: () => (ebs.destroy(), ec2.destroy(), model.store.close()), emulator: emulatorExtension(model) }, opts);
  }
  if (c.kind === 'aws') {
    const { ebs, ec2 } = createAwsClients(c, { handler: opts.requestHandler });
    tuneEbsClient(ebs, opts);
    return withDeadlines({ ebs, ec2, close: () => (ebs.destroy(), ec2.destroy()) }, opts);
  }
  const credentials = c.credentials ?? opts.defaultCredentials;
  const common = {
    region: c.region,
    ...(credentials ? { credentials } : {}),
    ...(opts.requestHandler ? { requestHandler: opts.requestHandler as EBSClient['config']['requestHandler'] } : {}),
  };
  // The engine retries itself (exactly what the service calls retryable), so the SDK must not retry on top.
  const ebs = new EBSClient({ ...common, ...(c.endpoint ? { endpoint: c.endpoint } : {}), maxAttempts: 1 });
  const ec2 = new EC2Client({ ...common, ...(c.endpoint ? { endpoint: c.endpoint } : {}) });
  tuneEbsClient(ebs, opts);
  return withDeadlines({ ebs, ec2, close: () => (ebs.destroy(), ec2.destroy()) }, opts);
}

/**
 * Main thread → one worker: the connection to post (credentials become a port to this thread), what to transfer,
 * and `release` to call when the worker's run ends (it closes the port).
 */
export function connectionForWorker(c: Connection): WorkerConnection<Connection> {
  return c.kind === 'aws' ? awsConnectionForWorker(c) : { connection: c, transfer: [], release: () => undefined };
}

export type { EBSClient, EC2Client };
