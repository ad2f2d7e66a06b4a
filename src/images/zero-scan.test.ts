import { describe, expect, it } from 'vitest';
import { isAllZero, isAllZeroJs, zeroScanKind } from './zero-scan.ts';

// Lengths around the SIMD scanner's edges: its 1 KiB threshold, 64-byte steps and 512 KiB window.
const LENGTHS = [0, 1, 3, 4, 5, 63, 64, 65, 1023, 1024, 1025, 4099, 524287, 524288, 524288 + 64, 524288 + 65, 3 * 524288];
const OFFSETS = [0, 1, 2, 3, 4, 8, 61];

describe('isAllZero', () => {
  const buf = new Uint8Array(3 * 524288 + 128);

  for (const [name, scan] of [
    ['SIMD (WebAssembly) where present', isAllZero],
    ['JavaScript fallback', isAllZeroJs],
  ] as const) {
    it(`${name}: zero views are zero, one set byte anywhere is not, at every alignment`, () => {
      for (const len of LENGTHS)
        for (const off of OFFSETS) {
          const v = buf.subarray(off, off + len);
          expect(scan(v)).toBe(true);
          // The first and last byte, each side of a 64-byte step and of the 512 KiB window, and the middle.
          const spots = new Set([0, 1, 63, 64, 1023, 1024, len >> 1, 524287, 524288, len - 2, len - 1].filter((x) => x >= 0 && x < len));
          for (const at of spots) {
            v[at] = 0x80;
            expect(scan(v), `len ${len} offset ${off} byte ${at}`).toBe(false);
            v[at] = 0;
          }
        }
    });
  }

  it('a nonzero byte just past the view is not seen (the scan stays inside its bytes)', () => {
    for (const len of [1024, 1025, 1100, 524288 + 1]) {
      buf[5 + len] = 1;
      expect(isAllZero(buf.subarray(5, 5 + len))).toBe(true);
      expect(isAllZeroJs(buf.subarray(5, 5 + len))).toBe(true);
      buf[5 + len] = 0;
    }
  });

  it('a scan after a nonzero one does not see its bytes (the window is zeroed past the piece)', () => {
    const dirty = new Uint8Array(2048).fill(0xff);
    expect(isAllZero(dirty)).toBe(false);
    expect(isAllZero(new Uint8Array(1030))).toBe(true);
  });

  it('compiles the SIMD scanner here (Node 20 and Chromium have WebAssembly SIMD), so the tests above ran it', () => {
    expect(zeroScanKind()).toBe('simd');
  });
});
