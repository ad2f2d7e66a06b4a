import { describe, expect, it } from 'vitest';
import type { AwsCredentialIdentity } from '@smithy/types';
import { credentialsFromPort, openCredentialPort, openCredentialPorts } from './credential-bridge.ts';
import { RefreshingCredentials, type RefreshEvent } from './refreshing-credentials.ts';
import { ServiceClock } from './service-clock.ts';

/** A fake clock and a fetcher that issues numbered credentials valid for `ttlMs`. */
function issuer(ttlMs: number) {
  let now = 1_700_000_000_000;
  let n = 0;
  return {
    now: () => now,
    advance: (ms: number) => (now += ms),
    fetcher: async (): Promise<AwsCredentialIdentity> => {
      n++;
      return { accessKeyId: `AKID${n}`, secretAccessKey: `secret${n}`, sessionToken: `token${n}`, expiration: new Date(now + ttlMs) };
    },
    issued: () => n,
  };
}

/** Credentials refreshed on the issuer's clock, with the events they sent recorded. */
function watched(i: ReturnType<typeof issuer>) {
  const c = new RefreshingCredentials(i.fetcher, { now: i.now });
  const events: RefreshEvent[] = [];
  c.onEvent((e) => events.push(e));
  return { c, events };
}

describe('RefreshingCredentials', () => {
  it('fetches once for concurrent callers and serves the cache until refresh is due', async () => {
    const i = issuer(3600_000);
    const c = new RefreshingCredentials(i.fetcher, { now: i.now });
    const [a, b] = await Promise.all([c.get(), c.get()]);
    expect(a.accessKeyId).toBe('AKID1');
    expect(b.accessKeyId).toBe('AKID1');
    i.advance(50 * 60_000);
    expect((await c.get()).accessKeyId).toBe('AKID1');
    i.advance(6 * 60_000); // 4 minutes left: inside the 5-minute lead
    expect((await c.get()).accessKeyId).toBe('AKID2');
    expect(i.issued()).toBe(2);
  });

  it('replaces 2-minute credentials before they expire (lead = half the lifetime)', async () => {
    const i = issuer(120_000);
    const { c, events } = watched(i);
    const first = await c.get();
    i.advance(59_000);
    expect((await c.get()).accessKeyId).toBe(first.accessKeyId);
    i.advance(2_000); // 59 s left of 120
    const second = await c.get();
    expect(second.accessKeyId).toBe('AKID2');
    expect(second.expiration!.getTime()).toBeGreaterThan(i.now() + 60_000);
    expect(events.map((e) => e.kind)).toEqual(['fetched', 'refreshed']);
    expect(c.fetches).toBe(2);
  });

  it('reports a failed fetch, keeps no half state, and fetches again after invalidate', async () => {
    let fail = true;
    const i = issuer(3600_000);
    const c = new RefreshingCredentials(async () => {
      if (fail) throw Object.assign(new Error('Unauthenticated access is not supported for this identity pool.'), { name: 'NotAuthorizedException' });
      return i.fetcher();
    }, { now: i.now });
    const events: RefreshEvent[] = [];
    c.onEvent((e) => events.push(e));
    await expect(c.get()).rejects.toThrow(/Unauthenticated/);
    fail = false;
    expect((await c.get()).accessKeyId).toBe('AKID1');
    c.invalidate();
    expect((await c.get()).accessKeyId).toBe('AKID2');
    expect(events.map((e) => e.kind)).toEqual(['failed', 'fetched', 'refreshed']);
  });
});

describe('RefreshingCredentials by the service clock', () => {
  it('refreshes by the service\'s time: a local clock 7 minutes slow would have kept 10-minute credentials past their expiry', async () => {
    let local = 1_700_000_000_000;
    const clock = new ServiceClock(() => local);
    // The service's Date header says 7 minutes later than the local clock.
    clock.observeDate(new Date(local + 7 * 60_000).toUTCString(), local, local);
    let n = 0;
    const c = new RefreshingCredentials(async () => ({ accessKeyId: `AKID${++n}`, secretAccessKey: 's', expiration: new Date(clock.now() + 10 * 60_000) }), {
      now: () => clock.now(),
    });
    expect((await c.get()).accessKeyId).toBe('AKID1');
    local += 4 * 60_000; // 6 minutes left by the service's clock (13 by the local one)
    expect((await c.get()).accessKeyId).toBe('AKID1');
    local += 2 * 60_000; // 4 minutes left: inside the 5-minute margin
    expect((await c.get()).accessKeyId).toBe('AKID2');
  });

  it('refreshes once for every caller that saw the same key refused, and not again for a key already replaced', async () => {
    const i = issuer(3600_000);
    const { c, events } = watched(i);
    const first = await c.get();
    const again = await Promise.all([c.refreshRejected(first.accessKeyId), c.refreshRejected(first.accessKeyId)]);
    expect(again.map((x) => x.accessKeyId)).toEqual(['AKID2', 'AKID2']);
    expect((await c.refreshRejected(first.accessKeyId)).accessKeyId).toBe('AKID2');
    expect(i.issued()).toBe(2);
    expect(events.map((e) => [e.kind, e.reason])).toEqual([['fetched', undefined], ['refreshed', 'rejected']]);
  });

  it('hands the SDK a provider it must not cache (the SDK would judge expiry by the local clock)', () => {
    const c = new RefreshingCredentials(issuer(60_000).fetcher);
    expect((c.provider as { memoized?: boolean }).memoized).toBe(true);
  });
});

describe('credential bridge (main thread ⇄ worker over a MessagePort)', () => {
  it('forwards a refused key to the main thread, which refreshes once for all its workers', async () => {
    const i = issuer(3600_000);
    const main = new RefreshingCredentials(i.fetcher, { now: i.now });
    const a = openCredentialPort(main);
    const b = openCredentialPort(main);
    const wa = credentialsFromPort(a.port);
    const wb = credentialsFromPort(b.port);
    const stale = (await wa.get()).accessKeyId;
    expect((await wb.get()).accessKeyId).toBe(stale);
    const [ra, rb] = await Promise.all([wa.refreshRejected(stale), wb.refreshRejected(stale)]);
    expect([ra.accessKeyId, rb.accessKeyId]).toEqual(['AKID2', 'AKID2']);
    expect(i.issued()).toBe(2);
    a.close();
    b.close();
  });

  it('gives the worker side the main thread\'s credentials and follows its refreshes', async () => {
    const i = issuer(3600_000);
    const main = new RefreshingCredentials(i.fetcher, { now: i.now });
    const first = openCredentialPort(main);
    const worker = credentialsFromPort(first.port);
    const got = await worker.get();
    expect(got).toMatchObject({ accessKeyId: 'AKID1', secretAccessKey: 'secret1', sessionToken: 'token1' });
    expect(got.expiration).toBeInstanceOf(Date);
    expect(i.issued()).toBe(1);
    // Two worker caches share the one main-thread fetch.
    const second = openCredentialPort(main);
    expect((await credentialsFromPort(second.port).get()).accessKeyId).toBe('AKID1');
    expect(i.issued()).toBe(1);
    main.invalidate();
    worker.invalidate();
    expect((await worker.get()).accessKeyId).toBe('AKID2');
    first.close();
    second.close();
    expect(openCredentialPorts()).toBe(0);
  });
});
