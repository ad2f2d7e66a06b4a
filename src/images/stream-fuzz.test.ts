import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeDisk } from './disk-route.ts';
import { openSteps, streamedFormat, streamedRawImage } from './streamed-raw.ts';
import { declaredBounded } from './containers.ts';
import { decodeStream } from './stream-decoders.ts';
import { memorySource, MAX_VIRTUAL_SIZE } from './byte-source.ts';
import { memoryStream, type ByteStream } from './byte-stream.ts';
import { ImageFormatError } from './types.ts';
import { packStep, type PackStep } from './testing/container-fixtures.ts';
import { prng } from './testing/test-fixtures.ts';
import { mutate, shiftXzIndex } from './testing/mutations.ts';

// The streamed path (a disk decoded front to back as an upload reads it) under damage: seeded mutations, containers
// that declare less or more than they hold, bombs and deep nesting each end in data or an ImageFormatError with a
// sentence; no piece handed on is larger than a decoder's output budget, whatever the ratio.
const LONG = Boolean(process.env.BLOCKPORT_LONG);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const CASES = Number(process.env.FUZZ_CASES ?? (LONG ? 300 : 8));
// What a push decoder may give per read (stream-decoders' OUT_BUDGET); the rest give less.
const PIECE_BOUND = 16 * 2 ** 20;
const SENTENCE = /\. [A-Z].*\.$|pick|Pick|Download|Extract|Unpack|Check|Convert/;

/** 2 MiB of disk: random data, text and zeros (what compresses well and what does not). */
function disk(): Buffer {
  const rnd = prng(11);
  const b = Buffer.alloc(2 * 2 ** 20);
  for (let i = 0; i < 256 * 1024; i++) b[i] = Math.floor(rnd() * 256);
  b.write('Blockport streams what it decodes. '.repeat(20000), 1024 * 1024);
  return b;
}

const made = new Map<string, Uint8Array>();
/** The disk (raw, or converted by qemu-img to a streamOptimized VMDK) packed by the steps, innermost first (made once per recipe unless patched; copies). */
function packed(inner: 'raw' | 'vmdk', steps: PackStep[], patchInner?: (path: string) => void): Uint8Array {
  const key = `${inner}.${steps.join('.')}`;
  if (!patchInner) {
    const once = made.get(key) ?? packedNow(inner, steps);
    made.set(key, once);
    return once.slice();
  }
  return packedNow(inner, steps, patchInner);
}

function packedNow(inner: 'raw' | 'vmdk', steps: PackStep[], patchInner?: (path: string) => void): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'blockport-stream-fuzz-'));
  try {
    let from = join(dir, 'disk.img');
    writeFileSync(from, disk());
    if (inner === 'vmdk') {
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', from, `${from}.vmdk`]);
      from = `${from}.vmdk`;
    }
    steps.forEach((s, i) => {
      packStep(s, from, join(dir, `${i}`));
      from = join(dir, `${i}`);
      if (i === 0) patchInner?.(from);
    });
    return new Uint8Array(readFileSync(from));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A stream that records the largest piece it hands on. */
function watched(s: ByteStream, seen: { largest: number }): ByteStream {
  return {
    async next() {
      const c = await s.next();
      if (c) seen.largest = Math.max(seen.largest, c.length);
      return c;
    },
    cancel: () => s.cancel(),
  };
}

/**
 * Routes the bytes and, when the disk is streamed, reads it as an upload does (all of it when small, else its first
 * blocks). Returns whether it was streamed and the largest decoded piece.
 */
async function readStreamed(bytes: Uint8Array): Promise<{ streamed: boolean; largest: number }> {
  const src = memorySource(bytes);
  const route = await routeDisk(src);
  const seen = { largest: 0 };
  if (route.path !== 'streamed') return { streamed: false, largest: 0 };
  const image = streamedRawImage(() => watched(openSteps(src, route.steps), seen), route.size, 'fuzzed file', streamedFormat(route.steps));
  try {
    const blocks = image.blockCount <= 64 ? image.blockCount : 8;
    for (let b = 0; b < blocks; b += 4) await image.readBlocks(b, Math.min(4, blocks - b));
  } finally {
    await image.close();
  }
  return { streamed: true, largest: seen.largest };
}

const RECIPES: ['raw' | 'vmdk', PackStep[]][] = [
  ['raw', ['gz']],
  ['raw', ['xz']],
  ['raw', ['zst']],
  ['raw', ['bz2']],
  ['raw', ['zip-deflate']],
  ['raw', ['tar-gnu', 'gz']],
  ['vmdk', ['gz']],
  ['vmdk', ['xz']],
];

describe.each(RECIPES.map(([inner, steps]) => [`${inner}.${steps.join('.')}`, inner, steps] as const))('streamed fuzz %s', (_name, inner, steps) => {
  it(`${CASES} seeded mutations each end in data or a sentence, pieces bounded`, { timeout: 600_000 }, async () => {
    const orig = packed(inner, steps);
    // Unharmed, it is streamed (so the mutations exercise the streamed path).
    expect((await readStreamed(orig)).streamed).toBe(true);
    const rnd = prng(SEED ^ (steps.join().length * 7919 + inner.length));
    for (let c = 0; c < CASES; c++) {
      const m = mutate(orig, rnd);
      try {
        const { largest } = await readStreamed(m.bytes);
        expect(largest, `case ${c} (${m.what})`).toBeLessThanOrEqual(PIECE_BOUND);
      } catch (err) {
        if (!(err instanceof ImageFormatError)) {
          throw new Error(`case ${c} (${m.what}): ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
        }
        expect((err as Error).message).toMatch(SENTENCE);
      }
    }
  });
});

/** Rewrites a tar entry header's size field (octal) and its checksum. */
function setTarSize(path: string, entryName: string, size: number): void {
  const b = readFileSync(path);
  for (let at = 0; at + 512 <= b.length; at += 512) {
    if (b.toString('latin1', at, at + 100).replace(/\0.*$/s, '') !== entryName) continue;
    b.write(`${size.toString(8).padStart(11, '0')}\0`, at + 124, 'latin1');
    b.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += b[at + i]!;
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
    writeFileSync(path, b);
    return;
  }
  throw new Error(`no entry ${entryName}`);
}

/** Rewrites the unpacked size of a zip's entry in its central directory. */
function setZipSize(path: string, entryName: string, size: number): void {
  const b = readFileSync(path);
  for (let i = b.length - 22; i > 0; i--) {
    if (b.readUInt32LE(i) === 0x02014b50 && b.toString('utf8', i + 46, i + 46 + b.readUInt16LE(i + 28)) === entryName) {
      b.writeUInt32LE(size, i + 24);
      writeFileSync(path, b);
      return;
    }
  }
  throw new Error(`no entry ${entryName}`);
}

async function refusal(bytes: Uint8Array): Promise<ImageFormatError> {
  const err = await readStreamed(bytes).then(
    (r) => new Error(`read without complaint (streamed: ${r.streamed})`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageFormatError);
  expect((err as Error).message).toMatch(SENTENCE);
  return err as ImageFormatError;
}

describe('streamed containers that contradict themselves are refused with a sentence', () => {
  it.each(['gz', 'xz', 'zst', 'bz2'] as const)('a cut raw disk and a cut VMDK, each inside %s', async (step) => {
    for (const inner of ['raw', 'vmdk'] as const) {
      const whole = packed(inner, [step]);
      const err = await refusal(whole.subarray(0, Math.floor(whole.length * 0.6)));
      expect(err.code).toBe('truncated');
      expect(err.message).toMatch(/is truncated .*pick the complete file/);
    }
  });

  it('a tar entry that declares more than the archive holds, and one that declares less (its data read as a header)', async () => {
    const more = await refusal(packed('raw', ['tar-gnu', 'gz'], (p) => setTarSize(p, 'disk.img', 3 * 2 ** 20)));
    expect(more.message).toMatch(/This tar archive is truncated \(it ends inside the file "disk.img"\)/);
    const less = await refusal(packed('raw', ['tar-gnu', 'gz'], (p) => setTarSize(p, 'disk.img', 2 ** 20)));
    expect(less.message).toMatch(/This tar archive is damaged \(the archive entry at byte \d+ has a bad header checksum\)/);
  });

  it('a zip entry that inflates beyond the size its directory declares, and one that falls short of it', async () => {
    const beyond = await refusal(packed('raw', ['zip-deflate'], (p) => setZipSize(p, 'disk.img', 2 ** 20)));
    expect(beyond.message).toMatch(/This zip archive is damaged \("disk.img" unpacks to more than the 1048576 bytes its header declares\)/);
    const short = await refusal(packed('raw', ['zip-deflate'], (p) => setZipSize(p, 'disk.img', 3 * 2 ** 20)));
    expect(short.code).toBe('truncated');
    expect(short.message).toMatch(/"disk.img" unpacks to 2097152 bytes where its header says 3145728/);
  });

  it('an xz whose index declares less than its blocks hold, and one that declares more', async () => {
    const orig = Buffer.from(packed('raw', ['xz']));
    const less = await refusal(shiftXzIndex(orig, -4096).bytes);
    // The declared bound or the decoder's own index check, whichever meets the lie first.
    expect(less.message).toMatch(/This xz file is damaged \((xz stream unpacks to more than the 2093056 bytes its header declares|its compressed data or a checksum is damaged)\)/);
    const more = await refusal(shiftXzIndex(orig, 4096).bytes);
    expect(more.message).toMatch(/This xz file is (damaged|truncated)/);
  });

  it('nesting deeper than three is refused before anything is decoded past the fourth header', async () => {
    const deep = await refusal(packed('raw', ['xz', 'tar-ustar', 'gz', 'zst']));
    expect(deep.code).toBe('too-deep');
    expect(deep.message).toMatch(/packed more than 3 levels deep \(zstd in gzip in tar in xz…\).*Unpack it yourself/);
    const gz4 = await refusal(packed('raw', ['gz', 'gz', 'gz', 'gz']));
    expect(gz4.message).toMatch(/\(gzip in gzip in gzip in gzip…\)/);
  });
});

describe('bombs: output bounded per piece whatever the ratio, and by 64 TiB where nothing is declared', () => {
  const ZEROS_MIB = LONG ? 1024 : 32;
  const TOOL: Record<'gzip' | 'xz' | 'zstd' | 'bzip2', string> = { gzip: 'gzip -c', xz: 'xz -c -T1 -0', zstd: 'zstd -c -q', bzip2: 'bzip2 -c' };
  it.each(Object.keys(TOOL) as ('gzip' | 'xz' | 'zstd' | 'bzip2')[])(`%s of ${ZEROS_MIB} MiB of zeros is decoded in bounded pieces`, { timeout: 600_000 }, async (codec) => {
    const bomb = new Uint8Array(execFileSync('sh', ['-c', `head -c ${ZEROS_MIB}M /dev/zero | ${TOOL[codec]}`], { maxBuffer: 1 << 30 }));
    const s = decodeStream(codec, memoryStream(bomb));
    let largest = 0;
    let total = 0;
    for (let c = await s.next(); c; c = await s.next()) {
      largest = Math.max(largest, c.length);
      total += c.length;
    }
    expect(total).toBe(ZEROS_MIB * 2 ** 20);
    expect(largest).toBeLessThanOrEqual(PIECE_BOUND);
    // The ratio is what a bomb has: the pieces stay bounded however small the input was.
    expect(total / bomb.length).toBeGreaterThan(100);
  });

  it('a stream that declares no size is stopped once it passes 64 TiB, with a sentence', async () => {
    // 64 MiB of zeros handed on again and again (what a decoder would give for a bomb), never held twice.
    const piece = new Uint8Array(64 * 2 ** 20);
    let given = 0;
    const endless: ByteStream = {
      async next() {
        given += piece.length;
        return piece;
      },
      async cancel() {},
    };
    const bounded = declaredBounded(endless, 'gzip', 'gzip stream');
    const err = await (async () => {
      for (;;) await bounded.next();
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as ImageFormatError).code).toBe('too-large');
    expect((err as Error).message).toMatch(/unpacks to more than 64 TiB, more than any EBS snapshot can hold/);
    expect(given).toBeGreaterThan(MAX_VIRTUAL_SIZE);
    expect(given).toBeLessThan(MAX_VIRTUAL_SIZE + 2 ** 31);
  });
});
