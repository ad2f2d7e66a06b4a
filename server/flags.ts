// Command-line flags of `npm run emulator`.

import { defaultConfig, type ServerConfig } from './config.ts';

/** The --help text. */
export const HELP = `Blockport EBS emulator over HTTP: EBS direct APIs, Cognito Identity, EC2 snapshot subset.

Usage: npm run emulator -- [flags]

  --host H                  address to listen on (default 127.0.0.1)
  --port N                  port (default 4566; 0 picks a free one)
  --data-dir DIR            keep state in DIR (filesystem store, survives a restart); memory when absent
  --completion-delay-ms N   pending → completed delay after CompleteSnapshot (default 1000)
  --put-after-start-lag-ms N      puts answer 404 this long after StartSnapshot (observed AWS lag; default 0)
  --read-after-complete-lag-ms N  reads answer 404 this long after completion (observed AWS lag; default 0)
  --max-pending-snapshots N pending snapshots allowed at once (default 100)
  --enforce-quotas          enforce the service quotas per second (StartSnapshot 10, List 50, Put 1000/snapshot, …)
  --encryption-by-default   the account encrypts every new snapshot (StartSnapshot answers SseType sse-ebs)
  --account KEY:SECRET:ID   accept another key pair, standing for account ID (12 digits); repeatable
  --latency-ms N            latency added to every EBS/EC2 request (default 0)
  --latency-jitter-ms N     a random extra 0..N ms on top of --latency-ms, per request (default 0)
  --bandwidth MIBPS         one link of MIBPS MiB/s shared by all request and response bodies (default 0: unlimited)
  --error-rate P            share of EBS requests answered 500 InternalServerException (0..1)
  --throttle-rate P         share of EBS requests answered RequestThrottledException / ThrottlingException (0..1)
  --drop-rate P             share of EBS requests processed but whose connection is dropped unanswered (0..1)
  --stall-rate P            share of EBS/EC2 requests accepted and never answered; the connection stays open (0..1)
  --stall-after-bytes N     a stalled request stops reading its body after N bytes (default 0: reads it all);
                            such a connection is closed by the server's 2-minute request timeout
  --put-rate-limit N        PutSnapshotBlock per snapshot per second, beyond → RESOURCE_LEVEL_THROTTLE (0 = off)
  --cors on|off             answer browsers (default on)
  --cors-origins A,B        origins allowed by CORS (default *)
  --identity-pool NAME      create an identity pool at startup (unauthenticated access allowed) and print its id
  --credential-ttl SECONDS  lifetime of Cognito-issued credentials (default 3600)
  --access-key-id ID        long-term key always accepted (default test)
  --secret-access-key S     its secret (default test)
  --region R                region in identity pool ids (default us-east-1)
  --tls                     HTTPS with HTTP/2 (and HTTP/1.1) on a generated self-signed certificate
  --body-timeout-ms N       a request body stalling this long is answered as short, then closed (default 20000)
  --max-connections N       connections open at once; more are closed on arrival (default 512)
  --oidc                    serve an OpenID Connect provider at /oidc (sign-in for the page; startup pools accept it)
  --oidc-user NAME:PASSWORD a person who can sign in there; repeatable (implies --oidc)
  --oidc-client-id ID       the public client id it serves (default blockport)
  --unauthenticated on|off  startup pools give credentials to visitors who have not signed in (default on)
  --iam-policy FILE|off     policies enforced for Cognito-issued credentials: a CloudFormation template (its
                            Cognito roles) or one policy document (default deploy/blockport.json); off = none
  --admin-remote            answer /__admin/* from non-loopback clients too
  --admin-token T           the token /__admin/* requires (env BLOCKPORT_ADMIN_TOKEN; default: random, printed at start)
  --verbose                 log every request to stderr
  --help                    this text

Admin (loopback only; every call needs the token as "Authorization: Bearer T" or "X-Blockport-Admin-Token: T",
no Origin header, a Host of the listen address or loopback, and POST bodies as Content-Type: application/json): GET /__admin/health, POST /__admin/reset, GET|POST /__admin/config, GET /__admin/state,
POST /__admin/clock {"advanceMs": N, "freeze": true|false} (moves or stops the EBS model's clock: timeouts, expiry),
  {"skewMs": N} (sets the service's wall clock N ms ahead of this host: SigV4 time checks, Cognito credential expiry, Date),
POST /__admin/fail-next {"op", "code", "status", "message", "reason"} (the next call of op answers that error),
POST /__admin/accounts {"accessKeyId", "secretAccessKey", "accountId"} (a key pair standing for another account).
`;

/** Thrown for a bad command line; the message says which flag and why. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

function num(flag: string, v: string | undefined, lo: number, hi = Infinity): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n) || n < lo || n > hi) {
    throw new FlagError(`${flag} needs a number${hi === Infinity ? ` ≥ ${lo}` : ` between ${lo} and ${hi}`}, got ${v ?? 'nothing'}`);
  }
  return n;
}

type KeysOf<V> = { [K in keyof ServerConfig]-?: NonNullable<ServerConfig[K]> extends V ? K : never }[keyof ServerConfig];

/** Flags taking a number: the config field, the least and the greatest value. */
const NUMBERS: Record<string, [KeysOf<number>, number, number?]> = {
  '--port': ['port', 0, 65535],
  '--completion-delay-ms': ['completionDelayMs', 0],
  '--put-after-start-lag-ms': ['putAfterStartLagMs', 0],
  '--read-after-complete-lag-ms': ['readAfterCompleteLagMs', 0],
  '--max-pending-snapshots': ['maxPendingSnapshots', 1],
  '--latency-ms': ['latencyMs', 0],
  '--latency-jitter-ms': ['latencyJitterMs', 0],
  '--bandwidth': ['bandwidthMiBps', 0],
  '--error-rate': ['errorRate', 0, 1],
  '--throttle-rate': ['throttleRate', 0, 1],
  '--drop-rate': ['dropRate', 0, 1],
  '--stall-rate': ['stallRate', 0, 1],
  '--stall-after-bytes': ['stallAfterBytes', 0],
  '--put-rate-limit': ['putRateLimit', 0],
  '--credential-ttl': ['credentialTtlSeconds', 1],
  '--body-timeout-ms': ['bodyTimeoutMs', 1],
  '--max-connections': ['maxConnections', 1, 65535],
};

/** Flags taking a string as it is. */
const STRINGS: Record<string, KeysOf<string>> = {
  '--host': 'host',
  '--data-dir': 'dataDir',
  '--identity-pool': 'identityPool',
  '--access-key-id': 'accessKeyId',
  '--secret-access-key': 'secretAccessKey',
  '--region': 'region',
  '--oidc-client-id': 'oidcClientId',
  '--iam-policy': 'iamPolicy',
};

/** Flags that switch something on by being there. */
const SWITCHES: Record<string, KeysOf<boolean>> = {
  '--enforce-quotas': 'enforceQuotas',
  '--encryption-by-default': 'encryptionByDefault',
  '--tls': 'tls',
  '--oidc': 'oidc',
  '--admin-remote': 'adminRemote',
  '--verbose': 'verbose',
};

/** Flags taking on or off. */
const ON_OFF: Record<string, KeysOf<boolean>> = {
  '--cors': 'cors',
  '--unauthenticated': 'unauthenticated',
};

/** The table's entry for a flag (only its own keys: `toString` is no flag). */
function own<T>(table: Record<string, T>, flag: string): T | undefined {
  return Object.hasOwn(table, flag) ? table[flag] : undefined;
}

function onOrOff(flag: string, v: string): boolean {
  if (v !== 'on' && v !== 'off') throw new FlagError(`${flag} needs on or off, got ${v}`);
  return v === 'on';
}

/** Parses argv (without node and script) into a config; `help: true` when --help was given. */
export function parseFlags(argv: string[]): { config: ServerConfig; help: boolean } {
  const c = defaultConfig();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new FlagError(`${flag} needs a value`);
      return v;
    };
    const number = own(NUMBERS, flag);
    const string = own(STRINGS, flag);
    const on = own(SWITCHES, flag);
    const onOff = own(ON_OFF, flag);
    if (number) c[number[0]] = num(flag, value(), number[1], number[2]);
    else if (string) c[string] = value();
    else if (on) c[on] = true;
    else if (onOff) c[onOff] = onOrOff(flag, value());
    else {
      switch (flag) {
        case '--help':
        case '-h':
          help = true;
          break;
        case '--account': {
          const v = value();
          const m = /^([^:]+):([^:]+):(\d{12})$/.exec(v);
          if (!m) throw new FlagError(`--account needs KEY:SECRET:ACCOUNTID (12 digits), got ${v}`);
          c.accounts.push({ accessKeyId: m[1]!, secretAccessKey: m[2]!, accountId: m[3]! });
          break;
        }
        case '--cors-origins':
          c.corsOrigins = value().split(',').map((s) => s.trim()).filter(Boolean);
          break;
        case '--oidc-user': {
          const v = value();
          const m = /^([^:]+):(.+)$/.exec(v);
          if (!m) throw new FlagError(`--oidc-user needs NAME:PASSWORD, got ${v}`);
          c.oidcUsers.push({ username: m[1]!, password: m[2]! });
          c.oidc = true;
          break;
        }
        case '--admin-token': {
          const v = value();
          if (!/^[\x21-\x7e]{16,256}$/.test(v)) throw new FlagError('--admin-token needs 16 to 256 printable characters without spaces');
          c.adminToken = v;
          break;
        }
        default:
          throw new FlagError(`unknown flag ${arg} (see --help)`);
      }
    }
  }
  return { config: c, help };
}
