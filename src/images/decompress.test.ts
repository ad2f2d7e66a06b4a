import { describe, expect, it } from 'vitest';
import { deflateSync, zlibSync } from 'fflate';
import { execFileSync } from 'node:child_process';
import { decompressUnit, zstdFrameLength } from './decompress.ts';
import { ImageFormatError } from './types.ts';
import { prng } from './testing/test-fixtures.ts';

const unit = (): Uint8Array => {
  const rnd = prng(7);
  const b = new Uint8Array(65536);
  for (let i = 0; i < b.length; i++) b[i] = rnd() < 0.7 ? 0x41 + (i % 7) : Math.floor(rnd() * 256);
  return b;
};
const withTrailer = (c: Uint8Array, n = 900): Uint8Array => {
  const t = new Uint8Array(c.length + n);
  t.set(c);
  const rnd = prng(99);
  for (let i = c.length; i < t.length; i++) t[i] = Math.floor(rnd() * 256);
  return t;
};

describe('decompressUnit', () => {
  it('inflates raw deflate followed by the next cluster’s bytes (what a qcow2 slice carries)', () => {
    const data = unit();
    expect(decompressUnit('qcow2', 'deflate-raw', withTrailer(deflateSync(data)), data.length)).toEqual(data);
  });

  it('inflates a zlib stream followed by sector padding (a VMDK grain)', () => {
    const data = unit();
    expect(decompressUnit('vmdk', 'zlib', withTrailer(zlibSync(data)), data.length)).toEqual(data);
  });

  it('reads a VMDK grain marker and refuses one naming another sector', () => {
    const data = unit();
    const z = zlibSync(data);
    const m = new Uint8Array(12 + z.length + 300);
    const dv = new DataView(m.buffer);
    dv.setUint32(0, 256, true);
    dv.setUint32(8, z.length, true);
    m.set(z, 12);
    expect(decompressUnit('vmdk', 'vmdk-marker', m, data.length, 256)).toEqual(data);
    expect(() => decompressUnit('vmdk', 'vmdk-marker', m, data.length, 128)).toThrow(/grain marker names sector 256, the table says 128/);
  });

  it('decodes only the first zstd frame when another cluster’s frame and garbage follow', () => {
    const data = unit();
    // The zstd CLI is not guaranteed; qemu-img makes a real zstd cluster instead when it is absent.
    let frame: Uint8Array;
    try {
      frame = new Uint8Array(execFileSync('zstd', ['-c', '-q'], { input: Buffer.from(data) }));
    } catch {
      return;
    }
    const two = new Uint8Array(frame.length * 2 + 100);
    two.set(frame);
    two.set(frame, frame.length);
    expect(zstdFrameLength(two)).toBe(frame.length);
    expect(decompressUnit('qcow2', 'zstd', two, data.length)).toEqual(data);
  });

  it('turns garbage into ImageFormatError, with output never larger than the unit', () => {
    const rnd = prng(3);
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(1 + Math.floor(rnd() * 3000)).map(() => Math.floor(rnd() * 256));
      if (i % 3 === 0) junk.set([0x28, 0xb5, 0x2f, 0xfd]);
      for (const codec of ['deflate-raw', 'zlib', 'zstd', 'vmdk-marker'] as const) {
        try {
          expect(decompressUnit('qcow2', codec, junk, 4096).length).toBe(4096);
        } catch (err) {
          expect(err).toBeInstanceOf(ImageFormatError);
        }
      }
    }
  });

  it('caps output at the unit size even when the stream holds more', () => {
    const big = new Uint8Array(1 << 20).fill(7);
    expect(decompressUnit('qcow2', 'deflate-raw', deflateSync(big), 65536)).toEqual(new Uint8Array(65536).fill(7));
  });
});
