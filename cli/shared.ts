// What every verb of the CLI builds the same way: the usage error, the common flags, the Region, the Node SDK
// clients, and the sentences for errors every verb can meet.
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createClients, type Clients, type Connection } from '../src/aws/clients.ts';
import { DownloadError } from '../src/engine/download/download-error.ts';

/** A bad command line, with the sentence to print. */
export class UsageError extends Error {}

/** Checks the value of --endpoint; returns it. */
export function endpointFlag(url: string): string {
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--endpoint needs a URL starting with http:// or https://, got ${url}.`);
  return url;
}

/** Checks a whole-number flag value (undefined: the value was missing); returns it. */
export function wholeNumber(flag: string, v: string | undefined, lo: number, hi: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${flag} needs a whole number between ${lo} and ${hi}, got ${v ?? 'nothing'}.`);
  return n;
}

/** Checks a snapshot id the way the service does, with a sentence. */
export function checkSnapshotId(id: string): string {
  if (!/^snap-[0-9a-f]+$/.test(id) || id.length > 64) throw new UsageError(`${id} is not a snapshot id (snap- followed by hex digits).`);
  return id;
}

/** The Region: --region, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1 with --endpoint; undefined when none. */
export function regionOf(flag: { region?: string; endpoint?: string }): string | undefined {
  return flag.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (flag.endpoint ? 'us-east-1' : undefined);
}

/** The sentence when no Region is given. */
export const NO_REGION = 'no AWS Region: pass --region, or set AWS_REGION.';

/** SDK clients for a Node command: the standard credential chain, keep-alive sockets for `sockets` blocks in flight. */
export function nodeClients(connection: Connection, opts: { verifySsl: boolean; sockets: number; requestTimeoutMs?: number }): Promise<Clients> {
  const agentOpts = { keepAlive: true, maxSockets: Math.max(50, opts.sockets) };
  const requestHandler = new NodeHttpHandler({
    httpAgent: new HttpAgent(agentOpts),
    httpsAgent: new HttpsAgent({ ...agentOpts, rejectUnauthorized: opts.verifySsl }),
    requestTimeout: opts.requestTimeoutMs ?? 120_000,
  });
  return createClients(connection, { defaultCredentials: fromNodeProviderChain(), requestHandler });
}

/** The sentence when the standard chain found no credentials, or undefined for any other error. */
export function noCredentials(err: unknown): string | undefined {
  const e = err as Error;
  if (e?.name !== 'CredentialsProviderError') return undefined;
  return `no AWS credentials found (${e.message}). Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE.`;
}

/** The flags shared by the read commands (download, diff). */
export interface ReadFlags {
  endpoint?: string;
  region?: string;
  verifySsl: boolean;
  progress: boolean;
  json: boolean;
}

/**
 * Walks a read command's arguments: the shared flags into `out`, the verb's own through `own` (given the flag and a
 * way to take the value after it; false: not one of the verb's), the rest returned as positionals.
 */
export function parseReadArgs(verb: string, args: string[], out: ReadFlags, own: (flag: string, next: () => string | undefined) => boolean): string[] {
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const need = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value.`);
      return v;
    };
    switch (a) {
      case '--endpoint':
        out.endpoint = endpointFlag(need());
        continue;
      case '--region':
        out.region = need();
        continue;
      case '--no-verify-ssl':
        out.verifySsl = false;
        continue;
      case '--no-progress':
        out.progress = false;
        continue;
      case '--json':
        out.json = true;
        continue;
    }
    if (own(a, () => args[++i])) continue;
    if (a.startsWith('-')) throw new UsageError(`Unknown option ${a}. Run \`blockport ${verb} --help\` for the options.`);
    positional.push(a);
  }
  return positional;
}

/** SDK clients for the read commands: standard credential chain, keep-alive sockets. */
export async function readClients(f: ReadFlags, sockets: number): Promise<Clients> {
  const region = regionOf(f);
  if (!region) throw new UsageError(NO_REGION);
  const connection: Connection = { kind: 'endpoint', region, ...(f.endpoint ? { endpoint: f.endpoint } : {}) };
  return nodeClients(connection, { verifySsl: f.verifySsl, sockets });
}

/** The sentence for an error of a read command. */
export function readErrorSentence(err: unknown): string {
  if (err instanceof DownloadError || err instanceof UsageError) return err.message;
  const e = err as Error;
  const creds = noCredentials(err);
  if (creds) return creds;
  if (e.name === 'AccessDeniedException') return `${e.message}. The credentials may not read EBS snapshots: allow ebs:ListSnapshotBlocks, ebs:GetSnapshotBlock and ebs:ListChangedBlocks.`;
  return e.message ?? String(err);
}
