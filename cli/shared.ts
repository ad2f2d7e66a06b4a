// What every verb of the CLI builds the same way: the usage error, the endpoint flag, and the Node SDK clients.
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createClients, type Clients, type Connection } from '../src/aws/clients.ts';

/** A bad command line, with the sentence to print. */
export class UsageError extends Error {}

/** Checks the value of --endpoint; returns it. */
export function endpointFlag(url: string): string {
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--endpoint needs a URL starting with http:// or https://, got ${url}.`);
  return url;
}

/** SDK clients for a Node command: the standard credential chain, keep-alive sockets for `sockets` blocks in flight. */
export function nodeClients(connection: Connection, opts: { verifySsl: boolean; sockets: number }): Promise<Clients> {
  const agentOpts = { keepAlive: true, maxSockets: Math.max(50, opts.sockets * 2) };
  const requestHandler = new NodeHttpHandler({
    httpAgent: new HttpAgent(agentOpts),
    httpsAgent: new HttpsAgent({ ...agentOpts, rejectUnauthorized: opts.verifySsl }),
    requestTimeout: 120_000,
  });
  return createClients(connection, { defaultCredentials: fromNodeProviderChain(), requestHandler });
}
