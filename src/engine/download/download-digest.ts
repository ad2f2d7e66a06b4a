// The block digest for reads: the engine's shared SHA-256 (WebCrypto, hash-wasm fallback), chosen once.
import { bestSha256, type Sha256 } from '../block-digest.ts';

export { toBase64, fromBase64, isAllZero } from '../block-digest.ts';

let best: Promise<Sha256> | undefined;

/** Raw SHA-256 of bytes with the fastest implementation available here. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  best ??= bestSha256().then((b) => b.sha256);
  return (await best)(data);
}
