// Starts `server/main.ts` as a child process on an ephemeral port (tests, bench, Playwright) and stops it by its pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A running emulator process. */
export interface SpawnedEmulator {
  url: string;
  /** Identity pool id printed for --identity-pool, if any. */
  poolId?: string;
  proc: ChildProcess;
  /** The admin token the process was started with (--admin-token). */
  adminToken: string;
  /** Headers an /__admin/* call needs (token and JSON content type). */
  adminHeaders: Record<string, string>;
  /** GET /__admin/<path>, or POST it with a JSON body when `body` is given. */
  admin(path: string, body?: unknown): Promise<Response>;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, then waits for exit (SIGKILL after `graceMs`); resolves to the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Spawns the emulator with `flags` (plus `--port 0` and a random `--admin-token` unless given) and resolves once it prints its URL. */
export function spawnEmulator(flags: string[] = [], timeoutMs = 30_000): Promise<SpawnedEmulator> {
  const given = flags.indexOf('--admin-token');
  const adminToken = given >= 0 ? flags[given + 1]! : randomBytes(16).toString('hex');
  const args = [
    '--import',
    'tsx',
    join(root, 'server', 'main.ts'),
    ...(flags.includes('--port') ? [] : ['--port', '0']),
    ...(given >= 0 ? [] : ['--admin-token', adminToken]),
    ...flags,
  ];
  const adminHeaders = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited: Promise<number | null>;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`emulator did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    const onData = (d: Buffer): void => {
      out += d.toString();
      const url = /listening on (https?:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      // The pool line follows the URL line in the same write, or the next one.
      const pool = /identity pool [^:]+: (\S+)/.exec(out)?.[1];
      if (flags.includes('--identity-pool') && !pool) return;
      clearTimeout(timer);
      proc.stdout!.off('data', onData);
      proc.stdout!.on('data', (x: Buffer) => (out += x.toString()));
      resolve({
        url,
        ...(pool ? { poolId: pool } : {}),
        proc,
        adminToken,
        adminHeaders,
        admin: (path, body) =>
          fetch(`${url}/__admin/${path}`, body === undefined ? { headers: adminHeaders } : { method: 'POST', headers: adminHeaders, body: JSON.stringify(body) }),
        output: () => out,
        stop: async (graceMs = 15_000) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code} before listening:\n${out}`));
    });
  });
}
