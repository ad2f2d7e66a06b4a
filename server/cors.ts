// CORS for browser clients: preflights answered here (never routed to an operation), headers exposed to pages.

import type { EmuRequest, EmuResponse } from '../src/emulator/http.ts';

/** Response headers a page may read: the ones Blockport needs from EBS, Cognito and EC2 answers. */
export const EXPOSED_HEADERS = [
  'x-amz-Checksum',
  'x-amz-Checksum-Algorithm',
  'x-amz-Data-Length',
  'x-amzn-RequestId',
  'x-amzn-ErrorType',
  'x-amz-request-id',
  'x-amz-id-2',
  'Date',
  'Content-Length',
];

/** Headers the SDKs send, allowed on every preflight even when the browser does not list them. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'x-amz-user-agent',
  'x-amz-target',
  'x-amz-checksum',
  'x-amz-checksum-algorithm',
  'x-amz-checksum-aggregation-method',
  'x-amz-data-length',
  'x-amz-progress',
  'x-amz-changedblockscount',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
];

const METHODS = 'GET, PUT, POST, DELETE, HEAD, OPTIONS';

/** True when the origin may call (`*` allows any). */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.includes(origin);
}

/** True for a CORS preflight (OPTIONS asking for a method). */
export function isPreflight(req: EmuRequest): boolean {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
}

/** The answer to a preflight: 204 with the allowances, or 403 without them for an origin not allowed. */
export function preflightResponse(req: EmuRequest, allowed: readonly string[]): EmuResponse {
  const origin = req.headers.origin ?? '';
  if (!originAllowed(origin, allowed)) {
    return { status: 403, headers: { 'Content-Type': 'text/plain', Vary: 'Origin' }, body: new TextEncoder().encode('CORS origin not allowed') };
  }
  const requested = (req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const headers = [...new Set([...ALLOWED_HEADERS, ...requested])].join(', ');
  return {
    status: 204,
    headers: {
      'Access-Control-Allow-Origin': origin || '*',
      'Access-Control-Allow-Methods': METHODS,
      'Access-Control-Allow-Headers': headers,
      'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '),
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
    },
    body: new Uint8Array(0),
  };
}

/** Adds the CORS headers of an actual (non-preflight) response when the origin is allowed. */
export function withCors(req: EmuRequest, res: EmuResponse, allowed: readonly string[]): EmuResponse {
  const origin = req.headers.origin;
  if (origin === undefined || !originAllowed(origin, allowed)) return res;
  return {
    ...res,
    headers: {
      ...res.headers,
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '),
      // Lets the page see resource timing (protocol, sizes) for its calls, as it does same-origin.
      'Timing-Allow-Origin': origin,
      Vary: 'Origin',
    },
  };
}
