// AWS Signature Version 4 verification, transport-neutral: WebCrypto only, so it runs in browsers and Node alike.

/** A request as it arrived on the wire, before any decoding of its path or query. */
export interface SignedRequest {
  method: string;
  /** Path exactly as sent, percent-encoded, without the query string. */
  rawPath: string;
  /** Query string exactly as sent, without the leading '?'. */
  rawQuery: string;
  /** Lower-case header names; repeated headers joined with ','. `host` (or HTTP/2 `:authority`) must be present. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What the verifier knows about an access key. */
export interface KnownCredential {
  secretAccessKey: string;
  /** Set for temporary credentials: the request must carry exactly this token. */
  sessionToken?: string;
  /** Epoch milliseconds after which temporary credentials are refused. */
  expiresAt?: number;
}

/** Looks an access key up; undefined means the key does not exist. */
export type CredentialLookup = (accessKeyId: string) => KnownCredential | undefined;

/** Why a request was refused; `code` is the AWS error name, mapped to a wire shape by the protocol. */
export type SigV4FailureCode =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'InvalidSignature'
  | 'SignatureExpired'
  | 'UnrecognizedClient'
  | 'ExpiredToken';

export interface SigV4Failure {
  ok: false;
  code: SigV4FailureCode;
  message: string;
}

export interface SigV4Success {
  ok: true;
  accessKeyId: string;
  region: string;
  service: string;
  /** True when the credentials were temporary (issued with a session token). */
  temporary: boolean;
}

export type SigV4Result = SigV4Success | SigV4Failure;

/** The parsed Authorization header (or presigned query), before any cryptography. */
export interface SigV4Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  sessionToken?: string;
  /** Presigned requests: seconds the signature stays valid after `amzDate` (X-Amz-Expires, 1..604800). */
  expiresSeconds?: number;
}

export interface VerifyOptions {
  lookup: CredentialLookup;
  /** Epoch milliseconds "now"; injectable for tests. */
  now?: number;
  /** Allowed difference between the request time and now (AWS: 5 minutes). */
  clockSkewMs?: number;
  /** Whether `UNSIGNED-PAYLOAD` is accepted as the payload hash (unsigned-body operations such as PutSnapshotBlock). */
  allowUnsignedPayload?: boolean;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** The longest X-Amz-Expires SigV4 allows: seven days. */
export const MAX_PRESIGN_SECONDS = 604800;
const UNSIGNED = 'UNSIGNED-PAYLOAD';
const enc = new TextEncoder();

function fail(code: SigV4FailureCode, message: string): SigV4Failure {
  return { ok: false, code, message };
}

function hex(buf: ArrayBuffer): string {
  const b = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Lower-case hex SHA-256 of bytes or text. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? enc.encode(data) : data;
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key as ArrayBuffer, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(data));
}

// Signing keys change once a day per secret/region/service: caching saves four HMACs per request.
const keyCache = new Map<string, ArrayBuffer>();

async function signingKey(secret: string, date: string, region: string, service: string): Promise<ArrayBuffer> {
  const id = `${secret}\n${date}\n${region}\n${service}`;
  const hit = keyCache.get(id);
  if (hit) return hit;
  const kDate = await hmac(enc.encode(`AWS4${secret}`), date);
  const kRegion = await hmac(kDate, region);
  const kService = await hmac(kRegion, service);
  const kSigning = await hmac(kService, 'aws4_request');
  if (keyCache.size > 1000) keyCache.clear();
  keyCache.set(id, kSigning);
  return kSigning;
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, upper-case hex. */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const byte of enc.encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

/** Canonical URI for every service but S3: dot segments removed, then the wire path encoded once more. */
export function canonicalUri(rawPath: string): string {
  const path = rawPath === '' ? '/' : rawPath;
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let normalized = out.join('/');
  if (!normalized.startsWith('/')) normalized = `/${normalized}`;
  if (path.endsWith('/') && !normalized.endsWith('/')) normalized += '/';
  return uriEncode(normalized, true);
}

/** Canonical query string: pairs decoded, re-encoded, sorted by key then value; `skip` drops a key (X-Amz-Signature). */
export function canonicalQuery(rawQuery: string, skip?: string): string {
  if (!rawQuery) return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : safeDecode(part.slice(eq + 1));
    if (skip && k === skip) continue;
    pairs.push([uriEncode(k), uriEncode(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(req: SignedRequest, name: string): string | undefined {
  if (name === 'host') return req.headers.host ?? req.headers[':authority'];
  return req.headers[name];
}

function parseQueryParams(rawQuery: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    m.set(safeDecode(eq < 0 ? part : part.slice(0, eq)), eq < 0 ? '' : safeDecode(part.slice(eq + 1)));
  }
  return m;
}

/** True when the request carries any SigV4 material (Authorization header or presigned query). */
export function hasSignature(req: SignedRequest): boolean {
  return req.headers.authorization !== undefined || /(^|&)X-Amz-Signature=/i.test(req.rawQuery);
}

/** Parses the Authorization header or presigned query without checking the signature. */
export function parseSigV4(req: SignedRequest): SigV4Parsed | SigV4Failure {
  const auth = req.headers.authorization;
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  let amzDate: string | undefined;
  let sessionToken = req.headers['x-amz-security-token'];
  let expiresSeconds: number | undefined;
  if (auth !== undefined) {
    const sp = auth.indexOf(' ');
    const algorithm = sp < 0 ? auth : auth.slice(0, sp);
    if (algorithm !== ALGORITHM) {
      return fail('IncompleteSignature', `Unsupported AWS 'algorithm': '${algorithm}'. Only '${ALGORITHM}' is supported.`);
    }
    for (const part of auth.slice(sp + 1).split(',')) {
      const p = part.trim();
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq);
      const v = p.slice(eq + 1);
      if (k === 'Credential') credential = v;
      else if (k === 'SignedHeaders') signedHeaders = v;
      else if (k === 'Signature') signature = v;
    }
    const missing = [
      credential === undefined ? "Authorization header requires 'Credential' parameter." : '',
      signedHeaders === undefined ? "Authorization header requires 'SignedHeaders' parameter." : '',
      signature === undefined ? "Authorization header requires 'Signature' parameter." : '',
    ].filter(Boolean);
    amzDate = req.headers['x-amz-date'] ?? httpDateToAmz(req.headers.date);
    if (amzDate === undefined) {
      missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    if (missing.length) return fail('IncompleteSignature', `${missing.join(' ')} Authorization=${auth}`);
  } else {
    const q = parseQueryParams(req.rawQuery);
    if (!q.has('X-Amz-Signature')) return fail('MissingAuthenticationToken', 'Missing Authentication Token');
    if (q.get('X-Amz-Algorithm') !== ALGORITHM) {
      return fail('IncompleteSignature', `Unsupported AWS 'algorithm': '${q.get('X-Amz-Algorithm') ?? ''}'.`);
    }
    credential = q.get('X-Amz-Credential');
    signedHeaders = q.get('X-Amz-SignedHeaders');
    signature = q.get('X-Amz-Signature');
    amzDate = q.get('X-Amz-Date');
    sessionToken = q.get('X-Amz-Security-Token') ?? sessionToken;
    const expires = q.get('X-Amz-Expires');
    if (!credential || !signedHeaders || !amzDate || expires === undefined) {
      return fail(
        'IncompleteSignature',
        'AWS query-string parameters must include X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Expires.',
      );
    }
    if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1 || Number(expires) > MAX_PRESIGN_SECONDS) {
      return fail('IncompleteSignature', `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGN_SECONDS} (seven days); got '${expires}'.`);
    }
    expiresSeconds = Number(expires);
  }
  const scope = credential!.split('/');
  if (scope.length !== 5 || !scope[0]) {
    return fail('IncompleteSignature', `Credential should be scoped to a valid region. Credential=${credential}`);
  }
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  if (terminator !== 'aws4_request') {
    return fail('IncompleteSignature', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
  }
  if (!region) return fail('IncompleteSignature', 'Credential should be scoped to a valid region.');
  if (!service) return fail('IncompleteSignature', 'Credential should be scoped to correct service.');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate!)) {
    return fail('IncompleteSignature', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  const names = signedHeaders!.split(';');
  if (!names.includes('host') && !names.includes(':authority')) {
    return fail('IncompleteSignature', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: names,
    signature: signature!,
    amzDate: amzDate!,
    ...(sessionToken !== undefined ? { sessionToken } : {}),
    ...(expiresSeconds !== undefined ? { expiresSeconds } : {}),
  };
}

function httpDateToAmz(date: string | undefined): string | undefined {
  if (!date) return undefined;
  const t = Date.parse(date);
  return Number.isNaN(t) ? undefined : toAmzDate(t);
}

/** Epoch milliseconds as an ISO-8601 basic timestamp (YYYYMMDDTHHMMSSZ). */
export function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function amzDateToMs(amz: string): number {
  return Date.UTC(+amz.slice(0, 4), +amz.slice(4, 6) - 1, +amz.slice(6, 8), +amz.slice(9, 11), +amz.slice(11, 13), +amz.slice(13, 15));
}

function canonicalHeaders(req: SignedRequest, names: string[]): string {
  return names
    .map((n) => `${n}:${(headerValue(req, n === ':authority' ? 'host' : n) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Verifies a SigV4-signed request: header or query signature, session token, expiry, clock skew. */
export async function verifySigV4(req: SignedRequest, opts: VerifyOptions): Promise<SigV4Result> {
  const head = checkSigV4Head(req, opts);
  if ('ok' in head) return head;
  const { parsed, cred } = head;
  return verifySignature(req, opts, parsed, cred);
}

/**
 * Everything SigV4 can check before the body arrives: the header or query is complete, the key is known (with its
 * session token, unexpired), the credential scope's date agrees and the request time is within the window.
 */
export function checkSigV4Head(req: Omit<SignedRequest, 'body'>, opts: VerifyOptions): { parsed: SigV4Parsed; cred: KnownCredential } | SigV4Failure {
  const parsed = parseSigV4({ ...req, body: new Uint8Array(0) });
  if ('ok' in parsed) return parsed;
  const now = opts.now ?? Date.now();
  const skew = opts.clockSkewMs ?? 5 * 60_000;

  const cred = opts.lookup(parsed.accessKeyId);
  if (!cred) return fail('UnrecognizedClient', 'The security token included in the request is invalid.');
  if (cred.sessionToken !== undefined && parsed.sessionToken !== cred.sessionToken) {
    return fail('UnrecognizedClient', 'The security token included in the request is invalid.');
  }
  if (cred.expiresAt !== undefined && now >= cred.expiresAt) {
    return fail('ExpiredToken', 'The security token included in the request is expired');
  }
  if (parsed.amzDate.slice(0, 8) !== parsed.date) {
    return fail(
      'InvalidSignature',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${parsed.date}' != '${parsed.amzDate.slice(0, 8)}', from '${parsed.amzDate}'.`,
    );
  }
  const t = amzDateToMs(parsed.amzDate);
  const minutes = Math.round(skew / 60_000);
  // A presigned request is good from its date (less the skew) until X-Amz-Expires seconds later, and no longer.
  if (parsed.expiresSeconds !== undefined && now > t + parsed.expiresSeconds * 1000) {
    return fail('SignatureExpired', `Request has expired: signed at ${parsed.amzDate} for ${parsed.expiresSeconds} seconds; it is now ${toAmzDate(now)}. Presign the request again.`);
  }
  if (parsed.expiresSeconds === undefined && t < now - skew) {
    return fail(
      'SignatureExpired',
      `Signature expired: ${parsed.amzDate} is now earlier than ${toAmzDate(now - skew)} (${toAmzDate(now)} - ${minutes} min.)`,
    );
  }
  if (t > now + skew) {
    return fail(
      'SignatureExpired',
      `Signature not yet current: ${parsed.amzDate} is still later than ${toAmzDate(now + skew)} (${toAmzDate(now)} + ${minutes} min.)`,
    );
  }
  return { parsed, cred };
}

async function verifySignature(req: SignedRequest, opts: VerifyOptions, parsed: SigV4Parsed, cred: KnownCredential): Promise<SigV4Result> {

  const presigned = req.headers.authorization === undefined;
  const declared = req.headers['x-amz-content-sha256'];
  const candidates: string[] = [];
  // Presigners (botocore's SigV4QueryAuth, the JS SDK's presign) sign the body's hash, the empty one for GETs;
  // UNSIGNED-PAYLOAD only where the operation's body is unsigned (PutSnapshotBlock).
  if (presigned) {
    candidates.push(await sha256Hex(req.body));
    if (opts.allowUnsignedPayload) candidates.push(UNSIGNED);
  } else if (declared === UNSIGNED) {
    if (opts.allowUnsignedPayload) candidates.push(UNSIGNED);
    else candidates.push(await sha256Hex(req.body));
  } else {
    const bodyHash = await sha256Hex(req.body);
    candidates.push(bodyHash);
    // botocore signs unsigned-body operations with UNSIGNED-PAYLOAD without sending the header.
    if (opts.allowUnsignedPayload && declared === undefined) candidates.push(UNSIGNED);
  }

  const key = await signingKey(cred.secretAccessKey, parsed.date, parsed.region, parsed.service);
  const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`;
  const query = canonicalQuery(req.rawQuery, presigned ? 'X-Amz-Signature' : undefined);
  let first: { canonical: string; toSign: string } | undefined;
  for (const payloadHash of candidates) {
    const canonical = [
      req.method.toUpperCase(),
      canonicalUri(req.rawPath),
      query,
      canonicalHeaders(req, parsed.signedHeaders),
      parsed.signedHeaders.join(';'),
      payloadHash,
    ].join('\n');
    const toSign = [ALGORITHM, parsed.amzDate, scope, await sha256Hex(canonical)].join('\n');
    const expected = hex(await crypto.subtle.sign('HMAC', await importSigning(key), enc.encode(toSign)));
    if (timingSafeEqual(expected, parsed.signature.toLowerCase())) {
      return {
        ok: true,
        accessKeyId: parsed.accessKeyId,
        region: parsed.region,
        service: parsed.service,
        temporary: cred.sessionToken !== undefined,
      };
    }
    first ??= { canonical, toSign };
  }
  return fail(
    'InvalidSignature',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' +
      `\n\nThe Canonical String for this request should have been\n'${first!.canonical}'\n\nThe String-to-Sign should have been\n'${first!.toSign}'\n`,
  );
}

const importedKeys = new WeakMap<ArrayBuffer, CryptoKey>();

async function importSigning(key: ArrayBuffer): Promise<CryptoKey> {
  let k = importedKeys.get(key);
  if (!k) {
    k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    importedKeys.set(key, k);
  }
  return k;
}
