// Admin endpoints probed as a web page or a rebinding attacker would: no token, an Origin, a foreign Host, a
// text/plain "simple" POST are all refused, and the store survives; the token printed at start opens them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';

function raw(url: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin endpoints under hostile requests', () => {
  let emu: SpawnedEmulator;
  let host: string;
  let snapshotCount: () => Promise<number>;
  beforeAll(async () => {
    emu = await spawnEmulator(['--completion-delay-ms', '0']);
    host = new URL(emu.url).host;
    snapshotCount = async () => ((await (await emu.admin('state')).json()) as { ebs: { snapshots: unknown[] } }).ebs.snapshots.length;
    const ebs = new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('prints the admin token at start and says how to pass it', () => {
    expect(emu.output()).toContain(`admin token: ${emu.adminToken}`);
    expect(emu.output()).toContain(`Authorization: Bearer ${emu.adminToken}`);
  });

  it('a cross-site text/plain POST cannot reset the store, with or without the token', async () => {
    const evil = { host, origin: 'https://evil.example', 'content-type': 'text/plain' };
    expect((await raw(emu.url, 'POST', '/__admin/reset', evil, '{}')).status).toBe(403);
    const withToken = await raw(emu.url, 'POST', '/__admin/reset', { ...evil, authorization: `Bearer ${emu.adminToken}` }, '{}');
    expect(withToken.status).toBe(403);
    expect(withToken.text).toMatch(/Origin/);
    // Even a JSON request with the token is refused when a page sent it.
    expect((await raw(emu.url, 'POST', '/__admin/reset', { ...emu.adminHeaders, host, origin: 'http://localhost' }, '{}')).status).toBe(403);
    expect(await snapshotCount()).toBe(1);
  });

  it('a foreign Host (DNS rebinding) cannot read the state and its secret key', async () => {
    const r = await raw(emu.url, 'GET', '/__admin/state', { host: `evil.example:${new URL(emu.url).port}`, authorization: `Bearer ${emu.adminToken}` });
    expect(r.status).toBe(403);
    expect(r.text).not.toMatch(/secretAccessKey/);
    expect((await raw(emu.url, 'GET', '/__admin/state', { host: 'localhost:1', authorization: `Bearer ${emu.adminToken}` })).status).toBe(403);
  });

  it('no token or a wrong one: 401 with a sentence naming both ways to pass it', async () => {
    const none = await raw(emu.url, 'GET', '/__admin/state', { host });
    expect(none.status).toBe(401);
    expect(none.text).toMatch(/Authorization: Bearer/);
    expect(none.text).toMatch(/X-Blockport-Admin-Token/);
    expect((await raw(emu.url, 'GET', '/__admin/state', { host, authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await raw(emu.url, 'POST', '/__admin/reset', { host, 'content-type': 'application/json' }, '{}')).status).toBe(401);
    expect(await snapshotCount()).toBe(1);
  });

  it('a POST with the token but not application/json is refused (415)', async () => {
    const r = await raw(emu.url, 'POST', '/__admin/reset', { host, authorization: `Bearer ${emu.adminToken}`, 'content-type': 'text/plain' }, '{}');
    expect(r.status).toBe(415);
    expect((await raw(emu.url, 'POST', '/__admin/reset', { host, authorization: `Bearer ${emu.adminToken}` }, '{}')).status).toBe(415);
    expect(await snapshotCount()).toBe(1);
  });

  it('the token opens admin through either header, from localhost or 127.0.0.1', async () => {
    const port = new URL(emu.url).port;
    expect((await raw(emu.url, 'GET', '/__admin/health', { host: `localhost:${port}`, 'x-blockport-admin-token': emu.adminToken })).status).toBe(200);
    expect((await raw(emu.url, 'GET', '/__admin/health', { host: `127.0.0.1:${port}`, authorization: `Bearer ${emu.adminToken}` })).status).toBe(200);
    const reset = await raw(emu.url, 'POST', '/__admin/reset', { host, 'x-blockport-admin-token': emu.adminToken, 'content-type': 'application/json' }, '{}');
    expect(reset.status).toBe(200);
    expect(await snapshotCount()).toBe(0);
  });

  it('--admin-token fixes the token, and BLOCKPORT_ADMIN_TOKEN too', async () => {
    const fixed = await spawnEmulator(['--admin-token', 'fixed-token-0123456789']);
    try {
      expect(fixed.adminToken).toBe('fixed-token-0123456789');
      expect(fixed.output()).toContain('admin token: fixed-token-0123456789');
      expect((await fixed.admin('health')).status).toBe(200);
    } finally {
      await fixed.stop();
    }
    const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', '0'], {
      env: { ...process.env, BLOCKPORT_ADMIN_TOKEN: 'from-env-0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('admin token:')) resolve();
      });
      proc.once('exit', () => reject(new Error(out)));
    });
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    expect(out).toContain('admin token: from-env-0123456789');
  });
});
