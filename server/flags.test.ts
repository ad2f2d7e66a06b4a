import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseFlags, FlagError, HELP } from './flags.ts';
import { validateRuntimePatch } from './config.ts';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');

function runMain(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout + stderr });
    });
  });
}

describe('command-line flags', () => {
  it('defaults to loopback:4566, memory, CORS on, no faults', () => {
    const { config, help } = parseFlags([]);
    expect(help).toBe(false);
    expect(config).toMatchObject({ host: '127.0.0.1', port: 4566, tls: false, cors: true, errorRate: 0, dropRate: 0, credentialTtlSeconds: 3600 });
    expect(config.dataDir).toBeUndefined();
  });

  it('parses the sign-in and IAM flags, and refuses malformed ones with a sentence', () => {
    const { config } = parseFlags(['--oidc-user', 'alice:pa:ss', '--oidc-user=bob:pw', '--oidc-client-id', 'page', '--unauthenticated', 'off', '--iam-policy', 'my.json']);
    expect(config).toMatchObject({ oidc: true, oidcClientId: 'page', unauthenticated: false, iamPolicy: 'my.json' });
    expect(config.oidcUsers).toEqual([{ username: 'alice', password: 'pa:ss' }, { username: 'bob', password: 'pw' }]);
    expect(parseFlags([]).config).toMatchObject({ oidc: false, unauthenticated: true });
    expect(() => parseFlags(['--oidc-user', 'nopassword'])).toThrow(/--oidc-user needs NAME:PASSWORD/);
    expect(() => parseFlags(['--unauthenticated', 'maybe'])).toThrow(/--unauthenticated needs on or off/);
  });

  it('parses every flag, in both --flag value and --flag=value forms', () => {
    const { config } = parseFlags([
      '--host', '0.0.0.0', '--port=0', '--data-dir', '/tmp/x', '--completion-delay-ms', '5', '--latency-ms=7',
      '--error-rate', '0.1', '--throttle-rate', '0.2', '--drop-rate', '0.05', '--put-rate-limit', '1000',
      '--cors', 'off', '--cors-origins', 'http://a, http://b', '--identity-pool', 'pool', '--credential-ttl', '900', '--tls',
      '--access-key-id', 'AK', '--secret-access-key', 'SK', '--admin-remote', '--body-timeout-ms', '100',
      '--admin-token', 'a-token-of-20-chars!', '--max-connections', '64',
      '--encryption-by-default',
    ]);
    expect(config).toMatchObject({
      host: '0.0.0.0', port: 0, dataDir: '/tmp/x', completionDelayMs: 5, latencyMs: 7, errorRate: 0.1, throttleRate: 0.2,
      dropRate: 0.05, putRateLimit: 1000, cors: false, corsOrigins: ['http://a', 'http://b'], identityPool: 'pool',
      credentialTtlSeconds: 900, tls: true, accessKeyId: 'AK', secretAccessKey: 'SK', adminRemote: true, bodyTimeoutMs: 100,
      adminToken: 'a-token-of-20-chars!', maxConnections: 64,
      encryptionByDefault: true,
    });
    expect(parseFlags([]).config.encryptionByDefault).toBe(false);
  });

  it('knows every flag --help lists', () => {
    const listed = [...HELP.matchAll(/^ {2}(--[a-z0-9-]+)(?: (\S+))?/gm)].map((m) => [m[1]!, m[2]] as const);
    expect(listed.length).toBeGreaterThan(30);
    const sample = (arg: string): string => (/^on\|off$/.test(arg) ? 'on' : /^[A-Z]+:[A-Z]+/.test(arg) ? 'AKID:SECRET:123456789012' : /^[NP]$|SECONDS|MIBPS/.test(arg) ? '1' : arg === 'T' ? 'x'.repeat(16) : 'v');
    for (const [flag, arg] of listed) {
      if (flag === '--help') continue;
      expect(() => parseFlags(arg ? [flag, sample(arg)] : [flag]), flag).not.toThrow();
    }
  });

  it('refuses bad values and unknown flags with a sentence', () => {
    expect(() => parseFlags(['--error-rate', '2'])).toThrow(FlagError);
    expect(() => parseFlags(['--port', 'x'])).toThrow(/--port needs a number between 0 and 65535, got x/);
    expect(() => parseFlags(['--cors', 'maybe'])).toThrow(/on or off/);
    expect(() => parseFlags(['--latency-ms'])).toThrow(/needs a value/);
    expect(() => parseFlags(['--frobnicate'])).toThrow(/unknown flag --frobnicate/);
    expect(() => parseFlags(['toString'])).toThrow(/unknown flag toString/);
    expect(() => parseFlags(['__proto__', 'x'])).toThrow(/unknown flag __proto__/);
    expect(() => parseFlags(['--admin-token', 'short'])).toThrow(/--admin-token needs 16 to 256 printable characters/);
    expect(() => parseFlags(['--max-connections', '0'])).toThrow(/--max-connections needs a number between 1 and 65535/);
  });

  it('prints --help and exits 0; a bad flag exits 2', async () => {
    const help = await runMain(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toBe(HELP);
    for (const flag of ['--host', '--port', '--data-dir', '--drop-rate', '--put-rate-limit', '--identity-pool', '--credential-ttl', '--tls']) {
      expect(help.out).toContain(flag);
    }
    const bad = await runMain(['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('unknown flag --nope');
  });
});

describe('runtime config patches', () => {
  it('accepts runtime settings and refuses startup ones', () => {
    expect(validateRuntimePatch({ errorRate: 0.5, cors: false, corsOrigins: ['*'], identityPool: 'p2', maxPendingSnapshots: 3 })).toEqual([]);
    expect(validateRuntimePatch({ port: 1 })).toEqual(['port cannot be changed at runtime (restart with the flag)']);
    expect(validateRuntimePatch({ dropRate: -1, cors: 'yes', latencyMs: 'x' })).toHaveLength(3);
    expect(validateRuntimePatch({ encryptionByDefault: true })).toEqual([]);
    expect(validateRuntimePatch({ encryptionByDefault: 'yes' })).toEqual(['encryptionByDefault must be true or false']);
  });
});
