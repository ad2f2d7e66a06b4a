import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileSource } from '../../cli/node-source.ts';
import { routeDisk, surveyTar, type DiskRoute } from './disk-route.ts';
import { openSteps, streamedImage, streamedRawImage } from './streamed-raw.ts';
import { openImage } from './open-image.ts';
import { buildManifest } from './manifest.ts';
import { subSource } from './byte-source.ts';
import { memoryStream } from './byte-stream.ts';
import { ImageFormatError, type DiskImage } from './types.ts';
import { PACKED_FIXTURES, packedFixture, type PackStep } from './testing/container-fixtures.ts';
import { shiftXzIndex } from './testing/mutations.ts';
import { cached, fixture, sourceRaw, tar, truncateFile } from './testing/test-fixtures.ts';

const COMPRESSING: PackStep[] = ['gz', 'gz-members', 'xz', 'zst', 'zst-frames', 'bz2', 'zip-deflate', 'zip64'];

/** The path a recipe should take: in place without a decoder; streamed for raw and streamOptimized VMDK; unpacked for the rest (and zips inside streams). */
function expectedPath(inner: string, steps: PackStep[]): DiskRoute['path'] {
  const firstDecoder = steps.findLastIndex((s) => COMPRESSING.includes(s));
  if (firstDecoder < 0) return 'in-place';
  const zipInStream = steps.slice(0, firstDecoder).some((s) => s.startsWith('zip'));
  return (inner === 'plain.raw' || inner === 'stream.vmdk') && !zipInStream ? 'streamed' : 'unpacked';
}

const wanted = new Map<string, ReturnType<typeof buildManifest>>();
/** The manifest of an unpacked fixture, built once per file and its handle closed. */
function manifestOfFixture(inner: string): ReturnType<typeof buildManifest> {
  let m = wanted.get(inner);
  if (!m) {
    m = (async () => {
      const src = await fileSource(fixture(inner, sourceRaw(16)));
      try {
        return await buildManifest(await openImage(src));
      } finally {
        await src.close();
      }
    })();
    wanted.set(inner, m);
  }
  return m;
}

async function routed(path: string) {
  const src = await fileSource(path);
  return { src, route: await routeDisk(src) };
}

describe('routeDisk: how a packed disk will be read', () => {
  it.each(PACKED_FIXTURES.map((p) => [p.name, p] as const))('%s', async (_name, p) => {
    const { src, route } = await routed(packedFixture(p));
    let image: DiskImage | undefined;
    try {
      expect(route.path).toBe(expectedPath(p.inner, p.steps));
      if (route.path === 'direct') return;
      expect(route.container).toEqual(p.container);
      const want = await manifestOfFixture(p.inner);
      if (route.path === 'in-place') image = await openImage(subSource(src, route.offset, route.length));
      else if (route.path === 'streamed') image = streamedImage(src, route.steps, route.size);
      else {
        // A zip inside a compressed stream is read once unpacked: what it holds is not known before.
        const zipInStream = p.steps.indexOf('zip-stored') >= 0 && p.steps.some((st, k) => k > p.steps.indexOf('zip-stored') && COMPRESSING.includes(st));
        expect(route.format).toBe(zipInStream ? undefined : want.format);
        if (route.virtualSize !== undefined) expect(route.virtualSize).toBe(want.virtualSize);
        return;
      }
      expect(await buildManifest(image)).toEqual(want);
    } finally {
      await (image as { close?: () => Promise<void> } | undefined)?.close?.();
      await src.close();
    }
  });

  it('a bare disk is read directly', async () => {
    const { src, route } = await routed(fixture('plain.raw', sourceRaw(16)));
    await src.close();
    expect(route).toEqual({ path: 'direct' });
  });

  it('an xz file gives its size from its index; a gzip file is measured once', async () => {
    const xz = await routed(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.xz')!));
    const gz = await routed(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.gz')!));
    await xz.src.close();
    await gz.src.close();
    expect(xz.route).toMatchObject({ path: 'streamed', size: 16 * 2 ** 20, measured: false });
    expect(gz.route).toMatchObject({ path: 'streamed', size: 16 * 2 ** 20, measured: true });
  });

  it('a fixed VHD in a stream whose end is reached (gzip and bzip2 measured, xz in one block or several) is read without its footer: the manifest of the .vhd picked unpacked', async () => {
    const vhd = fixture('fixed.vhd', sourceRaw(16));
    const want = await (async () => {
      const src = await fileSource(vhd);
      try {
        return await buildManifest(await openImage(src));
      } finally {
        await src.close();
      }
    })();
    expect(want.format).toBe('vhd');
    const packs = [
      ['gz', ['gzip', '-c', '-1'], true],
      ['bz2', ['bzip2', '-c', '-1'], true],
      ['xz', ['xz', '-c', '-0'], false],
      ['blocks.xz', ['xz', '-c', '-0', '-T2', '--block-size=1MiB'], false],
    ] as const;
    for (const [ext, [tool, ...args], measured] of packs) {
      const path = cached(`route-fixed.vhd.${ext}`, (out) => writeFileSync(out, execFileSync(tool, [...args, vhd], { maxBuffer: 256 * 2 ** 20 })));
      const { src, route } = await routed(path);
      let image: DiskImage | undefined;
      try {
        expect(route).toMatchObject({ path: 'streamed', measured, size: want.virtualSize });
        expect(route.path === 'streamed' && route.notices.join(' ')).toMatch(/fixed VHD: its 512 bytes after the disk \(the VHD footer\)/);
        if (route.path !== 'streamed') return;
        image = streamedImage(src, route.steps, route.size);
        const got = await buildManifest(image);
        expect({ ...got, format: want.format }).toEqual(want);
      } finally {
        await (image as { close?: () => Promise<void> } | undefined)?.close?.();
        await src.close();
      }
    }
  });

  it('a cut stream is refused with its sentence while it is measured', async () => {
    const path = cached('route-cut.raw.gz', (out) => {
      copyFileSync(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.gz')!), out);
      truncateFile(out, Math.floor(readFileSync(out).length / 2));
    });
    const src = await fileSource(path);
    const err = await routeDisk(src).catch((e: unknown) => e);
    await src.close();
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as ImageFormatError).code).toBe('truncated');
    expect((err as Error).message).toMatch(/This gzip file is truncated/);
  });

  it('a cut xz stream is refused when the streamed disk reaches the cut', async () => {
    const path = cached('route-cut.raw.xz', (out) => {
      copyFileSync(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.xz')!), out);
      truncateFile(out, Math.floor(readFileSync(out).length / 2));
    });
    const src = await fileSource(path);
    try {
      // Its index is gone with its end, so it is measured, and the measuring meets the cut.
      const err = await routeDisk(src).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageFormatError);
      expect((err as Error).message).toMatch(/This xz file is truncated .*pick the complete file/);
    } finally {
      await src.close();
    }
  });

  it('an xz index that understates what the stream holds is refused while streaming', async () => {
    // The last 4 MiB block's record in the index says 2 MiB (index CRC fixed up): 14 MiB declared, 16 MiB inside.
    const path = cached('route-understated.raw.xz', (out) => {
      const b = Buffer.from(readFileSync(packedFixture(PACKED_FIXTURES.find((p) => p.name === 'plain.raw.xz')!)));
      const shifted = shiftXzIndex(b, -2 * 2 ** 20);
      expect(shifted.lastBlockSize).toBe(4 * 2 ** 20);
      writeFileSync(out, shifted.bytes);
    });
    const { src, route } = await routed(path);
    try {
      expect(route).toMatchObject({ path: 'streamed', size: 14 * 2 ** 20, measured: false });
      if (route.path !== 'streamed') return;
      const err = await buildManifest(streamedRawImage(() => openSteps(src, route.steps), route.size)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageFormatError);
      expect((err as Error).message).toMatch(/This xz file is damaged \(xz stream unpacks to more than the 14680064 bytes its header declares\)/);
    } finally {
      await src.close();
    }
  });

  it('lists a tar read as a stream as listTar lists it, heads of small and largest entries kept', async () => {
    const a = Buffer.alloc(3 * 2 ** 20, 1);
    const b = Buffer.alloc(1000, 2);
    const c = Buffer.alloc(2 * 2 ** 20 + 5, 3);
    const archive = tar([
      { name: 'a.img', data: a },
      { name: 'b.txt', data: b },
      { name: 'c.img', data: c },
    ]);
    const got = await surveyTar(memoryStream(new Uint8Array(archive), 7777));
    expect(got.total).toBe(archive.length);
    expect(got.entries.map((e) => [e.name, e.size, archive[e.offset]])).toEqual([
      ['a.img', a.length, 1],
      ['b.txt', b.length, 2],
      ['c.img', c.length, 3],
    ]);
    expect(await got.entries[0]!.head!()).toEqual(new Uint8Array(4096).fill(1));
    expect(await got.entries[1]!.head!()).toEqual(new Uint8Array(1000).fill(2));
    expect(got.entries[2]!.head).toBeUndefined();
    const cut = await surveyTar(memoryStream(archive.subarray(0, 2 ** 20))).catch((e: unknown) => e);
    expect((cut as Error).message).toMatch(/This tar archive is truncated \(it ends inside the file "a\.img"\)/);
  });
});
