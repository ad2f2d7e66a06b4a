// The one place that builds SDK clients from a Connection; Cognito/relay (issue 7) extend only this file.
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Credentials as a value or a provider; held in memory only, never persisted. */
export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Where EBS calls go. Stored in the ledger without `credentials`. */
export type Connection =
  | { kind: 'emulator'; /** IndexedDB database of the in-browser emulator. */ dbName?: string }
  | {
      kind: 'endpoint';
      /** e.g. https://127.0.0.1:4566; absent = the AWS endpoint of `region`. */
      endpoint?: string;
      region: string;
      credentials?: Credentials;
    };

/** The EBS and EC2 clients of one connection. */
export interface Clients {
  ebs: EBSClient;
  ec2: EC2Client;
  /** Releases sockets/databases. */
  close(): void;
}

/** Options that shape the transport. */
export interface ClientOptions {
  /** Send PutSnapshotBlock bodies as Blob (browsers: ~4× faster than Uint8Array bodies). */
  blobBodies?: boolean;
  /** Per-request timeout in ms. */
  requestTimeout?: number;
}

/** The connection without secrets, safe to store. */
export function publicConnection(c: Connection): Connection {
  if (c.kind === 'emulator') return { kind: 'emulator', ...(c.dbName ? { dbName: c.dbName } : {}) };
  return { kind: 'endpoint', region: c.region, ...(c.endpoint ? { endpoint: c.endpoint } : {}) };
}

/** Builds the clients for a connection (real SDK clients; the emulator only swaps the request handler). */
export async function createClients(c: Connection, opts: ClientOptions = {}): Promise<Clients> {
  throw new Error('createClients: not implemented yet');
}

export type { EBSClient, EC2Client };
