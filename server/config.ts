// The server's settings: fixed at startup (where it listens, what it stores) and runtime (faults, CORS, credentials).

/** Settings that can change while the server runs (command-line flags seed them; /__admin/config changes them). */
export interface RuntimeConfig {
  /** Delay between CompleteSnapshot and the snapshot leaving `pending`. */
  completionDelayMs: number;
  /** For this long after StartSnapshot, puts answer 404 (an observed AWS lag). */
  putAfterStartLagMs: number;
  /** For this long after completion, reads answer 404 (an observed AWS lag). */
  readAfterCompleteLagMs: number;
  /** Pending snapshots allowed at once (AWS: 100). */
  maxPendingSnapshots: number;
  /** Enforce the service quotas per second (StartSnapshot 10, List 50, Put 1000 per snapshot, …). */
  enforceQuotas: boolean;
  /** The account's EBS encryption by default: StartSnapshot without Encrypted still makes an encrypted snapshot. */
  encryptionByDefault: boolean;
  /** Added before every EBS/EC2 request is answered. */
  latencyMs: number;
  /** A random extra delay in [0, latencyJitterMs) on top of latencyMs, drawn per request. */
  latencyJitterMs: number;
  /** MiB/s of the one link all request and response bodies share (0 = unlimited). */
  bandwidthMiBps: number;
  /** Share of EBS requests answered 500 InternalServerException. */
  errorRate: number;
  /** Share of EBS requests answered 400 RequestThrottledException (ACCOUNT_THROTTLED) or ThrottlingException. */
  throttleRate: number;
  /** Share of EBS requests whose connection is dropped after they were processed (the answer is lost). */
  dropRate: number;
  /** PutSnapshotBlock calls allowed per snapshot per second (0 = unlimited); beyond: RESOURCE_LEVEL_THROTTLE. */
  putRateLimit: number;
  /** Share of EBS/EC2 requests accepted and never answered (the connection stays open until the client leaves). */
  stallRate: number;
  /** A stalled request stops reading its body after this many bytes (0: it reads the whole body, then stays silent). */
  stallAfterBytes: number;
  /** Answer browsers (preflights, Access-Control-* headers). */
  cors: boolean;
  /** Origins allowed by CORS; `*` allows any. */
  corsOrigins: string[];
  /** Lifetime of credentials issued by GetCredentialsForIdentity. */
  credentialTtlSeconds: number;
  /** The access key pair always accepted. */
  accessKeyId: string;
  secretAccessKey: string;
}

/** Settings fixed at startup. */
export interface StartupConfig {
  host: string;
  port: number;
  /** Directory of the filesystem store; undefined keeps state in memory. */
  dataDir?: string;
  tls: boolean;
  /** Identity pool created at startup (unauthenticated access allowed). */
  identityPool?: string;
  /** Answer /__admin/* to non-loopback clients too. */
  adminRemote: boolean;
  /** Secret every /__admin/* request must carry (Bearer or X-Blockport-Admin-Token); empty: a random one at start. */
  adminToken: string;
  /** Region used in identity pool ids. */
  region: string;
  /** Extra key pairs standing for other accounts. */
  accounts: { accessKeyId: string; secretAccessKey: string; accountId: string }[];
  /** Print one line per request to stderr. */
  verbose: boolean;
  /** A request body that stalls this long is answered as it is (short), then the connection is closed. */
  bodyTimeoutMs: number;
  /** Connections open at once; beyond, new ones are closed on arrival. */
  maxConnections: number;
  /** Serve a minimal OpenID Connect provider at /oidc whose ID tokens the startup pools accept as logins. */
  oidc: boolean;
  /** Its users (name and password). */
  oidcUsers: { username: string; password: string }[];
  /** The public client id it serves (the page signs in with it). */
  oidcClientId: string;
  /** Startup pools let identities without a login get credentials. */
  unauthenticated: boolean;
  /** File with the policies enforced for Cognito-issued credentials (template or policy document); 'off' = none. */
  iamPolicy?: string;
}

export type ServerConfig = StartupConfig & RuntimeConfig;

/** Defaults: port 4566 on loopback, memory store, no faults, CORS on for any origin, the test/test key pair. */
export function defaultConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 4566,
    tls: false,
    adminRemote: false,
    adminToken: '',
    region: 'us-east-1',
    verbose: false,
    accounts: [],
    bodyTimeoutMs: 20_000,
    maxConnections: 512,
    oidc: false,
    oidcUsers: [],
    oidcClientId: 'blockport',
    unauthenticated: true,
    completionDelayMs: 1000,
    putAfterStartLagMs: 0,
    readAfterCompleteLagMs: 0,
    maxPendingSnapshots: 100,
    enforceQuotas: false,
    encryptionByDefault: false,
    latencyMs: 0,
    latencyJitterMs: 0,
    bandwidthMiBps: 0,
    errorRate: 0,
    throttleRate: 0,
    dropRate: 0,
    putRateLimit: 0,
    stallRate: 0,
    stallAfterBytes: 0,
    cors: true,
    corsOrigins: ['*'],
    credentialTtlSeconds: 3600,
    accessKeyId: 'test',
    secretAccessKey: 'test',
  };
}

const RATE_KEYS = ['errorRate', 'throttleRate', 'dropRate', 'stallRate'] as const;
/** Settings the EBS model itself holds. */
export const MODEL_KEYS = ['completionDelayMs', 'putAfterStartLagMs', 'readAfterCompleteLagMs', 'maxPendingSnapshots', 'enforceQuotas', 'encryptionByDefault'] as const;
const COUNT_KEYS = ['completionDelayMs', 'putAfterStartLagMs', 'readAfterCompleteLagMs', 'maxPendingSnapshots', 'latencyMs', 'putRateLimit', 'credentialTtlSeconds', 'latencyJitterMs', 'bandwidthMiBps', 'stallAfterBytes'] as const;
const RUNTIME_KEYS: readonly string[] = [...RATE_KEYS, ...COUNT_KEYS, 'enforceQuotas', 'encryptionByDefault', 'cors', 'corsOrigins', 'accessKeyId', 'secretAccessKey'];

/** Checks a partial runtime config (from JSON); returns the problems, empty when valid. */
export function validateRuntimePatch(patch: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'identityPool') {
      if (typeof v !== 'string' || !/^[\w ]{1,128}$/.test(v)) problems.push('identityPool must be a pool name ([\\w ]{1,128})');
      continue;
    }
    if (!RUNTIME_KEYS.includes(k)) {
      problems.push(`${k} cannot be changed at runtime (restart with the flag)`);
      continue;
    }
    if ((RATE_KEYS as readonly string[]).includes(k) && !(typeof v === 'number' && v >= 0 && v <= 1)) {
      problems.push(`${k} must be a number between 0 and 1`);
    }
    if ((COUNT_KEYS as readonly string[]).includes(k) && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      problems.push(`${k} must be a number ≥ 0`);
    }
    if (k === 'credentialTtlSeconds' && typeof v === 'number' && v < 1) problems.push('credentialTtlSeconds must be ≥ 1');
    if ((k === 'cors' || k === 'enforceQuotas' || k === 'encryptionByDefault') && typeof v !== 'boolean') problems.push(`${k} must be true or false`);
    if (k === 'corsOrigins' && !(Array.isArray(v) && v.every((o) => typeof o === 'string'))) problems.push('corsOrigins must be a list of origins');
    if ((k === 'accessKeyId' || k === 'secretAccessKey') && !(typeof v === 'string' && v.length > 0)) problems.push(`${k} must be a non-empty string`);
  }
  return problems;
}

/** The runtime part of a config, for display. */
export function runtimeView(c: ServerConfig): RuntimeConfig {
  const { completionDelayMs, putAfterStartLagMs, readAfterCompleteLagMs, maxPendingSnapshots, enforceQuotas, latencyMs, latencyJitterMs, bandwidthMiBps, errorRate, throttleRate, dropRate, putRateLimit, stallRate, stallAfterBytes } = c;
  const { cors, corsOrigins, credentialTtlSeconds, accessKeyId, secretAccessKey, encryptionByDefault } = c;
  return {
    encryptionByDefault,
    completionDelayMs,
    putAfterStartLagMs,
    readAfterCompleteLagMs,
    maxPendingSnapshots,
    enforceQuotas,
    latencyMs,
    latencyJitterMs,
    bandwidthMiBps,
    errorRate,
    throttleRate,
    dropRate,
    putRateLimit,
    stallRate,
    stallAfterBytes,
    cors,
    corsOrigins,
    credentialTtlSeconds,
    accessKeyId,
    secretAccessKey,
  };
}
