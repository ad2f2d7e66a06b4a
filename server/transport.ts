// Sockets ⇄ the pipeline: HTTP/1.1, or HTTPS with HTTP/2 and HTTP/1.1; bounded bodies; graceful stop.

import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { EmuResponse } from '../src/emulator/http.ts';
import type { EmulatorApp, IncomingRequest } from './app.ts';
import { ebsErrorResponse } from './aws-errors.ts';
import { selfSignedCertificate } from './tls.ts';
import { duplexLink, LINK_CHUNK_BYTES, linkWait, type TokenBucket } from './link-shaper.ts';

/** Largest request body accepted: one 512 KiB block plus slack for JSON and form bodies. */
export const MAX_BODY_BYTES = 524288 + 65536;

export interface ListenOptions {
  host: string;
  port: number;
  tls: boolean;
  /** A body that stalls this long is handed over as it is (short), then the connection is closed. */
  bodyTimeoutMs?: number;
  /** How long a stop waits for requests in flight before cutting connections. */
  graceMs?: number;
  /** Connections open at once; beyond, new ones are closed on arrival (default 512). */
  maxConnections?: number;
  /** Bytes per second of the link all bodies share, read at each chunk (0 or absent: unlimited). */
  linkBytesPerSecond?: () => number;
}

/** A listening server. */
export interface RunningServer {
  url: string;
  port: number;
  /** The self-signed certificate in PEM when --tls. */
  cert?: string;
  /** Stops accepting, lets requests in flight finish (their writes are durable), then closes the backend. */
  stop(): Promise<void>;
}

export type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

function headersOf(req: Req): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(':') && name !== ':authority') continue;
    out[name] = name in out ? `${out[name]},${raw[i + 1]}` : raw[i + 1]!;
  }
  if (out.host === undefined && out[':authority'] !== undefined) out.host = out[':authority'];
  delete out[':authority'];
  return out;
}

function splitUrl(url: string): { path: string; rawQuery: string; query: Record<string, string> } {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) query[k] = v;
  return { path, rawQuery, query };
}

type BodyResult = { kind: 'ok' | 'short'; body: Uint8Array } | { kind: 'too-large' } | { kind: 'gone' };

/** Reads a body up to MAX_BODY_BYTES; never buffers more, never waits longer than `timeoutMs` for the next byte. */
export function readBody(req: Req, timeoutMs: number, link?: TokenBucket): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    // On a shaped link: when the body's last byte has crossed it (ms, performance.now()).
    let crossedAt = 0;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onGone);
      req.off('error', onGone);
      req.off('close', onClose);
      if (r.kind !== 'ok') req.pause();
      resolve(r);
    };
    const concat = (): Uint8Array => {
      const b = Buffer.concat(chunks, size);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    };
    let timer = setTimeout(() => finish({ kind: 'short', body: concat() }), timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return finish({ kind: 'too-large' });
      chunks.push(chunk);
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'short', body: concat() }), timeoutMs);
      // A shaped link is a queue in front of the server, as a bottleneck router's: each chunk takes its turn on it in
      // the order it arrived, and the body counts as received once its last byte has crossed. Bytes are booked as they
      // arrive rather than read one chunk per turn: a stream paused for its turn resumed only when its timer fired, so a
      // busy event loop (a garbage collection, two cores shared with the browser) left the link idle with bodies queued.
      if (link) crossedAt = performance.now() + link.reserve(chunk.length);
    };
    const onEnd = (): void => {
      const wait = crossedAt - performance.now();
      if (!(wait > 0)) return finish({ kind: 'ok', body: concat() });
      clearTimeout(timer);
      timer = setTimeout(() => finish({ kind: 'ok', body: concat() }), wait);
    };
    const onGone = (): void => finish({ kind: 'gone' });
    const onClose = (): void => {
      if (!req.complete) finish({ kind: 'gone' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onGone);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}

/**
 * A stalled request: reads its body up to `afterBytes` (all of it when 0), then neither reads nor answers; resolves
 * once the client gives up and the connection or stream closes.
 */
function stall(req: Req, res: Res, afterBytes: number): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (afterBytes > 0 && size >= afterBytes) req.pause();
    });
    req.on('error', () => undefined);
    res.on('close', () => resolve());
  });
}

function isH2(req: Req): req is http2.Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** Cuts the connection (HTTP/1.1) or resets the stream (HTTP/2) without answering. */
function drop(req: Req): void {
  if (isH2(req)) req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  else req.socket.destroy();
}

/** How long a connection refused before its body may keep sending (discarded, never buffered) before it is cut. */
const LINGER_MS = 2000;

/**
 * Sends a response. `close`: the connection closes after it; 'linger': closes too, but first lets the client's
 * unread body drain into nothing for a moment, so the answer is not lost to a TCP reset.
 */
function send(req: Req, res: Res, r: EmuResponse, close: boolean | 'linger', now: number = Date.now(), link?: TokenBucket): void {
  // The service's own time (POST /__admin/clock skewMs), which SDKs correct their clocks and expiry checks from.
  const headers: Record<string, string | number> = { Date: new Date(now).toUTCString(), ...r.headers, 'Content-Length': r.body.byteLength };
  if (close && !isH2(req)) headers.Connection = 'close';
  if (close === 'linger' && !isH2(req)) {
    // With Connection: close, Node destroys the socket as soon as the answer is written; over a body still arriving
    // that is a TCP reset, which can discard the answer at the client. Instead: half-close, discard what still
    // comes (never buffered), and cut the connection a moment later.
    const sock = req.socket as net.Socket & { destroySoon?: () => void };
    sock.destroySoon = () => {
      sock.end();
      req.resume();
      setTimeout(() => sock.destroy(), LINGER_MS).unref();
    };
  }
  try {
    (res as http.ServerResponse).writeHead(r.status, headers);
    const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
    if (link && body.byteLength > 0) void writeShaped(res, body, link);
    else res.end(body);
  } catch {
    drop(req);
    return;
  }
  // A body left unread (too large or stalled) cannot be skipped safely: close once the answer is out.
  if (close) {
    if (isH2(req)) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    else if (close === true) res.on('finish', () => req.socket.destroy());
  }
}

/** Writes a body through the shaped link in small pieces, so responses of many connections share it. */
async function writeShaped(res: Res, body: Buffer, link: TokenBucket): Promise<void> {
  try {
    for (let off = 0; off < body.byteLength; off += LINK_CHUNK_BYTES) {
      const piece = body.subarray(off, Math.min(body.byteLength, off + LINK_CHUNK_BYTES));
      await linkWait(link.reserve(piece.byteLength));
      if (res.destroyed) return;
      (res as http.ServerResponse).write(piece);
    }
    res.end();
  } catch {
    // The client went away mid-body: nothing to answer.
  }
}

// HTTP/2 flow-control windows. With the protocol's default of 64 KiB per stream and per connection, a 512 KiB block
// crosses in eight window round trips and every upload through the connection queues behind them: raw puts from
// Chromium at 32 in flight ran at 38–56 MiB/s, and at 69–85 with these windows (bench/upload (d*), same machine).
// With these, a block never waits for the window.
const H2_STREAM_WINDOW = 4 * 1048576;
const H2_CONNECTION_WINDOW = 64 * 1048576;
// Streams one HTTP/2 connection may have open at once (Node's default is unbounded): well above the 32–64 uploads
// keep in flight, far below what would let one connection hold the server's memory.
const H2_MAX_STREAMS = 256;

/** Starts listening; the printed URL uses the actual port (so --port 0 works). */
export async function listen(app: EmulatorApp, opts: ListenOptions): Promise<RunningServer> {
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? 20_000;
  const rate = opts.linkBytesPerSecond;
  const link = rate ? duplexLink(rate) : undefined;
  let inflight = 0;
  let idle: (() => void) | undefined;
  const sockets = new Set<Duplex>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const onRequest = (req: Req, res: Res): void => {
    inflight++;
    void (async () => {
      try {
        const { path, rawQuery, query } = splitUrl(req.url ?? '/');
        const headers = headersOf(req);
        let remoteAddress = '';
        try {
          remoteAddress = req.socket?.remoteAddress ?? '';
        } catch {
          // An HTTP/2 session already gone has no socket; the request is answered (or dropped) all the same.
        }
        // A stall happens on the way, whatever the request: it is accepted, then never read to its end nor answered.
        if (app.drawStall(req.method ?? 'GET', path, headers)) {
          app.stalls.open++;
          const since = Date.now();
          try {
            await stall(req, res, app.config.stallAfterBytes);
          } finally {
            app.stalls.open--;
            app.stalls.longestMs = Math.max(app.stalls.longestMs, Date.now() - since);
          }
          return;
        }
        const head = { method: req.method ?? 'GET', path, query, headers, rawQuery, remoteAddress };
        // Declared-too-large first (nothing to read), then what the headers alone can refuse: no body is read for either.
        const declared = Number(req.headers['content-length']);
        if (!(Number.isFinite(declared) && declared > MAX_BODY_BYTES)) {
          const early = app.screen(head);
          if (early) {
            app.requests++;
            if (req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
              app.connections.refusedBeforeBody++;
            }
            if (app.config.verbose) console.error(`${head.method} ${req.url} → ${early.status} (before the body)`);
            send(req, res, early, 'linger', app.wallNow());
            return;
          }
        }
        const b = await readBody(req, bodyTimeoutMs, link?.up);
        if (b.kind === 'gone') return;
        if (b.kind === 'too-large') {
          send(req, res, ebsErrorResponse('ValidationException', 413, `Request body exceeds ${MAX_BODY_BYTES} bytes.`, 'INVALID_PARAMETER_VALUE'), true);
          return;
        }
        const incoming: IncomingRequest = {
          method: req.method ?? 'GET',
          path,
          query,
          headers,
          body: b.body,
          rawQuery,
          remoteAddress,
        };
        const out = await app.handle(incoming);
        if (app.config.verbose) console.error(`${incoming.method} ${req.url} → ${out.drop ? 'dropped' : out.response.status}`);
        if (out.drop) drop(req);
        else send(req, res, out.response, b.kind === 'short', app.wallNow(), link?.down);
      } catch (err) {
        console.error('emulator: unexpected error', err);
        try {
          send(req, res, ebsErrorResponse('InternalServerException', 500, 'An internal error has occurred.'), true);
        } catch {
          drop(req);
        }
      } finally {
        inflight--;
        if (inflight === 0) idle?.();
      }
    })();
  };

  // Open connections are counted for /__admin/health and destroyed on stop.
  const track = (sock: Duplex): void => {
    sockets.add(sock);
    app.connections.open++;
    sock.on('close', () => {
      sockets.delete(sock);
      app.connections.open--;
    });
  };

  let server: http.Server | http2.Http2SecureServer;
  let cert: string | undefined;
  if (opts.tls) {
    const pems = await selfSignedCertificate(opts.host);
    cert = pems.cert;
    server = http2.createSecureServer({ key: pems.key, cert: pems.cert, allowHTTP1: true, settings: { initialWindowSize: H2_STREAM_WINDOW, maxConcurrentStreams: H2_MAX_STREAMS } }, onRequest);
    // Idle or stalled connections (HTTP/1.1 and HTTP/2 alike) are closed after two minutes.
    server.setTimeout(120_000);
    server.on('session', (s: http2.ServerHttp2Session) => {
      sessions.add(s);
      s.setLocalWindowSize(H2_CONNECTION_WINDOW);
      s.on('close', () => sessions.delete(s));
    });
    server.on('secureConnection', track);
  } else {
    const s = http.createServer({ requestTimeout: 120_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, onRequest);
    s.on('connection', track);
    // Unparseable requests get a 400 and a closed connection, never a crash.
    s.on('clientError', (_err, sock: Duplex) => {
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else sock.destroy();
    });
    server = s;
  }
  server.on('error', (err) => console.error('emulator: server error', err));
  // Beyond this many open connections, new ones are closed on arrival: idle or stalled clients cannot pile up.
  server.maxConnections = opts.maxConnections ?? 512;
  server.on('drop', () => app.connections.refused++);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Admin calls check their Host against the port actually bound (--port 0 picks one).
  app.config.port = port;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  const url = `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      if (server instanceof http.Server) server.closeIdleConnections();
      for (const s of sessions) s.close();
      if (inflight > 0) {
        await Promise.race([new Promise<void>((r) => (idle = r)), new Promise((r) => setTimeout(r, opts.graceMs ?? 10_000))]);
      }
      for (const s of sockets) s.destroy();
      await closed;
      await app.backend.close();
    })());

  return { url, port, ...(cert ? { cert } : {}), stop };
}
