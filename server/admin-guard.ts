// What an /__admin/* request must show before it is served: a loopback peer (unless --admin-remote), no Origin (no
// web page may drive admin, whatever its site), a Host naming this server (no DNS rebinding), a JSON body type (no
// form or text/plain "simple" requests), and the admin token printed at start.

import { jsonResponse, type EmuResponse } from '../src/emulator/http.ts';
import type { ServerConfig } from './config.ts';

/** Header that carries the admin token when `Authorization: Bearer` is not used. */
export const ADMIN_TOKEN_HEADER = 'x-blockport-admin-token';

/** A fresh random admin token (32 hex digits). */
export function randomAdminToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function isLoopbackAddress(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.') || addr === '';
}

/** Host name and port of a Host header ("h", "h:p", "[v6]:p"). */
function splitHost(host: string): { name: string; port?: string } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(host) ?? /^([^:]+)(?::(\d+))?$/.exec(host);
  if (!m) return { name: host.toLowerCase() };
  return { name: m[1]!.toLowerCase(), ...(m[2] !== undefined ? { port: m[2] } : {}) };
}

function hostAllowed(host: string | undefined, c: ServerConfig): boolean {
  if (!host) return false;
  const { name, port } = splitHost(host);
  if (port !== undefined && Number(port) !== c.port) return false;
  const own = c.host.toLowerCase();
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name) || (own !== '0.0.0.0' && own !== '::' && name === own);
}

function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The token an admin request carries, if any. */
function presentedToken(headers: Record<string, string>): string | undefined {
  const auth = headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1] ?? headers[ADMIN_TOKEN_HEADER];
}

/** Undefined when the request may be served, else the refusal to answer. */
export function adminRefusal(
  req: { method: string; headers: Record<string, string>; remoteAddress: string },
  c: ServerConfig,
): EmuResponse | undefined {
  const refuse = (status: number, error: string): EmuResponse => jsonResponse(status, { error });
  if (!c.adminRemote && !isLoopbackAddress(req.remoteAddress)) {
    return refuse(403, 'admin endpoints answer loopback clients only (start with --admin-remote to change)');
  }
  if (req.headers.origin !== undefined) {
    return refuse(403, 'admin endpoints refuse requests from web pages (an Origin header was sent); call them from a script or the command line');
  }
  // Listening on every address with --admin-remote, the machine's own names are unknown: the token guards alone.
  const anyHost = c.adminRemote && (c.host === '0.0.0.0' || c.host === '::');
  if (!anyHost && !hostAllowed(req.headers.host, c)) {
    return refuse(403, `admin endpoints answer only a Host of this server (localhost, 127.0.0.1 or ${c.host}, port ${c.port}); got ${req.headers.host ?? 'none'}`);
  }
  const token = presentedToken(req.headers);
  if (token === undefined || !c.adminToken || !sameSecret(token, c.adminToken)) {
    return refuse(401, 'admin endpoints need the admin token printed at start: send "Authorization: Bearer <token>" or "X-Blockport-Admin-Token: <token>" (fix it with --admin-token or BLOCKPORT_ADMIN_TOKEN)');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return refuse(415, `admin ${req.method} requests need Content-Type: application/json; got ${req.headers['content-type'] ?? 'none'}`);
  }
  return undefined;
}
