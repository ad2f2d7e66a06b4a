// Per-block SHA-256 and zero detection: WebCrypto where present (4–7× faster), hash-wasm as the fallback.
import { createSHA256 } from 'hash-wasm';

/** A SHA-256 function over bytes, returning the raw 32-byte digest. */
export type Sha256 = (bytes: Uint8Array) => Promise<Uint8Array>;

/** SHA-256 through WebCrypto (secure contexts in browsers; Node 20+). */
export const webCryptoSha256: Sha256 = async (bytes) => {
  // subtle.digest needs an ArrayBuffer-backed view; views over shared slices are fine.
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
};

/** SHA-256 through hash-wasm (insecure contexts where crypto.subtle is missing). */
export async function wasmSha256Factory(): Promise<Sha256> {
  const h = await createSHA256();
  // One hasher instance; calls are serialised by a promise chain since init/update/digest are stateful.
  let chain: Promise<unknown> = Promise.resolve();
  return (bytes) => {
    const run = chain.then(() => {
      h.init();
      h.update(bytes);
      return h.digest('binary');
    });
    chain = run.catch(() => undefined);
    return run;
  };
}

/** The fastest available SHA-256: WebCrypto when crypto.subtle exists, hash-wasm otherwise. */
export async function bestSha256(prefer?: 'webcrypto' | 'wasm'): Promise<{ sha256: Sha256; kind: 'webcrypto' | 'wasm' }> {
  const hasSubtle = typeof crypto !== 'undefined' && typeof crypto.subtle?.digest === 'function';
  if (prefer !== 'wasm' && hasSubtle) return { sha256: webCryptoSha256, kind: 'webcrypto' };
  return { sha256: await wasmSha256Factory(), kind: 'wasm' };
}

// Zero detection lives with the image readers, which also scan while reading.
export { isAllZero } from '../images/zero-scan.ts';

/** base64 of bytes (no Buffer, runs in browsers and Node). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of a base64 string. */
export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
