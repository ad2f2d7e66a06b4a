import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileSource } from '../../cli/node-source.ts';
import { openImage } from './open-image.ts';
import { openPackedImage } from './open-packed-image.ts';
import { memorySpool, detectContainer } from './containers.ts';
import { buildManifest } from './manifest.ts';
import { memorySource } from './byte-source.ts';
import { ImageFormatError } from './types.ts';
import { PACKED_FIXTURES, packedFixture, packStep } from './testing/container-fixtures.ts';
import { cached, fixture, patch, sourceRaw, truncateFile } from './testing/test-fixtures.ts';

async function manifestOf(path: string, packed: boolean): Promise<{ manifest: unknown; container: readonly string[]; notices: readonly string[] }> {
  const src = await fileSource(path);
  const spool = memorySpool();
  try {
    const image = packed ? await openPackedImage(src, { spool }) : await openImage(src);
    return { manifest: await buildManifest(image), container: 'container' in image ? (image.container as string[]) : [], notices: image.notices };
  } finally {
    await spool.dispose();
    await src.close();
  }
}

const unpacked = new Map<string, ReturnType<typeof manifestOf>>();
/** The manifest of a format fixture as it is, read once per fixture. */
function manifestOfFixture(inner: string): ReturnType<typeof manifestOf> {
  const m = unpacked.get(inner) ?? manifestOf(fixture(inner, sourceRaw(16)), false);
  unpacked.set(inner, m);
  return m;
}

describe('disks as downloaded: compressed and archived', () => {
  it.each(PACKED_FIXTURES.map((p) => [p.name, p] as const))('%s gives the manifest of the unpacked image', async (_name, p) => {
    const want = await manifestOfFixture(p.inner);
    const got = await manifestOf(packedFixture(p), true);
    expect(got.container).toEqual(p.container);
    expect(got.manifest).toEqual(want.manifest);
  });

  it('names the other files of an archive that might be disks, and uses the largest', async () => {
    const path = cached('packed-two-disks.tar', (p) => {
      const dir = `${p}.d`;
      execFileSync('mkdir', ['-p', dir]);
      copyFileSync(fixture('plain.raw', sourceRaw(16)), `${dir}/big.img`);
      writeFileSync(`${dir}/small.img`, Buffer.alloc(2 ** 20, 1));
      execFileSync('tar', ['-cf', p, '-C', dir, 'small.img', 'big.img']);
      execFileSync('rm', ['-rf', dir]);
    });
    const got = await manifestOf(path, true);
    expect(got.notices.join('\n')).toMatch(/holds 2 files that may be disks; the largest, "big\.img", is used \(the others: "small\.img"\)/);
    expect(got.manifest).toEqual((await manifestOfFixture('plain.raw')).manifest);
  });

  it('recognises containers by content, never by name', () => {
    const head = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.padEnd(64, '0'), 'hex'));
    expect(detectContainer(head('1f8b08'))).toBe('gzip');
    expect(detectContainer(head('fd377a585a00'))).toBe('xz');
    expect(detectContainer(head('28b52ffd'))).toBe('zstd');
    expect(detectContainer(head('425a6839'))).toBe('bzip2');
    expect(detectContainer(head('425a6820'))).toBeUndefined();
    expect(detectContainer(head('504b0304'))).toBe('zip');
    expect(detectContainer(head('514649fb'))).toBeUndefined();
  });
});

interface Refusal {
  name: string;
  make(p: string): void;
  says: RegExp;
  code: string;
}

const raw16 = (): string => fixture('plain.raw', sourceRaw(16));
const packedOf = (name: string): string => packedFixture(PACKED_FIXTURES.find((p) => p.name === name)!);
const cutHalf = (name: string) => (p: string): void => {
  copyFileSync(packedOf(name), p);
  truncateFile(p, Math.floor(readFileSync(p).length / 2));
};
const damage = (name: string) => (p: string): void => {
  copyFileSync(packedOf(name), p);
  const b = readFileSync(p);
  const at = Math.floor(b.length / 3);
  patch(p, at, b.subarray(at, at + 64).map((x) => x ^ 0x5a));
};

const REFUSALS: Refusal[] = [
  ...['gz', 'xz', 'zst', 'bz2'].map((s) => ({ name: `cut.raw.${s}`, make: cutHalf(`plain.raw.${s}`), says: /is truncated \(it ends in the middle of the compressed data\).*pick the complete file/, code: 'truncated' })),
  { name: 'damaged.raw.gz', make: damage('plain.raw.gz'), says: /This gzip file is damaged \(.+\).*Download or copy it again/, code: 'corrupt' },
  { name: 'damaged.raw.xz', make: damage('plain.raw.xz'), says: /This xz file is damaged \(.+\)/, code: 'corrupt' },
  { name: 'damaged.raw.zst', make: damage('plain.raw.zst'), says: /This zstd file is damaged \(.+\)/, code: 'corrupt' },
  { name: 'damaged.raw.bz2', make: damage('plain.raw.bz2'), says: /This bzip2 file is damaged \(.+\)/, code: 'corrupt' },
  { name: 'cut.tar', make: cutHalf('plain.raw.tar-ustar'), says: /This tar archive is truncated \(it ends inside the file "disk-plain\.raw"\)/, code: 'truncated' },
  { name: 'cut.zip', make: cutHalf('plain.raw.zip-deflate'), says: /This zip archive is truncated \(its end-of-archive record is missing\)/, code: 'truncated' },
  {
    // The central directory declares 1 MiB for the disk; its deflate stream holds 16 MiB.
    name: 'understated.zip',
    make: (p) => {
      copyFileSync(packedOf('plain.raw.zip-deflate'), p);
      const b = readFileSync(p);
      for (let i = b.length - 22; i > 0; i--) {
        if (b.readUInt32LE(i) === 0x02014b50 && b.toString('utf8', i + 46, i + 46 + b.readUInt16LE(i + 28)).startsWith('disk-')) {
          const v = Buffer.alloc(4);
          v.writeUInt32LE(2 ** 20);
          patch(p, i + 24, v);
          break;
        }
      }
    },
    says: /This zip archive is damaged \("disk-plain\.raw" unpacks to more than the 1048576 bytes its header declares\)/,
    code: 'corrupt',
  },
  {
    name: 'too-deep.gz',
    make: (p) => {
      let from = raw16();
      for (let i = 0; i < 4; i++) {
        packStep('gz', from, `${p}.${i}`);
        from = `${p}.${i}`;
      }
      copyFileSync(from, p);
    },
    says: /packed more than 3 levels deep \(gzip in gzip in gzip in gzip…\).*Unpack it yourself/,
    code: 'too-deep',
  },
  {
    name: 'no-disk.zip',
    make: (p) => {
      writeFileSync(`${p}.txt`, 'nothing here\n');
      execFileSync('zip', ['-q', '-j', `${p}.zip`, `${p}.txt`]);
      execFileSync('mv', [`${p}.zip`, p]);
    },
    says: /This zip archive holds no disk image \(".*\.txt"\)/,
    code: 'no-disk',
  },
];

describe('containers refused with a sentence', () => {
  it.each(REFUSALS.map((r) => [r.name, r] as const))('%s', async (name, r) => {
    const path = cached(`packed-refuse-${name}`, r.make);
    const err = await manifestOf(path, true).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${name} was read without complaint`).toBeInstanceOf(ImageFormatError);
    expect((err as ImageFormatError).code).toBe(r.code);
    expect((err as Error).message).toMatch(r.says);
  });

  it('a stream that unpacks past the room it is given stops there, with a sentence', async () => {
    // 16 MiB of zeros in 16 KiB of gzip: the spool holds 4 MiB, so the stream is stopped, not held in memory.
    const bomb = execFileSync('gzip', ['-c'], { input: Buffer.alloc(16 * 2 ** 20) });
    const err = await openPackedImage(memorySource(bomb), { spool: memorySpool(4 * 2 ** 20) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as Error).message).toMatch(/Unpacking this file needs .* GiB but only .* GiB is free in memory/);
  });
});
