import { describe, expect, it } from 'vitest';
import { advise } from './advice.ts';
import type { AwsSettings } from './settings.ts';
import { probeReachable } from './test-connection.ts';

const custom = (url: string): AwsSettings => ({ kind: 'aws', region: 'us-east-1', identityPoolId: 'us-east-1:00000000-0000-4000-a000-000000000000', endpoint: { mode: 'custom', url } });
// What a browser's fetch throws for a refused connection and for a CORS refusal alike.
const failed = () => new TypeError('Failed to fetch');

describe('advice for a request that got no answer (custom endpoint)', () => {
  const settings = custom('http://127.0.0.1:4566');

  it('says the server is not reachable, without blaming CORS, when the no-cors probe got no answer either', () => {
    const a = advise(failed(), { settings, service: 'ebs', reachable: false });
    expect(a.code).toBe('unreachable');
    expect(a.what).toBe('Nothing answered at http://127.0.0.1:4566: the address is wrong, the server is down, or the network blocks it.');
    expect(a.action).toMatch(/server \(e\.g\. `npm run emulator`\) is running/);
    expect(`${a.what} ${a.action}`).not.toMatch(/CORS|cross-origin/);
  });

  it('says CORS when the probe shows the server answers', () => {
    const a = advise(failed(), { settings, service: 'cognito-identity', reachable: true });
    expect(a.code).toBe('cors');
    expect(a.what).toBe('The browser blocked the request to http://127.0.0.1:4566: that endpoint does not allow cross-origin (CORS) requests from this page.');
  });

  it('names both causes when no probe could tell them apart, instead of claiming CORS', () => {
    const a = advise(failed(), { settings, service: 'ebs' });
    expect(a.code).toBe('unreachable-or-cors');
    expect(a.what).toBe(
      'Could not reach http://127.0.0.1:4566: the server is not running or not reachable from here, or it refuses cross-origin requests from this page (CORS); the browser does not say which.',
    );
    expect(a.action).toMatch(/^Check the endpoint URL and that the server \(e\.g\. `npm run emulator`\) is running and allows CORS from this page, or use the same-origin relay/);
    // Direct to AWS: the network, or CORS.
    const direct = advise(failed(), { settings: { ...settings, endpoint: { mode: 'direct' } }, service: 'ebs' });
    expect(direct.code).toBe('unreachable-or-cors');
    expect(direct.what).toMatch(/^Could not reach https:\/\/ebs\.us-east-1\.amazonaws\.com: .*\(CORS\)/);
    expect(direct.action).toMatch(/^Check your network connection; if it works, use the same-origin relay/);
  });

  it('names an untrusted certificate among the causes for an https endpoint of one\'s own', () => {
    const a = advise(failed(), { settings: custom('https://127.0.0.1:4567'), service: 'ebs', reachable: false });
    expect(a.what).toMatch(/, or this browser does not trust its certificate\.$/);
  });
});

describe('probeReachable (the no-cors probe behind the choice)', () => {
  it('is true when anything answers and false when nothing does', async () => {
    expect(await probeReachable('http://127.0.0.1:4566', { fetch: async () => new Response(null, { status: 404 }) })).toBe(true);
    expect(await probeReachable('http://127.0.0.1:9', { fetch: async () => Promise.reject(failed()) })).toBe(false);
  });

  it('tells nothing (undefined) rather than hang when the probe does not settle in time', async () => {
    let aborted = false;
    const silent: typeof fetch = (_url, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => ((aborted = true), reject(new DOMException('aborted', 'AbortError')))));
    expect(await probeReachable('http://10.255.255.1:4566', { fetch: silent, timeoutMs: 20 })).toBeUndefined();
    expect(aborted).toBe(true);
  });
});
