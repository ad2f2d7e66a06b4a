import { createSHA256 } from 'hash-wasm';

/** Base64 of bytes (small inputs: digests). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Raw SHA-256 of bytes: WebCrypto where it exists (4–7× faster), hash-wasm otherwise (insecure contexts). */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) return new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  const h = await createSHA256();
  h.init();
  h.update(data);
  return h.digest('binary');
}

/** True when every byte is zero (word-wise scan). */
export function isZeroBlock(data: Uint8Array): boolean {
  if (data.byteOffset % 4 === 0 && data.byteLength % 4 === 0) {
    const w = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}
