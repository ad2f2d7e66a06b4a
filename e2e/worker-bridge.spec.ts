// The worker bridge with real module Workers in Chromium: started on the first call and not before, calls in order,
// replaced after its share, ended when idle or on abort, credentials through the lent port, a broken script reported.
import type { Page, Worker } from '@playwright/test';
import { test, expect } from './helpers/test.ts';

type BridgeWindow = {
  __bridge: typeof import('../src/engine/browser/worker-bridge.ts') & {
    transfer: typeof import('comlink').transfer;
    openCredentialPorts: typeof import('../src/aws/credential-bridge.ts').openCredentialPorts;
    spawnTestWorker: () => import('../src/engine/browser/worker-bridge.ts').StartedWorker<import('comlink').Remote<import('./pages/bridge-worker.ts').BridgeTestApi>>;
  };
};

/** The page, and the test workers it starts (each with a promise of its end). */
async function open(page: Page): Promise<{ workers: { worker: Worker; closed: Promise<void> }[] }> {
  const workers: { worker: Worker; closed: Promise<void> }[] = [];
  page.on('worker', (worker) => {
    if (worker.url().includes('bridge-worker')) workers.push({ worker, closed: new Promise((res) => worker.on('close', () => res())) });
  });
  await page.goto('/e2e/pages/bridge.html');
  await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 });
  return { workers };
}

test('starts a worker at the first call, queues calls on it, and replaces it after its share', async ({ page }) => {
  const { workers } = await open(page);
  const out = await page.evaluate(async () => {
    const { WorkerBridge, spawnTestWorker: spawn } = (window as unknown as BridgeWindow).__bridge;
    const bridge = new WorkerBridge({ spawn, recycleAfter: 3 });
    const before = bridge.started;
    // A holds the worker: B and C queue behind it; an interrupt releases A.
    const order: string[] = [];
    const a = bridge.call(async ({ api }) => (await api.hold(), order.push('a'), bridge.spend(1)));
    const b = bridge.call(async ({ api }) => (await api.id(), order.push('b'), bridge.spend(1)));
    const c = bridge.call(async ({ api }) => (await api.id(), order.push('c'), bridge.spend(1)));
    while (!(await bridge.interrupt(async ({ api }) => (await api.release(), true)))) await new Promise((res) => setTimeout(res, 10));
    await Promise.all([a, b, c]);
    const abcWorker = await bridge.interrupt(({ api }) => api.id());
    const ids: string[] = [];
    for (let k = 0; k < 6; k++) {
      ids.push(await bridge.call(({ api }) => api.id()));
      bridge.spend(1);
    }
    bridge.terminate();
    return { before, order, abcWorker, ids, started: bridge.started };
  });
  // No worker before the first call.
  expect(out.before).toBe(0);
  expect(out.order).toEqual(['a', 'b', 'c']);
  // Three calls per worker: the first worker served a, b, c and nothing more.
  expect(out.abcWorker).toBeTruthy();
  expect(new Set(out.ids.slice(0, 3)).size).toBe(1);
  expect(new Set(out.ids.slice(3, 6)).size).toBe(1);
  expect(new Set([out.abcWorker, out.ids[0], out.ids[3]]).size).toBe(3);
  expect(out.started).toBe(3);
  await expect.poll(() => workers.length).toBe(3);
  // Every worker is ended: the replaced ones at their replacement, the last by terminate().
  await Promise.all(workers.map((w) => w.closed));
});

test('ends a worker once idle, and under a call whose signal aborts; the next call starts a fresh one', async ({ page }) => {
  const { workers } = await open(page);
  const first = await page.evaluate(async () => {
    const { WorkerBridge, spawnTestWorker: spawn } = (window as unknown as BridgeWindow).__bridge;
    const idle = new WorkerBridge({ spawn, idleMs: 0 });
    Object.assign(window, { idle, aborting: new WorkerBridge({ spawn }) });
    return idle.call(({ api }) => api.id());
  });
  await expect.poll(() => workers.length).toBe(1);
  // Idle: the worker ends by itself.
  await workers[0]!.closed;
  const again = await page.evaluate(async () => {
    type Bridge = import('../src/engine/browser/worker-bridge.ts').WorkerBridge<import('comlink').Remote<import('./pages/bridge-worker.ts').BridgeTestApi>>;
    const { idle, aborting } = window as unknown as { idle: Bridge; aborting: Bridge };
    const second = await idle.call(({ api }) => api.id());
    const ac = new AbortController();
    const held = aborting.call(({ api }) => api.hold(), { signal: ac.signal });
    let heldId: string | undefined;
    while (!(heldId = await aborting.interrupt(({ api }) => api.id()))) await new Promise((res) => setTimeout(res, 10));
    ac.abort(new Error('the call is no longer wanted'));
    const outcome = await held.then(
      () => 'answered',
      (e: Error) => e.message,
    );
    const after = await aborting.call(({ api }) => api.id());
    aborting.terminate();
    return { second, heldId, outcome, after };
  });
  expect(again.second).not.toBe(first);
  expect(again.outcome).toBe('the call is no longer wanted');
  expect(again.after).not.toBe(again.heldId);
  // The idle bridge's second worker, the aborted worker, its successor: each ended (idle, abort, terminate()).
  await expect.poll(() => workers.length).toBe(4);
  await Promise.all(workers.map((w) => w.closed));
});

test('a worker gets its credentials from the page through the lent port, closed when the call ends', async ({ page }) => {
  await open(page);
  const out = await page.evaluate(async () => {
    const { WorkerBridge, spawnTestWorker, transfer, openCredentialPorts } = (window as unknown as BridgeWindow).__bridge;
    const bridge = new WorkerBridge({ spawn: spawnTestWorker });
    const connection = {
      kind: 'aws' as const,
      settings: { kind: 'aws' as const, region: 'eu-west-1', identityPoolId: 'eu-west-1:00000000-0000-4000-a000-000000000000', endpoint: { mode: 'relay' as const, basePath: '' } },
      origin: location.origin,
      credentials: { accessKeyId: 'AKIDFROMTHEPAGE', secretAccessKey: 'secret', expiration: new Date(Date.now() + 3600_000) },
    };
    const before = openCredentialPorts();
    let during = 0;
    const keyId = await bridge.call(({ api, lend }) => {
      const c = lend(connection);
      during = openCredentialPorts();
      return api.keyId(transfer(c.connection as typeof connection, c.transfer));
    });
    const after = openCredentialPorts();
    bridge.terminate();
    return { keyId, opened: during - before, left: after - before };
  });
  expect(out).toEqual({ keyId: 'AKIDFROMTHEPAGE', opened: 1, left: 0 });
});

test('a worker whose script fails as it loads fails the call with a sentence instead of leaving it waiting', async ({ page }) => {
  await open(page);
  const message = await page.evaluate(async () => {
    const { WorkerBridge, comlinkWorker } = (window as unknown as BridgeWindow).__bridge;
    const bridge = new WorkerBridge({ spawn: () => comlinkWorker<{ id(): Promise<string> }>(new Worker('/e2e/pages/bridge-broken-worker.ts', { type: 'module' })) });
    return bridge.call(({ api }) => api.id()).then(
      () => 'answered',
      (e: Error) => `${e.name}: ${e.message}`,
    );
  });
  expect(message).toMatch(/^WorkerStartError: The worker did not start \(.+\)\.$/);
});
