// The safety bound on blocks in flight: the pacer finds the operating point below it. The bound is memory (every
// block in flight may hold its 512 KiB body) and, in a browser, what the transport lets through at once.
import type { Connection } from '../aws/clients.ts';
import { BLOCK_SIZE } from '../images/types.ts';

/** Block bodies a Node process may hold in flight: 256 MiB, 512 blocks (AWS allows 1000 puts/s per snapshot). */
export const NODE_INFLIGHT_BYTES = 256 * 1048576;
/**
 * Block bodies a browser tab may hold in flight across its workers: 64 MiB, 128 blocks. The upload bench's rule
 * (a 4 GiB upload peaks under 512 MiB of the browser's memory) left about 30 MiB of room over the old 16 blocks
 * (8 MiB); most bodies are Blobs over the file, so the window's bytes mostly stay on disk, and 64 MiB is the share
 * a window may take when they do not.
 */
export const BROWSER_INFLIGHT_BYTES = 64 * 1048576;
/** Requests a browser sends at once to one host over HTTP/1.1 (Chromium, Firefox, Safari). */
export const HTTP1_CONNECTIONS_PER_HOST = 6;

/** Why the ceiling is what it is (the run panel says it when it binds). */
export type CeilingReason = 'person' | 'memory' | 'http1';

/** The ceiling of blocks in flight for a run, and what set it. */
export interface WindowCeiling {
  ceiling: number;
  reason: CeilingReason;
}

/** Whether requests of this connection reach their host over HTTP/1.1 from a browser (plain http: has no HTTP/2). */
export function browserUsesHttp1(c: Connection, pageOrigin?: string): boolean {
  if (c.kind === 'emulator') return false;
  if (c.kind === 'endpoint') return (c.endpoint ?? 'https:').startsWith('http:');
  const e = c.settings.endpoint;
  if (e.mode === 'custom') return e.url.startsWith('http:');
  if (e.mode === 'relay') return (c.origin ?? pageOrigin ?? 'https:').startsWith('http:');
  return false;
}

/**
 * The ceiling: the person's number when given (an upper bound they chose), otherwise memory and, in a browser over
 * HTTP/1.1, twice the six connections (half the slots hash or record while the other half are on the wire).
 */
export function windowCeiling(args: { requested?: number; browser: boolean; connection?: Connection; pageOrigin?: string }): WindowCeiling {
  if (args.requested !== undefined && args.requested >= 1) return { ceiling: Math.floor(args.requested), reason: 'person' };
  if (!args.browser) return { ceiling: NODE_INFLIGHT_BYTES / BLOCK_SIZE, reason: 'memory' };
  if (args.connection && browserUsesHttp1(args.connection, args.pageOrigin)) return { ceiling: 2 * HTTP1_CONNECTIONS_PER_HOST, reason: 'http1' };
  return { ceiling: BROWSER_INFLIGHT_BYTES / BLOCK_SIZE, reason: 'memory' };
}

/** A sentence for the run panel when the window sits at its ceiling, or undefined when the ceiling is not the limit. */
export function ceilingNote(c: WindowCeiling, concurrency: number): string | undefined {
  if (concurrency < c.ceiling) return undefined;
  if (c.reason === 'http1') {
    return `HTTP/1.1 lets a browser send ${HTTP1_CONNECTIONS_PER_HOST} requests at a time to one host, and that is the limit now: the relay or an HTTPS endpoint (HTTP/2) lets more through.`;
  }
  if (c.reason === 'person') return `The window is at the ${c.ceiling} blocks in flight you set: raise "Blocks in flight" to let it open further.`;
  return `The window is at its memory bound of ${c.ceiling} blocks (${(c.ceiling * BLOCK_SIZE) / 1048576} MiB) in flight.`;
}
