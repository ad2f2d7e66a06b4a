// The LINEAR aggregate checksum: SHA-256 over the raw 32-byte digests of written blocks, ascending index.
import type { Sha256 } from './block-digest.ts';
import { toBase64 } from './block-digest.ts';

/** Concatenates the digests of the given ascending indices (digests laid out 32 bytes per block index). */
export function concatDigests(indices: Iterable<number>, digestOf: (index: number) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const i of indices) parts.push(digestOf(i));
  const out = new Uint8Array(parts.length * 32);
  parts.forEach((d, k) => {
    if (d.length !== 32) throw new Error(`digest of block ${k} has ${d.length} bytes, expected 32`);
    out.set(d, k * 32);
  });
  return out;
}

/** base64(SHA256(d_i0 ‖ d_i1 ‖ …)); the empty list gives SHA-256 of the empty string. */
export async function linearAggregate(concatenated: Uint8Array, sha256: Sha256): Promise<string> {
  return toBase64(await sha256(concatenated));
}
