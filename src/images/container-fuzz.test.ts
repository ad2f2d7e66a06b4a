import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPackedImage } from './open-packed-image.ts';
import { memorySpool } from './containers.ts';
import { memorySource } from './byte-source.ts';
import { ImageFormatError } from './types.ts';
import { packStep, type PackStep } from './testing/container-fixtures.ts';
import { prng } from './testing/test-fixtures.ts';
import { mutate } from './testing/mutations.ts';

// Seeded mutation fuzzer for the containers and decoders: flipped, overwritten and cut bytes must end in data or an
// ImageFormatError, never another exception or a hang, with the spool (what is unpacked) bounded.
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const CASES = Number(process.env.FUZZ_CASES ?? (process.env.BLOCKPORT_LONG ? 300 : 30));
const SPOOL_LIMIT = 8 * 2 ** 20;

/** 2 MiB of disk: random data, text, zeros (what compresses well and what does not). */
function disk(): Buffer {
  const rnd = prng(5);
  const b = Buffer.alloc(2 * 2 ** 20);
  for (let i = 0; i < 256 * 1024; i++) b[i] = Math.floor(rnd() * 256);
  b.write('Blockport fuzzes its decoders. '.repeat(20000), 1024 * 1024);
  return b;
}

const STEPS: PackStep[][] = [['gz'], ['gz-members'], ['xz'], ['zst'], ['zst-frames'], ['bz2'], ['tar-gnu'], ['zip-deflate'], ['zip64'], ['tar-pax', 'gz']];

function packed(steps: PackStep[]): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'blockport-fuzz-'));
  try {
    let from = join(dir, 'disk.img');
    writeFileSync(from, disk());
    steps.forEach((s, i) => {
      packStep(s, from, join(dir, `${i}`));
      from = join(dir, `${i}`);
    });
    return new Uint8Array(readFileSync(from));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(STEPS.map((s) => [s.join('.'), s] as const))('fuzz %s', (_name, steps) => {
  it(`${CASES} seeded mutations each end in data or ImageFormatError`, { timeout: 600_000 }, async () => {
    const orig = packed(steps);
    const rnd = prng(SEED ^ steps.join().length * 7919);
    for (let c = 0; c < CASES; c++) {
      const m = mutate(orig, rnd);
      try {
        const image = await openPackedImage(memorySource(m.bytes), { spool: memorySpool(SPOOL_LIMIT) });
        for (let b = 0; b < Math.min(image.blockCount, 8); b++) await image.readBlocks(b, 1);
      } catch (err) {
        if (!(err instanceof ImageFormatError)) {
          throw new Error(`case ${c} (${m.what}): ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
        }
        expect((err as Error).message).toMatch(/\. [A-Z].*\.$|pick|Pick|Download|Extract|Unpack|Check|Convert/);
      }
    }
  });
});

it('gzip inside gzip past three levels is refused before it is unpacked', async () => {
  const b = packed(['gz', 'gz', 'gz', 'gz']);
  await expect(openPackedImage(memorySource(b), { spool: memorySpool(SPOOL_LIMIT) })).rejects.toThrow(/more than 3 levels deep/);
});
