// Opaque, MAC-protected block and page tokens. Standard base64 because the service model's
// BlockToken/PageToken pattern is ^[A-Za-z0-9+/=]+$ (a base64url '-' or '_' would fail validation).

/** What a block token binds: one snapshot, one index, one content version, until expiry. */
export interface BlockTokenClaims {
  snapshotId: string;
  index: number;
  /** base64 SHA-256 of the block content. */
  digest: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
}

/** What a page token binds: the operation, its snapshots, where to resume, until expiry. */
export interface PageTokenClaims {
  op: 'list' | 'changed';
  secondId: string;
  firstId: string;
  nextIndex: number;
  expiresAt: number;
}

const KIND_BLOCK = 1;
const KIND_PAGE = 2;
const MAC_BYTES = 16;

/** Mints and checks tokens with an HMAC-SHA256 key held by the emulator's database. */
export class TokenSigner {
  private constructor(private readonly key: CryptoKey) {}

  /** A signer over a raw secret (32 bytes from the store). */
  static async create(secret: Uint8Array): Promise<TokenSigner> {
    const key = await crypto.subtle.importKey('raw', secret as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new TokenSigner(key);
  }

  /** An opaque block token. */
  async blockToken(c: BlockTokenClaims): Promise<string> {
    const w = new Writer();
    w.u8(KIND_BLOCK);
    w.u32(c.index);
    w.u32(Math.floor(c.expiresAt / 1000));
    w.bytes(fromBase64(c.digest));
    w.str(c.snapshotId);
    return this.seal(w.done());
  }

  /** The claims of a block token, or undefined when it is malformed, forged, or expired at `now`. */
  async readBlockToken(token: string, now: number): Promise<BlockTokenClaims | undefined> {
    const body = await this.open(token);
    if (!body || body[0] !== KIND_BLOCK) return undefined;
    try {
      const r = new Reader(body, 1);
      const index = r.u32();
      const expiresAt = r.u32() * 1000;
      const digest = toBase64(r.take(32));
      const snapshotId = r.str();
      if (!r.atEnd() || expiresAt <= now) return undefined;
      return { snapshotId, index, digest, expiresAt };
    } catch {
      return undefined;
    }
  }

  /** An opaque page token. */
  async pageToken(c: PageTokenClaims): Promise<string> {
    const w = new Writer();
    w.u8(KIND_PAGE);
    w.u8(c.op === 'list' ? 1 : 2);
    w.u32(c.nextIndex);
    w.u32(Math.floor(c.expiresAt / 1000));
    w.str(c.secondId);
    w.str(c.firstId);
    return this.seal(w.done());
  }

  /** The claims of a page token, or undefined when it is malformed, forged, or expired at `now`. */
  async readPageToken(token: string, now: number): Promise<PageTokenClaims | undefined> {
    const body = await this.open(token);
    if (!body || body[0] !== KIND_PAGE) return undefined;
    try {
      const r = new Reader(body, 1);
      const opByte = r.u8();
      const nextIndex = r.u32();
      const expiresAt = r.u32() * 1000;
      const secondId = r.str();
      const firstId = r.str();
      if (!r.atEnd() || (opByte !== 1 && opByte !== 2) || expiresAt <= now) return undefined;
      return { op: opByte === 1 ? 'list' : 'changed', secondId, firstId, nextIndex, expiresAt };
    } catch {
      return undefined;
    }
  }

  private async mac(body: Uint8Array): Promise<Uint8Array> {
    const full = new Uint8Array(await crypto.subtle.sign('HMAC', this.key, body as BufferSource));
    return full.subarray(0, MAC_BYTES);
  }

  private async seal(body: Uint8Array): Promise<string> {
    const mac = await this.mac(body);
    const out = new Uint8Array(body.length + MAC_BYTES);
    out.set(body);
    out.set(mac, body.length);
    return toBase64(out);
  }

  private async open(token: string): Promise<Uint8Array | undefined> {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token) || token.length % 4 !== 0) return undefined;
    let raw: Uint8Array;
    try {
      raw = fromBase64(token);
    } catch {
      return undefined;
    }
    if (raw.length <= MAC_BYTES + 1) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    const want = await this.mac(body);
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= want[i]! ^ mac[i]!;
    return diff === 0 ? body : undefined;
  }
}

class Writer {
  private parts: number[] = [];
  u8(v: number): void {
    this.parts.push(v & 0xff);
  }
  u32(v: number): void {
    this.parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.parts.push(x);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    if (b.length > 255) throw new Error('token string too long');
    this.u8(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

class Reader {
  constructor(
    private readonly b: Uint8Array,
    private i: number,
  ) {}
  u8(): number {
    if (this.i >= this.b.length) throw new RangeError('short token');
    return this.b[this.i++]!;
  }
  u32(): number {
    return ((this.u8() << 24) | (this.u8() << 16) | (this.u8() << 8) | this.u8()) >>> 0;
  }
  take(n: number): Uint8Array {
    if (this.i + n > this.b.length) throw new RangeError('short token');
    const out = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return out;
  }
  str(): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(this.take(this.u8()));
  }
  atEnd(): boolean {
    return this.i === this.b.length;
  }
}

/** Standard base64 of bytes (works in browsers and Node without Buffer). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of a standard base64 string; throws on invalid input. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** base64 SHA-256 of bytes (WebCrypto). */
export async function sha256Base64(bytes: Uint8Array): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)));
}
