import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { zlibSync } from 'fflate';
import { fileSource } from '../../cli/node-source.ts';
import { routeDisk } from './disk-route.ts';
import { streamedImage } from './streamed-raw.ts';
import { streamOptimizedRaw } from './vmdk-stream.ts';
import { buildManifest } from './manifest.ts';
import { memoryStream, readAll } from './byte-stream.ts';
import { BLOCK_SIZE, ImageFormatError } from './types.ts';
import { packStep, packedFixture, type PackedSpec } from './testing/container-fixtures.ts';
import { cached, fixture, fixtureOracle, manifestOfRaw, oracleRaw, sourceRaw, sparseVmdkHeader, vmwareStreamOptimized } from './testing/test-fixtures.ts';

/** Routes a packed file and reads its disk the way an upload does; returns the route and the manifest. */
async function streamedManifest(path: string) {
  const src = await fileSource(path);
  try {
    const route = await routeDisk(src);
    if (route.path !== 'streamed') return { route, manifest: undefined };
    const image = streamedImage(src, route.steps, route.size, 'packed file');
    try {
      return { route, manifest: await buildManifest(image), opened: image.opened };
    } finally {
      await image.close();
    }
  } finally {
    await src.close();
  }
}

const spec = (steps: PackedSpec['steps'], container: string[]): PackedSpec => ({ name: `stream.vmdk.${steps.join('.')}`, inner: 'stream.vmdk', steps, container });

describe('a streamOptimized VMDK inside a compressed stream is read grain by grain, front to back', () => {
  // qemu-img's layout: grain tables in front, grains in disk order, no end-of-stream marker.
  it.each([
    [spec(['gz'], ['gzip'])],
    [spec(['xz'], ['xz'])],
    [spec(['tar-gnu', 'gz'], ['gzip', 'tar'])],
    [spec(['tar-ustar', 'xz'], ['xz', 'tar'])],
  ])('$name gives the manifest of what qemu-img converts it to, once through', async (p) => {
    const { route, manifest, opened } = await streamedManifest(packedFixture(p));
    expect(route).toMatchObject({ path: 'streamed', format: 'vmdk', container: p.container, measured: false, size: 16 * 2 ** 20 });
    const want = manifestOfRaw(readFileSync(fixtureOracle('stream.vmdk', sourceRaw(16))), 'vmdk');
    expect(manifest).toEqual(want);
    expect(opened).toBe(1);
  });

  it("VMware's layout (grain tables after their grains, directory, footer and end-of-stream markers) reads as qemu-img converts it", async () => {
    const vmdk = cached('vmware-ordered.vmdk', (out) => writeFileSync(out, vmwareStreamOptimized(readFileSync(sourceRaw(16)), 128, 7, true)));
    const gz = cached('vmware-ordered.vmdk.gz', (out) => packStep('gz', vmdk, out));
    const { route, manifest } = await streamedManifest(gz);
    expect(route).toMatchObject({ path: 'streamed', format: 'vmdk' });
    expect(manifest).toEqual(manifestOfRaw(readFileSync(oracleRaw(vmdk, 'vmdk')), 'vmdk'));
  });

  it('grains out of disk order are refused with a sentence, not read wrong', async () => {
    const gz = cached('vmware-shuffled.vmdk.gz', (out) => packStep('gz', fixture('vmware-stream.vmdk', sourceRaw(16)), out));
    const src = await fileSource(gz);
    try {
      const route = await routeDisk(src);
      expect(route.path).toBe('streamed');
      if (route.path !== 'streamed') return;
      const err = await buildManifest(streamedImage(src, route.steps, route.size)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageFormatError);
      expect((err as ImageFormatError).code).toBe('unordered');
      expect((err as Error).message).toMatch(/stores its grains out of disk order .* Unpack it first/);
    } finally {
      await src.close();
    }
  });

  it('a resume skips forward without reading behind, and a read behind starts the stream again', async () => {
    const p = spec(['xz'], ['xz']);
    const src = await fileSource(packedFixture(p));
    const oracle = readFileSync(fixtureOracle('stream.vmdk', sourceRaw(16)));
    try {
      const route = await routeDisk(src);
      if (route.path !== 'streamed') throw new Error(route.path);
      const image = streamedImage(src, route.steps, route.size);
      const later = await image.readBlocks(20, 4);
      expect(Buffer.from(later).equals(oracle.subarray(20 * BLOCK_SIZE, 24 * BLOCK_SIZE))).toBe(true);
      expect(image.opened).toBe(1);
      const earlier = await image.readBlocks(2, 1);
      expect(Buffer.from(earlier).equals(oracle.subarray(2 * BLOCK_SIZE, 3 * BLOCK_SIZE))).toBe(true);
      expect(image.opened).toBe(2);
      await image.close();
    } finally {
      await src.close();
    }
  });
});

// A small streamOptimized VMDK made here, so each field a reader trusts can be set to a lie.
const GRAIN_SECTORS = 8;
const GRAIN = GRAIN_SECTORS * 512;

interface Grain {
  sector: number;
  /** The grain's bytes (compressed here), or its compressed bytes as given. */
  data?: Uint8Array;
  z?: Uint8Array;
  /** The size the marker declares (default: the compressed length). */
  size?: number;
}

function header(capacitySectors: number, overHead = 1): Uint8Array {
  return sparseVmdkHeader({ capacitySectors, grainSectors: GRAIN_SECTORS, overHead });
}

function grainMarker(g: Grain): Uint8Array {
  const z = g.z ?? zlibSync(g.data!);
  const m = Buffer.alloc(Math.ceil((12 + z.length) / 512) * 512);
  m.writeBigUInt64LE(BigInt(g.sector), 0);
  m.writeUInt32LE(g.size ?? z.length, 8);
  m.set(z, 12);
  return m;
}

function metaMarker(type: number, sectors: number): Uint8Array {
  const b = Buffer.alloc(512 + sectors * 512);
  b.writeBigUInt64LE(BigInt(sectors), 0);
  b.writeUInt32LE(type, 12);
  return b;
}

const made = (capacitySectors: number, ...parts: Uint8Array[]): Uint8Array => Buffer.concat([header(capacitySectors), ...parts]);
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

async function decoded(vmdk: Uint8Array): Promise<Uint8Array> {
  return readAll(streamOptimizedRaw(memoryStream(vmdk, 777)));
}

async function refusal(vmdk: Uint8Array): Promise<ImageFormatError> {
  const err = await decoded(vmdk).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImageFormatError);
  return err as ImageFormatError;
}

describe('streamOptimizedRaw: the raw disk out of a VMDK read front to back', () => {
  it('gives zeros for the grains left out, each grain where its marker says, and stops at the end-of-stream marker', async () => {
    const a = bytes(GRAIN, 1);
    const b = bytes(GRAIN, 2);
    const out = await decoded(made(64, grainMarker({ sector: 8, data: a }), metaMarker(1, 4), grainMarker({ sector: 40, data: b }), metaMarker(2, 1), metaMarker(0, 0)));
    const want = new Uint8Array(64 * 512);
    want.set(a, 8 * 512);
    want.set(b, 40 * 512);
    expect(Buffer.from(out).equals(Buffer.from(want))).toBe(true);
  });

  it('a last grain cut by the disk end gives only the disk; the file may end without an end-of-stream marker', async () => {
    const out = await decoded(made(12, grainMarker({ sector: 8, data: bytes(GRAIN, 3) })));
    expect(out.length).toBe(12 * 512);
    expect(Buffer.from(out.subarray(8 * 512)).equals(Buffer.from(bytes(GRAIN, 3).subarray(0, 4 * 512)))).toBe(true);
  });

  it.each([
    ['a grain past the disk end', made(16, grainMarker({ sector: 16, data: bytes(GRAIN, 1) })), 'corrupt', /past the disk's end/],
    ['a grain not at a grain boundary', made(16, grainMarker({ sector: 3, data: bytes(GRAIN, 1) })), 'corrupt', /not where a grain starts/],
    ['a grain that inflates beyond its grain', made(16, grainMarker({ sector: 0, z: zlibSync(new Uint8Array(GRAIN * 4)) })), 'corrupt', /inflates to more than the 4096 bytes/],
    ['a marker that claims a huge compressed grain', made(16, grainMarker({ sector: 0, data: bytes(GRAIN, 1), size: 2 ** 31 })), 'corrupt', /claims 2147483648 compressed bytes/],
    ['a grain whose data is not deflate', made(16, grainMarker({ sector: 0, z: bytes(600, 9) })), 'corrupt', /does not decompress/],
    ['a marker of an unknown type', made(16, metaMarker(9, 0)), 'corrupt', /unknown type 9/],
    ['the same grain twice', made(16, grainMarker({ sector: 0, data: bytes(GRAIN, 1) }), grainMarker({ sector: 0, data: bytes(GRAIN, 2) })), 'unordered', /out of disk order/],
    ['metadata that runs past the end', made(16, metaMarker(1, 4)).subarray(0, 1024 + 512), 'truncated', /ends before its metadata/],
    ['a grain cut short', made(16, grainMarker({ sector: 0, data: bytes(GRAIN, 1) })).subarray(0, 512 + 300), 'truncated', /ends before its grain/],
    ['a header whose grains would start inside it', (() => Buffer.from(header(16, 0)))(), 'corrupt', /inside the header/],
  ] as const)('%s is refused with a sentence', async (_what, vmdk, code, message) => {
    const err = await refusal(vmdk);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('holds one grain at a time: no piece it gives is larger than a grain or its zero run of 1 MiB', async () => {
    const parts = Array.from({ length: 64 }, (_, i) => grainMarker({ sector: i * 2 * GRAIN_SECTORS, data: bytes(GRAIN, i) }));
    const s = streamOptimizedRaw(memoryStream(made(64 * 2 * GRAIN_SECTORS + 4096 * 8, ...parts), 65536));
    let largest = 0;
    let total = 0;
    for (let c = await s.next(); c; c = await s.next()) {
      largest = Math.max(largest, c.length);
      total += c.length;
    }
    expect(total).toBe((64 * 2 * GRAIN_SECTORS + 4096 * 8) * 512);
    expect(largest).toBeLessThanOrEqual(2 ** 20);
  });
});
