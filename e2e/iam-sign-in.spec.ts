// Per-person access end to end: the page on the emulator server with its OpenID Connect sign-in (--oidc), IAM
// enforced from deploy/blockport.json, unauthenticated identities off, every call through the same-origin relay.
import { preview, type PreviewServer } from 'vite';
import type { BrowserContext, Page } from '@playwright/test';
import { spawnEmulator, type SpawnedEmulator } from '../server/spawn-emulator.ts';
import { makeTestImage, type TestImage } from './helpers/disk-image.ts';
import type { Attempt } from './helpers/iam-probe.ts';
import { test, expect } from './helpers/test.ts';
import { pickFile, startUpload, waitForCompleted } from './helpers/ui.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

const PROBE = '/e2e/helpers/iam-probe.ts';
type Probe = typeof import('./helpers/iam-probe.ts');

let emu: SpawnedEmulator;
let vite: PreviewServer;
let site: string;

test.beforeAll(async () => {
  emu = await spawnEmulator(['--identity-pool', 'people', '--oidc-user', 'alice:wonderland', '--oidc-user', 'bob:the-builder', '--unauthenticated', 'off', '--completion-delay-ms', '200']);
  // The suite's build (with the probe this spec imports) behind a second `vite preview` whose /snapshots*, /ec2/*,
  // /cognito-identity/* go to this emulator: the relay.
  process.env.BLOCKPORT_RELAY_TARGET = emu.url;
  vite = await preview({ configFile: 'e2e/vite.e2e.config.ts', preview: { port: 0, host: 'localhost', strictPort: false }, logLevel: 'warn' });
  delete process.env.BLOCKPORT_RELAY_TARGET;
  site = vite.resolvedUrls!.local[0]!.replace(/\/$/, '');
});

test.afterAll(async () => {
  await vite?.close();
  await emu?.stop();
});

/** Fills and saves the Connection view: this emulator's pool, through the relay, signing in at its provider. */
async function configure(page: Page): Promise<void> {
  await page.goto(`${site}/#/connection`);
  await page.getByLabel('Amazon Web Services').check();
  await page.getByLabel('Region').fill('us-east-1');
  await page.getByLabel('Cognito identity pool id').fill(emu.poolId!);
  await page.getByLabel(/Same-origin relay/).check();
  await page.getByText('Sign in (authenticated identities)').click();
  await page.getByLabel('Sign-in issuer').fill(`${emu.url}/oidc`);
  await page.getByLabel('Sign-in client id').fill('blockport');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('sign-in').getByRole('button', { name: 'Sign in' })).toBeVisible({ timeout: 60_000 });
}

/** Signs in through the provider's page and comes back to Blockport signed in. */
async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.getByTestId('sign-in').getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to the Blockport emulator' })).toBeVisible({ timeout: 60_000 });
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signed-in-as')).toHaveText(`Signed in as ${user}`, { timeout: 60_000 });
  // The code left the address bar; the token stayed in memory only.
  expect(new URL(page.url()).searchParams.has('code')).toBe(false);
  expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).not.toMatch(/eyJ/);
}

/** Uploads a small image as the signed-in person (hash navigation only: a reload would forget the sign-in). */
async function upload(page: Page, image: TestImage, name: string): Promise<string> {
  await page.getByRole('link', { name: 'Upload' }).click();
  await pickFile(page, image.path);
  await startUpload(page, { description: name });
  return waitForCompleted(page);
}

const touch = (page: Page, id: string) => page.evaluate(async ([url, s]) => ((await import(/* @vite-ignore */ url)) as Probe).touch(s), [PROBE, id] as const);
const own = (page: Page) => page.evaluate(async (url) => ((await import(/* @vite-ignore */ url)) as Probe).ownSnapshots(), PROBE);
const readOwn = (page: Page, id: string) => page.evaluate(async ([url, s]) => ((await import(/* @vite-ignore */ url)) as Probe).readOwn(s), [PROBE, id] as const);

/** Records where a context's requests go: every AWS call must go through the site's relay, none to the emulator. */
function watchRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (r) => urls.push(r.url()));
  return urls;
}

function expectAllThroughRelay(urls: string[]): void {
  const aws = urls.filter((u) => /^\/(snapshots|ec2\/|cognito-identity\/)/.test(new URL(u).pathname));
  expect(aws.length).toBeGreaterThan(0);
  expect(aws.filter((u) => new URL(u).origin !== new URL(site).origin)).toEqual([]);
  // The emulator itself is reached only for sign-in (its OpenID Connect provider).
  expect(urls.filter((u) => new URL(u).origin === new URL(emu.url).origin && !new URL(u).pathname.startsWith('/oidc'))).toEqual([]);
}

function expectAllRefused(attempts: Record<string, Attempt>, snapshotId: string): void {
  expect(Object.keys(attempts).sort()).toEqual(['complete', 'delete', 'list', 'newVersion', 'read', 'write']);
  for (const [op, a] of Object.entries(attempts)) {
    expect(a, op).toMatchObject({ ok: false, name: op === 'delete' ? 'UnauthorizedOperation' : 'AccessDeniedException' });
    expect(a.what, op).toBe(`Snapshot ${snapshotId} is not yours: each person may read, write, delete or build on only the snapshots they started.`);
    expect(a.action, op).toMatch(/^Sign in as the person who started it/);
  }
}

let alice: Page;
let bob: Page;
let aliceSnapshot: string;
let bobSnapshot: string;

test('two people sign in; each sees and touches only their own snapshots', async ({ browser }) => {
  const a = await browser.newContext();
  const b = await browser.newContext();
  const aliceRequests = watchRequests(a);
  const bobRequests = watchRequests(b);
  alice = await a.newPage();
  bob = await b.newPage();
  await configure(alice);
  await configure(bob);
  await signIn(alice, 'alice', 'wonderland');
  await signIn(bob, 'bob', 'the-builder');

  const aliceImage = makeTestImage('iam-alice', 2, 0xa11ce);
  const bobImage = makeTestImage('iam-bob', 2, 0xb0b);
  aliceSnapshot = await upload(alice, aliceImage, 'iam-alice');
  bobSnapshot = await upload(bob, bobImage, 'iam-bob');

  // The library lists each person's own snapshot only.
  await alice.getByRole('link', { name: 'Library' }).click();
  await expect(alice.locator(`[data-testid="library-row"][data-snapshot-id="${aliceSnapshot}"]`)).toBeVisible({ timeout: 60_000 });
  await expect(alice.locator(`[data-testid="library-row"][data-snapshot-id="${bobSnapshot}"]`)).toHaveCount(0);
  await bob.getByRole('link', { name: 'Library' }).click();
  await expect(bob.locator(`[data-testid="library-row"][data-snapshot-id="${bobSnapshot}"]`)).toBeVisible({ timeout: 60_000 });
  await expect(bob.locator(`[data-testid="library-row"][data-snapshot-id="${aliceSnapshot}"]`)).toHaveCount(0);
  // Create AMI from the Library reads how her snapshot boots in the boot worker, with her credentials lent to it:
  // every block it reads is fetched by that worker (none by the page), and the form shows what was found.
  const blockReads: Promise<string | null>[] = [];
  const bootWorkers: string[] = [];
  alice.on('worker', (w) => {
    if (/boot\.worker/.test(w.url())) bootWorkers.push(w.url());
  });
  alice.on('request', (r) => {
    if (!/^\/snapshots\/snap-[0-9a-f]+\/blocks\/\d+$/.test(new URL(r.url()).pathname)) return;
    // A fetch names its context as the referrer: the worker's script, or the page.
    blockReads.push(r.headerValue('referer'));
  });
  await alice.locator(`[data-testid="library-row"][data-snapshot-id="${aliceSnapshot}"]`).getByRole('button', { name: 'Create AMI…' }).click();
  const form = alice.getByTestId('create-ami');
  await expect(form.getByTestId('ami-evidence')).not.toContainText('Reading how the snapshot boots', { timeout: 60_000 });
  await expect(form.getByTestId('ami-evidence')).toContainText('No partition table (neither GPT nor MBR)');
  await expect(form.getByTestId('ami-evidence')).not.toContainText('could not be read');
  const referrers = await Promise.all(blockReads);
  expect(referrers.length).toBeGreaterThan(0);
  // The boot worker's script: workers/boot.worker.ts, built as assets/boot.worker-<hash>.js.
  for (const r of referrers) expect(new URL(r ?? site).pathname).toMatch(/\/boot\.worker(\.ts|-[\w-]+\.js)$/);
  expect(bootWorkers).toHaveLength(1);
  await form.getByRole('button', { name: 'Cancel' }).click();

  const mine = await own(alice);
  expect(mine.ids).toEqual([aliceSnapshot]);
  expect(mine.owner).toMatch(/^us-east-1:/);
  expect((await own(bob)).owner).not.toBe(mine.owner);

  // Each reads their own snapshot through the page: every block listed and read back as uploaded.
  for (const [page, id, image] of [[alice, aliceSnapshot, aliceImage], [bob, bobSnapshot, bobImage]] as const) {
    const mineRead = await readOwn(page, id);
    expect(mineRead.list).toEqual({ ok: true });
    expect(mineRead.read).toEqual({ ok: true });
    const stored = image.digests.map((d, i) => ({ index: i, digest: d })).filter((b) => !image.zeroBlocks.includes(b.index));
    expect(mineRead.blocks).toEqual(stored);
    expect(stored.length).toBeGreaterThan(0);
  }

  // Each one's hands on the other's snapshot: list, read, write, complete, new version, delete, all refused.
  expectAllRefused(await touch(bob, aliceSnapshot), aliceSnapshot);
  expectAllRefused(await touch(alice, bobSnapshot), bobSnapshot);

  // Through the page's own form too: a new version of Alice's snapshot is refused with the sentence.
  await bob.getByRole('link', { name: 'Upload' }).click();
  await bob.getByRole('button', { name: 'Upload another image' }).click();
  await pickFile(bob, makeTestImage('iam-bob-v2', 2, 0xb0b2).path);
  await expect(bob.getByTestId('plan')).toBeVisible({ timeout: 60_000 });
  await bob.getByLabel('New version of snapshot (optional)').fill(aliceSnapshot);
  await bob.getByRole('button', { name: 'Start upload' }).click();
  await expect(bob.getByText(`Snapshot ${aliceSnapshot} is not yours`).first()).toBeVisible({ timeout: 60_000 });

  // And on their own: everything the app does is allowed (the new version is the last one left pending).
  const self = await touch(bob, bobSnapshot);
  expect(self.list).toEqual({ ok: true });
  expect(self.newVersion).toEqual({ ok: true });
  expect(self.delete).toEqual({ ok: true });
  expect((await own(alice)).ids).toEqual([aliceSnapshot]);

  // All of it went through the same-origin relay.
  expectAllThroughRelay(aliceRequests);
  expectAllThroughRelay(bobRequests);
});

test('a visitor who has not signed in can do nothing, and signing out takes the access away', async ({ browser }) => {
  const v = await browser.newContext();
  const visitorRequests = watchRequests(v);
  const visitor = await v.newPage();
  await configure(visitor);
  await visitor.getByRole('button', { name: 'Test connection' }).click();
  const result = visitor.getByTestId('connection-result');
  await expect(result).toBeVisible({ timeout: 60_000 });
  await expect(result).toHaveAttribute('data-ok', 'false');
  await expect(result.locator('[data-step="credentials"]')).toContainText(/visitors|sign in|login/i);
  const tried = await touch(visitor, aliceSnapshot);
  for (const [op, a] of Object.entries(tried)) expect(a, op).toMatchObject({ ok: false, name: 'NotAuthorizedException' });
  await expect(visitor.getByTestId('signed-in-as')).toHaveCount(0);
  expectAllThroughRelay(visitorRequests);

  await alice.getByTestId('sign-in').getByRole('button', { name: 'Sign out' }).click();
  await expect(alice.getByTestId('sign-in').getByRole('button', { name: 'Sign in' })).toBeVisible();
  const after = await touch(alice, aliceSnapshot);
  expect(after.list).toMatchObject({ ok: false, name: 'NotAuthorizedException' });
});
