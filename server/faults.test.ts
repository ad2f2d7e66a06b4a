import { describe, expect, it } from 'vitest';
import { drawFault } from './faults.ts';
import { isPreflight, originAllowed, preflightResponse, withCors } from './cors.ts';
import type { EmuRequest } from '../src/emulator/http.ts';

describe('faults', () => {
  it('draws error, throttle and drop in proportion to their rates', () => {
    const rates = { errorRate: 0.1, throttleRate: 0.2, dropRate: 0.3 };
    const seq = [0.05, 0.15, 0.7, 0.35, 0.9];
    let i = 0;
    const random = () => seq[i++ % seq.length]!;
    // A throttle draws twice (which exception), so the third draw sees 0.35 and the fourth 0.9.
    const kinds = [0, 1, 2, 3].map(() => drawFault(rates, random).kind);
    expect(kinds).toEqual(['error', 'throttle', 'drop', 'none']);
    expect(drawFault({ errorRate: 0, throttleRate: 0, dropRate: 1 }, () => 0.999).kind).toBe('drop');
    expect(drawFault({ errorRate: 0, throttleRate: 0, dropRate: 0 }, () => 0).kind).toBe('none');
  });
});

describe('CORS helpers', () => {
  const req = (method: string, headers: Record<string, string>): EmuRequest => ({ method, path: '/snapshots', query: {}, headers, body: new Uint8Array() });

  it('recognises preflights and allows configured origins', () => {
    expect(isPreflight(req('OPTIONS', { 'access-control-request-method': 'PUT' }))).toBe(true);
    expect(isPreflight(req('OPTIONS', {}))).toBe(false);
    expect(originAllowed('http://a', ['*'])).toBe(true);
    expect(originAllowed('http://a', ['http://b'])).toBe(false);
  });

  it('echoes requested headers on a preflight and adds expose headers to answers', () => {
    const p = preflightResponse(req('OPTIONS', { origin: 'http://a', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'X-Custom, authorization' }), ['*']);
    expect(p.status).toBe(204);
    expect(p.headers['Access-Control-Allow-Headers']).toContain('x-custom');
    const r = withCors(req('GET', { origin: 'http://a' }), { status: 200, headers: {}, body: new Uint8Array() }, ['*']);
    expect(r.headers['Access-Control-Allow-Origin']).toBe('http://a');
    expect(r.headers['Access-Control-Expose-Headers']).toContain('x-amz-Checksum');
    const none = withCors(req('GET', {}), { status: 200, headers: {}, body: new Uint8Array() }, ['*']);
    expect(none.headers['Access-Control-Allow-Origin']).toBeUndefined();
  });
});
