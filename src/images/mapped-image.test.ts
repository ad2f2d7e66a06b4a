import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { memorySource } from './byte-source.ts';
import { openImage } from './open-image.ts';
import { BLOCK_SIZE, type ByteSource } from './types.ts';
import { fixture, fixtureOracle, sourceRaw, tar } from './testing/test-fixtures.ts';

function counting(inner: ByteSource): ByteSource & { reads: number } {
  const s = {
    size: inner.size,
    reads: 0,
    read(offset: number, length: number) {
      s.reads++;
      return inner.read(offset, length);
    },
  };
  return s;
}

describe('coalesced reads', () => {
  it.each(['c4k.qcow2', 'c4k-deflate.qcow2', 'c512.qcow2', 'sparse.vmdk', 'stream.vmdk'])(
    '%s: 1 MiB of small clusters or grains is read in a handful of slices, not one per cluster',
    async (name) => {
      const src = counting(memorySource(new Uint8Array(readFileSync(fixture(name)))));
      const image = await openImage(src);
      await image.blockStates();
      // Blocks 2–3 hold 1 MiB of random data: 256 clusters of 4 KiB, 2048 of 512 bytes, 16 grains of 64 KiB.
      await image.readBlocks(2, 2);
      src.reads = 0;
      const got = await image.readBlocks(2, 2);
      expect(src.reads).toBeLessThanOrEqual(2);
      const raw = readFileSync(fixtureOracle(name));
      expect(Buffer.from(got).equals(raw.subarray(2 * BLOCK_SIZE, 4 * BLOCK_SIZE))).toBe(true);
    },
  );
});

describe('OVA', () => {
  it('uploads the first of several disks and says so; names from GNU long-name entries', async () => {
    const disk = readFileSync(fixture('stream.vmdk', sourceRaw(16)));
    const other = readFileSync(fixture('dynamic.vhd', sourceRaw(16)));
    const longName = `${'very-long-appliance-name-'.repeat(6)}disk1.vmdk`;
    const gnuLong = tar([{ name: '././@LongLink', data: Buffer.from(`${longName}\0`) }]).subarray(0, 1024);
    gnuLong[156] = 'L'.charCodeAt(0);
    // Fix the checksum after changing the type flag.
    gnuLong.write('        ', 148);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += gnuLong[i]!;
    gnuLong.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const rest = tar([
      { name: 'x.ovf', data: Buffer.from('<Envelope/>') },
      { name: 'truncated-name.vmdk', data: disk },
      { name: 'x-disk2.vhd', data: other },
    ]);
    const ova = Buffer.concat([tar([{ name: 'x.ovf', data: Buffer.from('<Envelope/>') }]).subarray(0, 1024), gnuLong, rest.subarray(1024)]);
    const image = await openImage(memorySource(new Uint8Array(ova)));
    expect(image.format).toBe('ova');
    expect(image.subformat).toBe('vmdk streamOptimized');
    expect(image.notices[0]).toMatch(new RegExp(`holds 2 disks \\(${longName}, x-disk2\\.vhd\\); only the first, ${longName}, is uploaded`));
    const raw = readFileSync(fixtureOracle('stream.vmdk', sourceRaw(16)));
    const got = await image.readBlocks(0, image.blockCount);
    expect(Buffer.from(got).equals(raw)).toBe(true);
  });
});
