import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { bestSha256, fromBase64, isAllZero, toBase64, wasmSha256Factory, webCryptoSha256 } from './block-digest.ts';
import { fillRandom } from './testing/upload-test-kit.ts';

describe('zero detection', () => {
  it('finds a single set byte anywhere in a block, at any alignment', () => {
    const block = new Uint8Array(524288);
    expect(isAllZero(block)).toBe(true);
    for (const at of [0, 1, 7, 8, 4095, 262144, 524287]) {
      block[at] = 1;
      expect(isAllZero(block)).toBe(false);
      expect(isAllZero(block.subarray(1))).toBe(at === 0);
      expect(isAllZero(block.subarray(4, 4 + 1000))).toBe(!(at >= 4 && at < 1004));
      block[at] = 0;
    }
  });
});

describe('SHA-256', () => {
  it('WebCrypto and hash-wasm agree with OpenSSL on blocks and sub-views', async () => {
    const wasm = await wasmSha256Factory();
    const buf = new Uint8Array(3 * 524288);
    fillRandom(buf, 42);
    const view = buf.subarray(524288, 2 * 524288);
    const want = createHash('sha256').update(view).digest('base64');
    expect(toBase64(await webCryptoSha256(view))).toBe(want);
    expect(toBase64(await wasm(view))).toBe(want);
    // Concurrent calls on the one wasm hasher stay correct (its state is serialised).
    const parts = [0, 1, 2].map((k) => buf.subarray(k * 524288, (k + 1) * 524288));
    const got = await Promise.all(parts.map((p) => wasm(p)));
    expect(got.map(toBase64)).toEqual(parts.map((p) => createHash('sha256').update(p).digest('base64')));
  });

  it('prefers WebCrypto where it exists and honours a wasm preference', async () => {
    expect((await bestSha256()).kind).toBe('webcrypto');
    expect((await bestSha256('wasm')).kind).toBe('wasm');
  });

  it('base64 round-trips', () => {
    const b = new Uint8Array(100000);
    fillRandom(b, 3);
    expect(fromBase64(toBase64(b))).toEqual(b);
    expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
  });
});
