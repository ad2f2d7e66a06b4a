import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { concatDigests, linearAggregate } from './aggregate.ts';
import { webCryptoSha256 } from './block-digest.ts';

describe('LINEAR aggregate', () => {
  it('is SHA-256 of the empty string for no blocks', async () => {
    expect(await linearAggregate(new Uint8Array(0), webCryptoSha256)).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });

  it('hashes the raw 32-byte digests in index order, not their base64 text', async () => {
    const digests = new Map([5, 1, 9].map((i) => [i, createHash('sha256').update(`block ${i}`).digest()] as const));
    const cat = concatDigests([1, 5, 9], (i) => new Uint8Array(digests.get(i)!));
    const want = createHash('sha256').update(Buffer.concat([1, 5, 9].map((i) => digests.get(i)!))).digest('base64');
    expect(await linearAggregate(cat, webCryptoSha256)).toBe(want);
    const text = createHash('sha256').update([1, 5, 9].map((i) => digests.get(i)!.toString('base64')).join('')).digest('base64');
    expect(await linearAggregate(cat, webCryptoSha256)).not.toBe(text);
  });

  it('refuses a digest of the wrong length', () => {
    expect(() => concatDigests([0], () => new Uint8Array(31))).toThrow(/31 bytes, expected 32/);
  });
});
