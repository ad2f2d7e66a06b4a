import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { openImage } from './open-image.ts';
import { memorySource } from './byte-source.ts';
import { BLOCK_SIZE, BlockState, ImageFormatError, type ByteSource } from './types.ts';
import { fixture, prng, sourceRaw } from './testing/test-fixtures.ts';

// Seeded mutation fuzzer: flips, overwrites and truncates bytes in the headers and tables of each fixture.
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
// 2000 cases per format under `npm run test:long`; a tenth of them in `npm test`.
const CASES = Number(process.env.FUZZ_CASES ?? (process.env.BLOCKPORT_LONG ? 2000 : 200));
// The harness reads at most this many blocks per case, so a mutated 64 TiB disk cannot make the test slow.
const MAX_BLOCKS_READ = 16;

/** Per format: fixtures (8 MiB virtual) and their share of the cases. */
const PLAN: Record<string, [string, number][]> = {
  qcow2: [['v3.qcow2', 0.3], ['v2.qcow2', 0.1], ['deflate.qcow2', 0.2], ['zstd.qcow2', 0.2], ['extl2.qcow2', 0.2]],
  vmdk: [['sparse.vmdk', 0.35], ['stream.vmdk', 0.35], ['vmware-stream.vmdk', 0.3]],
  vhd: [['dynamic.vhd', 0.75], ['fixed.vhd', 0.25]],
  vhdx: [['dynamic.vhdx', 0.4], ['b1m.vhdx', 0.4], ['fixed.vhdx', 0.2]],
  vdi: [['dynamic.vdi', 0.75], ['static.vdi', 0.25]],
  ova: [['appliance.ova', 1]],
};

interface Range {
  start: number;
  end: number;
}

/** A source that records what it reads and how much. */
function recording(inner: ByteSource): ByteSource & { ranges: Range[]; bytes: number } {
  const r = {
    size: inner.size,
    ranges: [] as Range[],
    bytes: 0,
    async read(offset: number, length: number) {
      const b = await inner.read(offset, length);
      r.ranges.push({ start: offset, end: offset + b.length });
      r.bytes += b.length;
      return b;
    },
  };
  return r;
}

/** The file ranges a reader reads to open an image and map it: its headers and tables. */
async function metadataRanges(bytes: Uint8Array): Promise<Range[]> {
  const src = recording(memorySource(bytes));
  const image = await openImage(src);
  await image.blockStates();
  // Large reads are data (fixed-size formats map data directly); keep the small, structural ones.
  return src.ranges.filter((r) => r.end > r.start && r.end - r.start <= 256 * 1024);
}

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x200, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** A mutated view of the original bytes: a few patches and maybe a shorter length, without copying the file. */
interface Mutant {
  size: number;
  patches: { at: number; bytes: Uint8Array }[];
  what: string;
}

function mutantSource(orig: Uint8Array, m: Mutant): ByteSource {
  return {
    size: m.size,
    async read(offset, length) {
      const start = Math.min(Math.max(0, offset), m.size);
      const end = Math.min(m.size, start + Math.max(0, length));
      const hits = m.patches.filter((p) => p.at < end && p.at + p.bytes.length > start);
      if (!hits.length) return orig.subarray(start, end);
      const out = orig.slice(start, end);
      for (const p of hits) {
        for (let i = 0; i < p.bytes.length; i++) {
          const k = p.at + i - start;
          if (k >= 0 && k < out.length) out[k] = p.bytes[i]!;
        }
      }
      return out;
    },
  };
}

function mutate(orig: Uint8Array, meta: Range[], rnd: () => number): Mutant {
  const m: Mutant = { size: orig.length, patches: [], what: '' };
  const pick = (n: number): number => Math.floor(rnd() * n);
  const where = (): number => {
    if (rnd() < 0.9 && meta.length) {
      const r = meta[pick(meta.length)]!;
      // Table entries cluster near a range's start; bias there but reach the end too.
      const span = r.end - r.start;
      return r.start + (rnd() < 0.5 ? pick(Math.min(span, 512)) : pick(span));
    }
    return pick(orig.length);
  };
  const steps: string[] = [];
  const n = 1 + pick(4);
  for (let i = 0; i < n; i++) {
    const at = where();
    const op = pick(7);
    if (op === 0) {
      m.patches.push({ at, bytes: Uint8Array.of(orig[at]! ^ (1 << pick(8))) });
      steps.push(`flip@${at}`);
    } else if (op === 1) {
      m.patches.push({ at, bytes: Uint8Array.of(pick(256)) });
      steps.push(`byte@${at}`);
    } else if (op === 2 || op === 3) {
      const v = rnd() < 0.7 ? INTERESTING[pick(INTERESTING.length)]! : Math.floor(rnd() * 2 ** 32);
      const a = at - (at % 4);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v >>> 0, op === 2);
      m.patches.push({ at: a, bytes: b });
      steps.push(`u32${op === 2 ? 'le' : 'be'}@${a}=${v}`);
    } else if (op === 4) {
      const a = at - (at % 8);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(Math.floor(rnd() * 2 ** 53)) << BigInt(pick(12)), rnd() < 0.5);
      m.patches.push({ at: a, bytes: b });
      steps.push(`u64@${a}`);
    } else if (op === 5) {
      m.patches.push({ at, bytes: new Uint8Array(1 + pick(64)).fill(rnd() < 0.5 ? 0 : 0xff) });
      steps.push(`fill@${at}`);
    } else {
      m.size = Math.min(m.size, rnd() < 0.5 ? at : pick(orig.length));
      steps.push(`truncate@${m.size}`);
    }
  }
  m.what = steps.join(' ');
  return m;
}

async function runCase(source: ByteSource): Promise<{ outcome: 'data' | 'refused'; read: number; blocks: number }> {
  const src = recording(source);
  let blocks = 0;
  try {
    const image = await openImage(src);
    const states = await image.blockStates();
    expect(states.length).toBe(image.blockCount);
    const want: number[] = [];
    for (let b = 0; b < image.blockCount && want.length < MAX_BLOCKS_READ; b++) if (states[b] === BlockState.Data || b === 0) want.push(b);
    for (let i = 0; i < want.length; ) {
      let n = 1;
      while (n < 4 && want[i + n] === want[i]! + n) n++;
      const out = await image.readBlocks(want[i]!, n);
      if (out.length !== n * BLOCK_SIZE) throw new Error(`readBlocks returned ${out.length} bytes for ${n} blocks`);
      blocks += n;
      i += n;
    }
    return { outcome: 'data', read: src.bytes, blocks };
  } catch (err) {
    if (err instanceof ImageFormatError && err.message.length > 40) return { outcome: 'refused', read: src.bytes, blocks };
    throw err;
  }
}

describe.each(Object.keys(PLAN))('fuzz %s', (format) => {
  it(`${CASES} seeded mutations each end in data or ImageFormatError, with bounded reads`, { timeout: 600_000 }, async () => {
    const small = sourceRaw(8);
    const tally = { data: 0, refused: 0 };
    const failures: string[] = [];
    let caseNo = 0;
    for (const [name, share] of PLAN[format]!) {
      const orig = new Uint8Array(readFileSync(fixture(name, small)));
      const meta = await metadataRanges(orig);
      expect(meta.length).toBeGreaterThan(0);
      const count = Math.ceil(CASES * share);
      for (let i = 0; i < count; i++, caseNo++) {
        const rnd = prng(SEED ^ (caseNo * 2654435761));
        const m = mutate(orig, meta, rnd);
        const what = m.what;
        const t0 = performance.now();
        try {
          const r = await runCase(mutantSource(orig, m));
          if (process.env.FUZZ_SLOW && performance.now() - t0 > Number(process.env.FUZZ_SLOW)) console.log(`slow ${name} ${caseNo} ${(performance.now() - t0).toFixed(0)}ms ${r.outcome} blocks=${r.blocks} ${what}`);
          tally[r.outcome]++;
          // Work is bounded by the file and the blocks asked for, never by what a header claims.
          const bound = 8 * m.size + 2 * (r.blocks + 4) * BLOCK_SIZE + 64 * 1024 * 1024;
          if (r.read > bound) failures.push(`${name} case ${caseNo} (${what}): read ${r.read} bytes, bound ${bound}`);
        } catch (err) {
          failures.push(`${name} case ${caseNo} (${what}): ${(err as Error).name}: ${(err as Error).message}`);
        }
        if (failures.length >= 10) break;
      }
    }
    expect(failures).toEqual([]);
    expect(tally.data + tally.refused).toBeGreaterThanOrEqual(CASES);
    // Both outcomes occur: the mutations reach the checks, and not every mutation is fatal.
    expect(tally.refused).toBeGreaterThan(CASES / 20);
    expect(tally.data).toBeGreaterThan(CASES / 20);
  });
});
