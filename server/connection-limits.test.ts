// Many unauthenticated connections, each sending the head of a 512 KiB put and part of its body, then stalling: each
// is refused from its headers (its body never read) or closed on arrival beyond --max-connections; none is held open
// waiting for the rest of its body, so they cannot pile up memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { toAmzDate } from '../src/emulator/sigv4.ts';
import { spawnEmulator, type SpawnedEmulator } from './spawn-emulator.ts';

const CONNECTIONS = 200;

function stalledPut(url: string, i: number): Promise<{ answered: string }> {
  const u = new URL(url);
  const date = toAmzDate(Date.now());
  const auth =
    i % 2 === 0
      ? ''
      : `Authorization: AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/${date.slice(0, 8)}/us-east-1/ebs/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}\r\nX-Amz-Date: ${date}\r\n`;
  const head = `PUT /snapshots/snap-0123456789abcdef0/blocks/${i} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: 524288\r\n${auth}\r\n`;
  return new Promise((resolve) => {
    let got = '';
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(head);
      sock.write(Buffer.alloc(65536, i));
      // …and never the remaining 448 KiB.
    });
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ answered: got }));
  });
}

describe('connections under an unauthenticated flood', () => {
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    // The body timeout is far beyond the test's: a server that waited for these bodies would never close them.
    emu = await spawnEmulator(['--max-connections', '40', '--body-timeout-ms', '600000']);
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('answers each from its headers or closes it on arrival; none waits for its body', { timeout: 60_000 }, async () => {
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => stalledPut(emu.url, i)));
    const answered = results.filter((r) => r.answered !== '');
    const cut = results.length - answered.length;
    console.log(`stalled unauthenticated puts: ${answered.length} refused from their headers, ${cut} closed on arrival`);
    for (const r of answered) {
      expect(r.answered).toMatch(/^HTTP\/1.1 403/);
      expect(r.answered).toMatch(/MissingAuthenticationTokenException|UnrecognizedClientException/);
    }
    const health = (await (await emu.admin('health')).json()) as { connections: { open: number; refused: number; refusedBeforeBody: number } };
    expect(health.connections.refusedBeforeBody).toBe(answered.length);
    expect(health.connections.refused).toBe(cut);
    expect(answered.length + cut).toBe(CONNECTIONS);
    // Only the health call's own connection (and perhaps a keep-alive one) is left open.
    expect(health.connections.open).toBeLessThanOrEqual(2);
    // A real client still gets through.
    const ebs = new EBSClient({ endpoint: emu.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    expect((await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId).toMatch(/^snap-/);
  });

  it('refuses a known key whose signature date is an hour old from the headers, its body never awaited', async () => {
    const u = new URL(emu.url);
    const date = toAmzDate(Date.now() - 3_600_000);
    const head =
      `PUT /snapshots/snap-0123456789abcdef0/blocks/0 HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: 524288\r\nX-Amz-Date: ${date}\r\n` +
      `Authorization: AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/ebs/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}\r\n\r\n`;
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      const sock = net.connect(Number(u.port), u.hostname, () => sock.write(head));
      sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(got));
    });
    expect(answer).toMatch(/^HTTP\/1.1 403/);
    expect(answer).toMatch(/Signature expired/);
  });
});

describe('--max-connections under idle connections', () => {
  const CAP = 10;
  const OPENED = 25;
  let emu: SpawnedEmulator;
  beforeAll(async () => {
    emu = await spawnEmulator(['--max-connections', String(CAP)]);
  });
  afterAll(async () => {
    await emu.stop();
  });

  it('closes every connection beyond the cap on arrival; those within it are still served', { timeout: 60_000 }, async () => {
    const u = new URL(emu.url);
    // Each sends the start of a request and then nothing: a server without a cap would hold every one of them open.
    const socks = await Promise.all(
      Array.from(
        { length: OPENED },
        () =>
          new Promise<{ sock: net.Socket; closed: Promise<string> }>((resolve) => {
            let got = '';
            const sock = net.connect(Number(u.port), u.hostname);
            const closed = new Promise<string>((r) => sock.on('close', () => r(got)));
            sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
            sock.on('error', () => undefined);
            sock.on('connect', () => {
              sock.write(`GET /snapshots/snap-0123456789abcdef0/blocks HTTP/1.1\r\nHost: ${u.host}\r\n`);
              resolve({ sock, closed });
            });
          }),
      ),
    );
    // The server cuts the extra ones at once; wait for that (bounded, so uncapped code fails here instead of hanging).
    const cut = new Set<net.Socket>();
    for (const s of socks) void s.closed.then(() => cut.add(s.sock));
    for (let waited = 0; cut.size < OPENED - CAP && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(cut.size).toBe(OPENED - CAP);
    for (const s of socks) if (cut.has(s.sock)) expect(await s.closed).toBe('');

    // The ones within the cap finish their requests and are answered (from the headers: they are not signed).
    const kept = socks.filter((s) => !cut.has(s.sock));
    expect(kept).toHaveLength(CAP);
    for (const s of kept) s.sock.write('Connection: close\r\n\r\n');
    for (const s of kept) expect(await s.closed).toMatch(/^HTTP\/1.1 403[\s\S]*MissingAuthenticationTokenException/);

    const health = (await (await emu.admin('health')).json()) as { connections: { open: number; refused: number } };
    expect(health.connections.refused).toBe(OPENED - CAP);
    expect(health.connections.open).toBeLessThanOrEqual(2);
  });
});
