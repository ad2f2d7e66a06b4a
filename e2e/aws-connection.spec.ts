// AWS mode end to end in real Chromium against `npm run emulator` (SigV4 checked, Cognito pool created at startup):
// relay mode through the Vite proxy, direct mode cross-origin, credential refresh, diagnoses, no secret persisted.
import { test, expect, type Page, type Request } from '@playwright/test';
import { build, createServer, preview, type PreviewServer } from 'vite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CognitoIdentityClient, CreateIdentityPoolCommand } from '@aws-sdk/client-cognito-identity';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import { makeTestImage, type TestImage } from './helpers/disk-image.ts';
import { expectSnapshotIsImage } from './helpers/read-back.ts';
import { pickFile, waitForCompleted, waitForPercent } from './helpers/ui.ts';

test.describe.configure({ mode: 'serial', timeout: 420_000 });

let emu: SpawnedEmulator;
let server: PreviewServer;
let outDir: string;
let site: string; // the built Blockport site behind `vite preview` with the relay, e.g. http://localhost:41234

const admin = (patch: Record<string, unknown>) =>
  emu.admin('config', patch).then(async (r) => {
    if (!r.ok) throw new Error(await r.text());
  });

test.beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'blockport_e2e']);
  // The built site (what deploy.sh uploads) behind `vite preview`, whose /snapshots*, /ec2/*, /cognito-identity/*
  // go to this emulator: the relay. A build is immune to other engineers' edits of the tree during the run.
  outDir = mkdtempSync(join(tmpdir(), 'blockport-dist-'));
  await build({ configFile: 'vite.config.ts', build: { outDir, emptyOutDir: true, sourcemap: false }, logLevel: 'warn' });
  process.env.BLOCKPORT_RELAY_TARGET = emu.url;
  server = await preview({ configFile: 'vite.config.ts', build: { outDir }, preview: { port: 0, host: 'localhost' }, logLevel: 'warn' });
  delete process.env.BLOCKPORT_RELAY_TARGET;
  const addr = server.httpServer.address();
  site = `http://localhost:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

test.afterAll(async () => {
  await server?.close();
  await emu?.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

test.beforeEach(async () => {
  await admin({ cors: true, latencyMs: 0, credentialTtlSeconds: 3600 });
});

interface Seen {
  hosts: Set<string>;
  /** Every access key, secret and session token Cognito handed the page. */
  secrets: string[];
  requests: Request[];
}

/** Logs every request the page (and its workers) make, and the secrets Cognito gave it. */
function watch(page: Page): Seen {
  const seen: Seen = { hosts: new Set(), secrets: [], requests: [] };
  page.context().on('request', (r) => {
    seen.requests.push(r);
    if (/^(https?|wss?):/.test(r.url())) seen.hosts.add(new URL(r.url()).host);
  });
  page.context().on('response', async (r) => {
    if ((await r.request().headerValue('x-amz-target')) !== 'AWSCognitoIdentityService.GetCredentialsForIdentity') return;
    const body = (await r.json().catch(() => ({}))) as { Credentials?: { AccessKeyId: string; SecretKey: string; SessionToken: string } };
    if (body.Credentials) seen.secrets.push(body.Credentials.AccessKeyId, body.Credentials.SecretKey, body.Credentials.SessionToken);
  });
  return seen;
}

/** Fills the Connection view for AWS mode. */
async function configure(page: Page, o: { pool: string; mode: 'relay' | 'custom'; url?: string }, base = site): Promise<void> {
  await page.goto(`${base}/#/connection`);
  await page.getByLabel('Amazon Web Services').check();
  await page.getByLabel('Region').fill('us-east-1');
  await page.getByLabel('Cognito identity pool id').fill(o.pool);
  if (o.mode === 'relay') {
    await page.getByLabel(/Same-origin relay/).check();
  } else {
    await page.getByLabel(/Custom endpoint/).check();
    await page.getByLabel('Endpoint URL', { exact: true }).fill(o.url!);
  }
}

async function testConnection(page: Page): Promise<import('@playwright/test').Locator> {
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.getByTestId('connection-result');
  await expect(result).toBeVisible({ timeout: 60_000 });
  return result;
}

/** Runs Test connection and expects every step to pass; otherwise fails with the page's own sentences. */
async function expectConnected(page: Page): Promise<void> {
  const result = await testConnection(page);
  const ok = await result.getAttribute('data-ok');
  expect(ok, `Test connection failed: ${await result.innerText()}`).toBe('true');
}

/** Reads the snapshot back from the emulator server in Node and compares every block with the image. */
async function expectIdentical(snapshotId: string, image: TestImage): Promise<void> {
  // The check reads block by block: without the latency a test gave the upload, so it costs no more than it must.
  await admin({ latencyMs: 0 });
  await expectSnapshotIsImage(emu.url, snapshotId, image);
}

/** Everything the origin keeps: every IndexedDB record, localStorage, sessionStorage, as searchable text. */
async function storedText(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const parts: string[] = [];
    const text = (v: unknown): string => {
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
        const u8 = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        return Array.from(u8, (b) => String.fromCharCode(b)).join('');
      }
      if (v instanceof Blob) return `[blob ${v.size}]`;
      if (Array.isArray(v)) return v.map(text).join('\n');
      if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join('\n');
      return String(v);
    };
    for (const info of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open(info.name!);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      for (const store of Array.from(db.objectStoreNames)) {
        const all = await new Promise<unknown[]>((res, rej) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        parts.push(`idb ${info.name}/${store}: ${text(all)}`);
      }
      db.close();
    }
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) parts.push(`${s.key(i)}=${s.getItem(s.key(i)!)}`);
    return parts.join('\n');
  });
}

/** Starts the upload; if the page shows a problem instead of the run, the test fails with its sentence. */
async function start(page: Page, opts: { description?: string; concurrency?: number; skipEmptyBlocks?: boolean }): Promise<void> {
  await expect(page.getByTestId('plan')).toBeVisible({ timeout: 120_000 });
  if (opts.skipEmptyBlocks) await page.getByRole('checkbox', { name: /^Skip empty blocks/ }).check();
  if (opts.description !== undefined) await page.getByLabel('Description').fill(opts.description);
  if (opts.concurrency !== undefined) await page.getByLabel('Blocks in flight').fill(String(opts.concurrency));
  await page.getByRole('button', { name: 'Start upload' }).click();
  const problem = page.getByTestId('upload-problem');
  await expect(page.getByTestId('run-panel').or(problem)).toBeVisible({ timeout: 120_000 });
  if (await problem.isVisible()) throw new Error(`the upload did not start: ${await problem.innerText()}`);
}

async function uploadAndCheck(page: Page, seen: Seen, image: TestImage, opts: { concurrency?: number; skipEmptyBlocks?: boolean } = {}, base = site): Promise<string> {
  await page.goto(`${base}/#/upload`);
  await expect(page.getByTestId('mode')).toContainText('AWS us-east-1');
  await pickFile(page, image.path);
  await start(page, { description: 'aws e2e', ...opts });
  const snapshotId = await waitForCompleted(page, 400_000);
  await expectIdentical(snapshotId, image);

  // No secret persisted: the very keys, secrets and tokens the page received appear nowhere in its storage.
  expect(seen.secrets.length).toBeGreaterThanOrEqual(3);
  const stored = await storedText(page);
  expect(stored.length).toBeGreaterThan(0);
  for (const s of seen.secrets) expect(stored.includes(s), 'a credential was found in browser storage').toBe(false);
  expect(stored).not.toMatch(/secretAccessKey|sessionToken|SecretKey|SessionToken|ASIA[A-Z0-9]{12}/);
  return snapshotId;
}

test('relay mode: Test connection, then an upload of the built site through the vite preview proxy, byte-identical, same origin only', async ({ page }) => {
  const image = makeTestImage('aws-relay-24m', 24, 0xa75e1a);
  const seen = watch(page);
  const cspComplaints: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspComplaints.push(m.text());
  });
  await configure(page, { pool: emu.poolId!, mode: 'relay' });
  const result = await testConnection(page);
  await expect(result).toHaveAttribute('data-ok', 'true');
  await expect(result.locator('li')).toHaveCount(3);
  await expect(result).toContainText('IAM refused the probe snapshot as not yours');
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toMatch(/connect-src 'self'/);

  await uploadAndCheck(page, seen, image);
  // Relay mode: every request, Cognito and EC2 included, went to the page's own origin.
  expect([...seen.hosts]).toEqual([new URL(site).host]);
  expect(seen.requests.some((r) => new URL(r.url()).pathname === '/cognito-identity/')).toBe(true);
  expect(seen.requests.some((r) => new URL(r.url()).pathname === '/ec2/')).toBe(true);
  expect(seen.requests.filter((r) => r.method() === 'PUT' && /\/snapshots\/snap-[0-9a-f]+\/blocks\/\d+$/.test(r.url())).length).toBeGreaterThan(0);

  // The built app (page, workers, hashing) runs under the CSP without a single refusal.
  expect(cspComplaints).toEqual([]);
  // The CSP stops the page from reaching any other host.
  const blocked = await page.evaluate(async () => {
    const violation = new Promise<string>((res) => document.addEventListener('securitypolicyviolation', (e) => res(e.violatedDirective), { once: true }));
    const failed = await fetch('http://10.255.255.1/').then(() => false, () => true);
    return { failed, directive: await violation };
  });
  expect(blocked).toEqual({ failed: true, directive: 'connect-src' });
});

test('direct mode: cross-origin to the emulator server with CORS on, byte-identical, only the two configured hosts', async ({ page }) => {
  const image = makeTestImage('aws-direct-16m', 16, 0xd1ec7);
  const seen = watch(page);
  await configure(page, { pool: emu.poolId!, mode: 'custom', url: emu.url });
  await expectConnected(page);
  await uploadAndCheck(page, seen, image);
  expect([...seen.hosts].sort()).toEqual([new URL(site).host, new URL(emu.url).host].sort());
  expect(seen.requests.filter((r) => r.url().startsWith(emu.url) && r.method() === 'PUT').length).toBeGreaterThan(0);
});

test('credentials issued for 10 seconds: an upload that takes longer completes, after refreshing them', async ({ page }) => {
  // 0.4 s per request with 2 blocks in flight: about 13 s for this image (about 64 blocks to send, empty ones skipped).
  // The page refreshes at half the lifetime (at most 5 minutes ahead), so a short lifetime tests what a real hour does.
  const image = makeTestImage('aws-refresh-48m', 48, 0x2e42e5);
  await admin({ credentialTtlSeconds: 10, latencyMs: 400 });
  const seen = watch(page);
  await configure(page, { pool: emu.poolId!, mode: 'relay' });
  await expectConnected(page);
  const started = seen.secrets.length;
  await uploadAndCheck(page, seen, image, { concurrency: 2, skipEmptyBlocks: true });
  // More credentials were issued during the upload than at its start: the refresh happened, and the upload survived it.
  expect(seen.secrets.length / 3).toBeGreaterThanOrEqual(started / 3 + 1);
  const state = (await (await emu.admin('state')).json()) as { cognito: { issuedKeys: { accessKeyId: string }[] } };
  const pageKeys = seen.secrets.filter((_, i) => i % 3 === 0);
  expect(state.cognito.issuedKeys.filter((k) => pageKeys.includes(k.accessKeyId)).length).toBeGreaterThanOrEqual(2);
  // Signed requests used more than one access key over the upload (old ones expired on the way).
  const keysUsed = new Set<string>();
  for (const r of seen.requests) {
    const m = /Credential=([A-Z0-9]+)\//.exec((await r.headerValue('authorization')) ?? '');
    if (m && /\/snapshots\/snap-/.test(r.url())) keysUsed.add(m[1]!);
  }
  expect(keysUsed.size).toBeGreaterThanOrEqual(2);
  await page.goto(`${site}/#/connection`);
  const fetches = Number(await page.getByTestId('credential-status').getAttribute('data-fetches'));
  expect(fetches).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('credential-status')).toContainText('refreshed');
});

test('each failure gets its own sentence: CORS blocked, unknown pool, no unauthenticated access, bad secret, no relay, CSP', async ({ page, baseURL }) => {
  const step = (r: import('@playwright/test').Locator) => r.locator('li.bad');

  // CORS off: the direct (cross-origin) call is blocked; the diagnosis says so and points to the relay.
  await admin({ cors: false });
  await configure(page, { pool: emu.poolId!, mode: 'custom', url: emu.url });
  let r = await testConnection(page);
  await expect(r).toHaveAttribute('data-ok', 'false');
  await expect(step(r)).toContainText(`The browser blocked the request to ${emu.url}: that endpoint does not allow cross-origin (CORS) requests from this page.`);
  await expect(step(r).getByTestId('connection-action')).toContainText('Use the same-origin relay instead');
  const corsText = await step(r).innerText();
  await admin({ cors: true });

  // A pool that does not exist.
  await configure(page, { pool: 'us-east-1:00000000-0000-4000-a000-000000000000', mode: 'custom', url: emu.url });
  r = await testConnection(page);
  await expect(step(r)).toContainText('There is no identity pool us-east-1:00000000-0000-4000-a000-000000000000 in us-east-1.');
  const poolText = await step(r).innerText();

  // A pool without unauthenticated access.
  const cognito = new CognitoIdentityClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const closed = await cognito.send(new CreateIdentityPoolCommand({ IdentityPoolName: 'members_only', AllowUnauthenticatedIdentities: false }));
  await configure(page, { pool: closed.IdentityPoolId!, mode: 'relay' });
  r = await testConnection(page);
  await expect(step(r)).toContainText(`The identity pool ${closed.IdentityPoolId} does not give credentials to visitors without a login.`);
  const unauthText = await step(r).innerText();

  // A bad secret: Cognito's answer is altered on the way, so every signature is wrong.
  await page.route('**/cognito-identity/', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (body.Credentials) body.Credentials.SecretKey = 'not-the-secret-that-was-issued';
    await route.fulfill({ response: res, json: body });
  });
  await configure(page, { pool: emu.poolId!, mode: 'relay' });
  r = await testConnection(page);
  await expect(r.locator('li.ok')).toHaveCount(1);
  await expect(step(r)).toContainText('EBS rejected the request signature: the secret key does not match the access key');
  const secretText = await step(r).innerText();
  await page.unroute('**/cognito-identity/');

  // A site served without the relay (the plain dev server): relay mode says the relay is missing and how to add it.
  await configure(page, { pool: emu.poolId!, mode: 'relay' }, baseURL!);
  r = await testConnection(page);
  await expect(step(r)).toContainText(`${baseURL}/cognito-identity did not answer like the Cognito Identity API (HTTP 404): this site has no relay for it.`);
  await expect(step(r).getByTestId('connection-action')).toContainText('BLOCKPORT_RELAY_TARGET');
  const relayText = await step(r).innerText();

  // An endpoint the page's CSP does not allow (neither AWS nor loopback): the CSP is named, not CORS.
  await configure(page, { pool: emu.poolId!, mode: 'custom', url: 'http://10.255.255.1:4566' });
  r = await testConnection(page);
  await expect(step(r)).toContainText("This page's Content-Security-Policy does not allow requests to http://10.255.255.1:4566");
  const cspText = await step(r).innerText();

  expect(new Set([corsText, poolText, unauthText, secretText, relayText, cspText]).size).toBe(6);
});

test('relay mode survives a reload: credentials are fetched again (none were kept), the job resumes byte-identical', async ({ page }) => {
  const image = makeTestImage('aws-reload-48m', 48, 0x7e10ad);
  await admin({ latencyMs: 150 });
  const seen = watch(page);
  await configure(page, { pool: emu.poolId!, mode: 'relay' });
  await expectConnected(page);
  await page.goto(`${site}/#/upload`);
  await pickFile(page, image.path);
  await start(page, { concurrency: 2 });
  await waitForPercent(page, 25);
  const before = seen.secrets.length;
  await page.reload();

  // Nothing to sign with survived the reload: storage holds no key, secret or token.
  const stored = await storedText(page);
  for (const s of seen.secrets) expect(stored.includes(s), 'a credential was found in browser storage').toBe(false);
  await expect(page.getByTestId('mode')).toContainText('AWS us-east-1');

  await expect(page.getByTestId('unfinished-banner')).toBeVisible();
  await page.getByRole('link', { name: 'Resume or discard it in Jobs' }).click();
  const card = page.getByTestId('job-card');
  await expect(card).toHaveCount(1);
  await card.getByRole('button', { name: 'Resume…' }).click();
  await pickFile(page, image.path, card);
  const snapshotId = await waitForCompleted(page, 400_000);
  await expectIdentical(snapshotId, image);
  // The resumed upload signed with credentials fetched after the reload.
  expect(seen.secrets.length).toBeGreaterThan(before);
  expect([...seen.hosts]).toEqual([new URL(site).host]);
});

test('the dev server (`npm run dev`) offers the same relay: Test connection passes through its proxy', async ({ page }) => {
  process.env.BLOCKPORT_RELAY_TARGET = emu.url;
  const dev = await createServer({ configFile: 'vite.config.ts', server: { port: 0, host: 'localhost' }, logLevel: 'warn' });
  delete process.env.BLOCKPORT_RELAY_TARGET;
  await dev.listen();
  try {
    const addr = dev.httpServer!.address();
    const devSite = `http://localhost:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const seen = watch(page);
    await configure(page, { pool: emu.poolId!, mode: 'relay' }, devSite);
    await expectConnected(page);
    expect([...seen.hosts]).toEqual([new URL(devSite).host]);
    expect(seen.secrets.length).toBe(3);
  } finally {
    await dev.close();
  }
});
