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

/**
 * Walks a command line. Each option goes to `option` with `value()`, which takes its value (the next argument, or what
 * follows `=` where `equals` allows `--flag=value`) and refuses a missing one, and `next()`, which takes the next
 * argument as it is; `option` returns false for an option the verb does not know. The other arguments go to `positional`.
 */
export function walkArgs(
  verb: string,
  args: string[],
  option: (flag: string, value: () => string, next: () => string | undefined) => boolean,
  positional: (arg: string) => void,
  opts: { equals?: boolean } = {},
): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = opts.equals && a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const next = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : args[++i]);
    const value = (): string => {
      const v = next();
      if (v === undefined) throw new UsageError(`${flag} needs a value.`);
      return v;
    };
    if (option(flag, value, next)) continue;
    if (a.startsWith('-')) throw new UsageError(`Unknown option ${a}. Run \`blockport ${verb} --help\` for the options.`);
    positional(a);
  }
}

/** Adds a --tag value (key=value) to `tags`. */
export function tagFlag(kv: string, tags: Record<string, string>): void {
  const k = kv.indexOf('=');
  if (k <= 0) throw new UsageError(`--tag needs key=value, got ${kv}.`);
  tags[kv.slice(0, k)] = kv.slice(k + 1);
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
 * way to take the argument after it; false: not one of the verb's), the rest returned as positionals.
 */
export function parseReadArgs(verb: string, args: string[], out: ReadFlags, own: (flag: string, next: () => string | undefined) => boolean): string[] {
  const positional: string[] = [];
  const shared = (flag: string, value: () => string): boolean => {
    if (flag === '--endpoint') out.endpoint = endpointFlag(value());
    else if (flag === '--region') out.region = value();
    else if (flag === '--no-verify-ssl') out.verifySsl = false;
    else if (flag === '--no-progress') out.progress = false;
    else if (flag === '--json') out.json = true;
    else return false;
    return true;
  };
  walkArgs(verb, args, (flag, value, next) => shared(flag, value) || own(flag, next), (a) => positional.push(a));
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
