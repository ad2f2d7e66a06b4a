import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileSource } from '../../cli/node-source.ts';
import { openImage } from './open-image.ts';
import { crc32c } from './crc32c.ts';
import { cached, fileSize, fixture, patch, qemu, sourceRaw, tar, truncateFile } from './testing/test-fixtures.ts';
import { expectRefusal, refusalOf } from './testing/refusal.ts';

const small = (name: string): string => fixture(name, sourceRaw(16));
const copyOf = (name: string) => (p: string): void => copyFileSync(small(name), p);
const be32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const le32 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];
const be64 = (hi: number, lo: number): number[] => [...be32(hi), ...be32(lo)];
const le64 = (lo: number, hi: number): number[] => [...le32(lo), ...le32(hi)];

/** Rewrites a VHD footer field and its checksum, at the start and the end of the file. */
function patchVhdFooter(p: string, at: number, bytes: number[]): void {
  const size = fileSize(p);
  for (const base of [0, size - 512]) {
    const f = Buffer.from(readFileSync(p).subarray(base, base + 512));
    if (f.toString('latin1', 0, 8) !== 'conectix') continue;
    Buffer.from(bytes).copy(f, at);
    f.writeUInt32BE(0, 64);
    let sum = 0;
    for (const b of f) sum += b;
    f.writeUInt32BE(~sum >>> 0, 64);
    patch(p, base, f);
  }
}

/** The metadata region offset and a metadata item's absolute offset in a VHDX made by qemu-img. */
function vhdxItem(p: string, guidBytes: number[]): number {
  const b = readFileSync(p);
  const regions = 192 * 1024;
  const count = b.readUInt32LE(regions + 8);
  for (let i = 0; i < count; i++) {
    const at = regions + 16 + i * 32;
    if (b[at] === 0x06 && b[at + 1] === 0xa2 && b[at + 2] === 0x7c && b[at + 3] === 0x8b) {
      const meta = Number(b.readBigUInt64LE(at + 16));
      const n = b.readUInt16LE(meta + 10);
      for (let k = 0; k < n; k++) {
        const e = meta + 32 + k * 32;
        if (guidBytes.every((x, j) => b[e + j] === x)) return meta + b.readUInt32LE(e + 16);
      }
    }
  }
  throw new Error('metadata item not found');
}

/** The BAT offset of a VHDX made by qemu-img. */
function vhdxBat(p: string): number {
  const b = readFileSync(p);
  const regions = 192 * 1024;
  for (let i = 0; i < b.readUInt32LE(regions + 8); i++) {
    const at = regions + 16 + i * 32;
    if (b[at] === 0x66 && b[at + 1] === 0x77 && b[at + 2] === 0xc2 && b[at + 3] === 0x2d) return Number(b.readBigUInt64LE(at + 16));
  }
  throw new Error('BAT not found');
}

/** Sets a VHDX header field in both headers and fixes their CRC-32C. */
function patchVhdxHeaders(p: string, at: number, bytes: number[]): void {
  for (const base of [64 * 1024, 128 * 1024]) {
    const h = Buffer.from(readFileSync(p).subarray(base, base + 4096));
    Buffer.from(bytes).copy(h, at);
    h.writeUInt32LE(0, 4);
    h.writeUInt32LE(crc32c(h), 4);
    patch(p, base, h);
  }
}

interface Refusal {
  name: string;
  make(p: string): void;
  code: string;
  format: string;
  /** The sentence must say what the file is and what to do. */
  says: RegExp;
  /** Refused only once the tables are walked (blockStates/readBlocks), not at open. */
  onRead?: boolean;
}

/** A child image made by qemu-img over a base of the same format: only the differences, not a whole disk. */
function childOf(format: 'qcow2' | 'vmdk', says: RegExp): Refusal {
  const make = (p: string) => {
    const base = `${p}.base.${format}`;
    qemu('qemu-img', ['create', '-f', format, base, '16M']);
    qemu('qemu-img', ['create', '-f', format, '-b', base, '-F', format, p]);
  };
  return { name: format === 'vmdk' ? 'child.vmdk' : `backing.${format}`, make, code: 'backing-file', format, says };
}

const REFUSALS: Refusal[] = [
  childOf('qcow2', /has a backing file.*not a whole disk.*qemu-img convert/),
  {
    name: 'luks.qcow2',
    make: (p) => qemu('qemu-img', ['create', '-f', 'qcow2', '--object', 'secret,id=sec0,data=hunter2', '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10', p, '16M']),
    code: 'encrypted',
    format: 'qcow2',
    says: /is encrypted.*Decrypt it/,
  },
  { name: 'aes.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 32, be32(1))), code: 'encrypted', format: 'qcow2', says: /is encrypted/ },
  {
    name: 'data-file.qcow2',
    make: (p) => qemu('qemu-img', ['create', '-f', 'qcow2', '-o', `data_file=${p}.data`, p, '16M']),
    code: 'external-data-file',
    format: 'qcow2',
    says: /external data file.*self-contained copy/,
  },
  {
    name: 'unknown-feature.qcow2',
    make: (p) => (copyOf('v3.qcow2')(p), patch(p, 72, be64(0, 0x20))),
    code: 'unsupported',
    format: 'qcow2',
    says: /incompatible feature Blockport does not know.*Convert it/,
  },
  { name: 'corrupt-bit.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 72, be64(0, 2))), code: 'corrupt', format: 'qcow2', says: /marked corrupt.*qemu-img check -r all/ },
  { name: 'version4.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 4, be32(4))), code: 'unsupported', format: 'qcow2', says: /qcow version 4.*Convert it/ },
  {
    name: 'truncated.qcow2',
    make: (p) => (copyOf('v3.qcow2')(p), truncateFile(p, Math.floor(fileSize(p) / 2))),
    code: 'truncated',
    format: 'qcow2',
    says: /ends before its data clusters.*truncated.*Copy the image again/,
    onRead: true,
  },
  { name: 'l1-past-end.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 40, be64(0x10, 0))), code: 'truncated', format: 'qcow2', says: /ends before its L1 table/ },
  { name: 'l1-over-header.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 40, be64(0, 0))), code: 'corrupt', format: 'qcow2', says: /damaged: its L1 table offset 0 .*overlaps the header/ },
  {
    name: 'l2-over-l1.qcow2',
    make: (p) => {
      copyOf('v3.qcow2')(p);
      const l1 = readFileSync(p).readUInt32BE(44);
      patch(p, l1, be64(0x80000000, l1));
    },
    code: 'corrupt',
    format: 'qcow2',
    says: /damaged: an L2 table at \d+ overlaps the header or the L1 table/,
  },
  { name: 'huge.qcow2', make: (p) => (copyOf('v3.qcow2')(p), patch(p, 24, be64(0x10000, 0))), code: 'too-large', format: 'qcow2', says: /declares a virtual disk of .* TiB, more than the 64 TiB/ },
  {
    name: 'l1-too-small.qcow2',
    make: (p) => (copyOf('v3.qcow2')(p), patch(p, 24, be64(0x100, 0))),
    code: 'corrupt',
    format: 'qcow2',
    says: /its L1 table has 1 entries but the \d+-byte disk needs \d+/,
  },
  childOf('vmdk', /child \(delta\) disk of ".*base\.vmdk".*Consolidate the snapshots/),
  {
    name: 'split.vmdk',
    make: (p) => qemu('qemu-img', ['create', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', p, '16M']),
    code: 'multi-file',
    format: 'vmdk',
    says: /\(twoGbMaxExtentSparse\) is split across .*Join them into one file/,
  },
  {
    name: 'flat.vmdk',
    make: (p) => qemu('qemu-img', ['create', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', p, '16M']),
    code: 'multi-file',
    format: 'vmdk',
    says: /text descriptor of a monolithicFlat VMDK.*Pick that data file instead/,
  },
  { name: 'v4.vmdk', make: (p) => (copyOf('sparse.vmdk')(p), patch(p, 4, le32(4))), code: 'unsupported', format: 'vmdk', says: /sparse format version 4.*Convert it/ },
  { name: 'cowd.vmdk', make: (p) => (copyOf('sparse.vmdk')(p), patch(p, 0, [0x43, 0x4f, 0x57, 0x44])), code: 'unsupported', format: 'vmdk', says: /COWD .*ESXi snapshots.*Convert it/ },
  { name: 'gd-past-end.vmdk', make: (p) => (copyOf('sparse.vmdk')(p), patch(p, 56, le64(0x7fffffff, 0))), code: 'truncated', format: 'vmdk', says: /ends before its grain directory/ },
  {
    name: 'truncated-stream.vmdk',
    make: (p) => (copyOf('vmware-stream.vmdk')(p), truncateFile(p, fileSize(p) - 4096)),
    code: 'corrupt',
    format: 'vmdk',
    says: /grain directory is at the end, but there is no footer/,
  },
  { name: 'differencing.vhd', make: (p) => (copyOf('dynamic.vhd')(p), patchVhdFooter(p, 60, be32(4))), code: 'backing-file', format: 'vhd', says: /differencing disk.*Merge it into its parent/ },
  { name: 'bad-checksum.vhd', make: (p) => (copyOf('dynamic.vhd')(p), patch(p, 48, [0x7f])), code: 'corrupt', format: 'vhd', says: /footer checksum does not match/ },
  {
    name: 'truncated.vhd',
    make: (p) => (copyOf('dynamic.vhd')(p), truncateFile(p, Math.floor(fileSize(p) / 2))),
    code: 'truncated',
    format: 'vhd',
    says: /ends before its data blocks/,
    onRead: true,
  },
  {
    name: 'log.vhdx',
    make: (p) => {
      copyOf('dynamic.vhdx')(p);
      const h = readFileSync(p).subarray(64 * 1024, 68 * 1024);
      const logOffset = Number(h.readBigUInt64LE(72));
      const logGuid = [...Array(16).keys()].map((i) => i + 1);
      patch(p, logOffset, [...Buffer.from('loge')]);
      patch(p, logOffset + 32, logGuid);
      patchVhdxHeaders(p, 48, logGuid);
    },
    code: 'log-replay',
    format: 'vhdx',
    says: /log that was never replayed.*qemu-img check -r all/,
  },
  {
    name: 'differencing.vhdx',
    make: (p) => {
      copyOf('dynamic.vhdx')(p);
      const at = vhdxItem(p, [0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b]);
      patch(p, at + 4, le32(2));
    },
    code: 'backing-file',
    format: 'vhdx',
    says: /differencing disk.*Merge it into its parent/,
  },
  {
    name: 'partial.vhdx',
    make: (p) => {
      copyOf('b1m.vhdx')(p);
      const bat = vhdxBat(p);
      const b = readFileSync(p);
      patch(p, bat, [(b[bat]! & ~7) | 7]);
    },
    code: 'backing-file',
    format: 'vhdx',
    says: /partially present blocks.*Convert it/,
    onRead: true,
  },
  {
    name: 'bad-headers.vhdx',
    make: (p) => (copyOf('dynamic.vhdx')(p), patch(p, 64 * 1024 + 8, [9]), patch(p, 128 * 1024 + 8, [9])),
    code: 'corrupt',
    format: 'vhdx',
    says: /neither of its two headers has a valid checksum/,
  },
  { name: 'differencing.vdi', make: (p) => (copyOf('dynamic.vdi')(p), patch(p, 0x1b8, [1, 2, 3, 4])), code: 'backing-file', format: 'vdi', says: /differencing image.*VBoxManage clonemedium/ },
  { name: 'undo.vdi', make: (p) => (copyOf('dynamic.vdi')(p), patch(p, 0x4c, le32(3))), code: 'backing-file', format: 'vdi', says: /an undo image/ },
  { name: 'extra.vdi', make: (p) => (copyOf('dynamic.vdi')(p), patch(p, 0x17c, le32(512))), code: 'unsupported', format: 'vdi', says: /512 extra bytes per block.*Convert it/ },
  { name: 'map-past-end.vdi', make: (p) => (copyOf('dynamic.vdi')(p), patch(p, 0x154, le32(0x7ffffff0))), code: 'truncated', format: 'vdi', says: /ends before its block map/ },
  {
    name: 'no-disk.ova',
    make: (p) => writeFileSync(p, tar([{ name: 'x.ovf', data: Buffer.from('<Envelope/>') }])),
    code: 'no-disk',
    format: 'ova',
    says: /holds no disk image Blockport recognises/,
  },
  {
    name: 'gzip-disk.ova',
    make: (p) =>
      writeFileSync(p, tar([
        { name: 'x.ovf', data: Buffer.from('<Envelope/>') },
        { name: 'x-disk1.vmdk.gz', data: gzipSync(readFileSync(small('stream.vmdk'))) },
      ])),
    code: 'compressed-file',
    format: 'ova',
    says: /OVA stores its disk "x-disk1\.vmdk\.gz" compressed.*Extract it/,
  },
  {
    name: 'truncated.ova',
    make: (p) => (copyOf('appliance.ova')(p), truncateFile(p, Math.floor(fileSize(p) / 2))),
    code: 'truncated',
    format: 'ova',
    says: /ends inside the file "appliance-disk1\.vmdk": it is truncated/,
  },
  {
    name: 'disk.img.gz',
    make: (p) => writeFileSync(p, gzipSync(readFileSync(sourceRaw(16)).subarray(0, 1 << 20))),
    code: 'compressed-file',
    format: 'raw',
    says: /gzip archive, not a disk image. Extract the disk image/,
  },
  {
    name: 'luks.img',
    make: (p) => qemu('qemu-img', ['create', '-f', 'luks', '--object', 'secret,id=sec0,data=hunter2', '-o', 'key-secret=sec0,iter-time=10', p, '16M']),
    code: 'encrypted',
    format: 'raw',
    says: /LUKS-encrypted volume.*Decrypt it first/,
  },
  { name: 'empty.img', make: (p) => writeFileSync(p, ''), code: 'empty', format: 'raw', says: /file is empty.*Pick the disk image file itself/ },
];

describe('not refused', () => {
  it('a VHDX whose LogGuid is set but whose log holds no entry of its own is read like the original', async () => {
    const path = cached('accept-stale-log-guid.vhdx', (p) => {
      copyOf('dynamic.vhdx')(p);
      patchVhdxHeaders(p, 48, [...Array(16).keys()].map((i) => i + 1));
    });
    const src = await fileSource(path);
    const orig = await fileSource(small('dynamic.vhdx'));
    try {
      const [a, b] = [await openImage(src), await openImage(orig)];
      expect(Buffer.from(await a.readBlocks(0, a.blockCount)).equals(Buffer.from(await b.readBlocks(0, b.blockCount)))).toBe(true);
    } finally {
      await src.close();
      await orig.close();
    }
  });
});

describe('refusals', () => {
  it.each(REFUSALS.map((r) => [r.name, r] as const))('%s is refused with a sentence', async (name, r) => {
    const e = await refusalOf(cached(`refuse-${name}`, r.make), 'every');
    expectRefusal(e, name, { ...r, onRead: Boolean(r.onRead) });
    // Every sentence says what to do, not only what is wrong.
    expect(e!.message).toMatch(/\b(Pick|pick|Convert|Copy|Run|Check|Merge|Join|Consolidate|Clone|Decrypt|Extract|Export|Repair|Download)\b/);
  });
});
