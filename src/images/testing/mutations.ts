// Damage for fuzz and refusal tests: seeded mutations of a container's bytes, and an xz index that lies.
import { crc32 } from '../crc32.ts';

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff];

/** One seeded mutation of `orig` (a copy): a bit flip, interesting bytes, a cut, or random bytes. */
export function mutate(orig: Uint8Array, rnd: () => number): { bytes: Uint8Array; what: string } {
  const b = orig.slice();
  const kind = Math.floor(rnd() * 4);
  // Headers and trailers hold what a decoder trusts: half the mutations hit the first or last 512 bytes.
  const pos = (): number => (rnd() < 0.5 ? (rnd() < 0.5 ? Math.floor(rnd() * 512) : b.length - 1 - Math.floor(rnd() * 512)) : Math.floor(rnd() * b.length));
  if (kind === 0) {
    const at = pos();
    b[at]! ^= 1 << Math.floor(rnd() * 8);
    return { bytes: b, what: `bit flip at ${at}` };
  }
  if (kind === 1) {
    const at = pos();
    const n = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < n && at + i < b.length; i++) b[at + i] = INTERESTING[Math.floor(rnd() * INTERESTING.length)]!;
    return { bytes: b, what: `${n} bytes overwritten at ${at}` };
  }
  if (kind === 2) {
    const n = Math.floor(rnd() * b.length);
    return { bytes: b.subarray(0, n), what: `cut to ${n} bytes` };
  }
  const at = pos();
  const n = 1 + Math.floor(rnd() * 64);
  for (let i = 0; i < n && at + i < b.length; i++) b[at + i] = Math.floor(rnd() * 256);
  return { bytes: b, what: `${n} random bytes at ${at}` };
}

/**
 * A copy of a single-stream .xz whose index records `delta` more (or fewer) unpacked bytes for its last block, the
 * index CRC fixed up, so only the contents contradict it. The varint keeps its length (its continuation bits are kept).
 */
export function shiftXzIndex(b: Uint8Array, delta: number): { bytes: Buffer; lastBlockSize: number } {
  const out = Buffer.from(b);
  const indexSize = (out.readUInt32LE(out.length - 8) + 1) * 4;
  const at = out.length - 12 - indexSize;
  const varint = (i: number): [number, number] => {
    let v = 0;
    for (let k = 0; ; k++) {
      v += (out[i + k]! & 0x7f) * 2 ** (7 * k);
      if (!(out[i + k]! & 0x80)) return [v, k + 1];
    }
  };
  const [count, used] = varint(at + 1);
  let i = at + 1 + used;
  let last = 0;
  for (let r = 0; r < count; r++) {
    i += varint(i)[1];
    last = i;
    i += varint(i)[1];
  }
  const [v, n] = varint(last);
  const w = v + delta;
  if (w < 0 || w >= 2 ** (7 * n)) throw new Error(`shiftXzIndex: ${w} does not fit the ${n}-byte record of ${v}`);
  for (let k = 0; k < n; k++) out[last + k] = (Math.floor(w / 2 ** (7 * k)) & 0x7f) | (k < n - 1 ? 0x80 : 0);
  out.writeUInt32LE(crc32(out.subarray(at, at + indexSize - 4)), at + indexSize - 4);
  return { bytes: out, lastBlockSize: v };
}
