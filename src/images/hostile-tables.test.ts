import { describe, expect, it } from 'vitest';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { expectRefusal, refusalOf } from './testing/refusal.ts';
import { cached, fileSize, fixture, patch, sourceRaw } from './testing/test-fixtures.ts';

// Images whose tables hand out one table or cluster twice, made from qemu-img's own images with a few bytes patched.
// Such a file claims far more data than it holds (a 1 MiB qcow2 claiming 64 GiB); every one is refused with a sentence.

const small = (name: string): string => fixture(name, sourceRaw(16));
const be64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const u64be = (b: Buffer, at: number): number => Number(b.readBigUInt64BE(at));

/** The qcow2 header fields a patch needs. */
function qcow2Layout(p: string): { b: Buffer; cluster: number; l1: number; l2: number; refcountTable: number } {
  const b = readFileSync(p);
  const l1 = u64be(b, 40);
  const l2 = u64be(b, l1) & 0x00fffffffffffe00;
  return { b, cluster: 2 ** b.readUInt32BE(20), l1, l2, refcountTable: u64be(b, 48) };
}

/** The index of the n-th L2 entry that points at data (plain or compressed). */
function allocatedEntry(b: Buffer, l2: number, n = 0): number {
  for (let j = 0, seen = 0; j < 8192; j++) if (u64be(b, l2 + j * 8) !== 0 && seen++ === n) return j;
  throw new Error('no allocated L2 entry');
}

/** The VMDK sparse header fields a patch needs (little-endian). */
function vmdkLayout(p: string): { b: Buffer; gd: number; gt: number } {
  const b = readFileSync(p);
  const gd = Number(b.readBigUInt64LE(56)) * 512;
  return { b, gd, gt: b.readUInt32LE(gd) * 512 };
}

interface Hostile {
  name: string;
  make(p: string): void;
  says: RegExp;
  format: string;
  /** Refused once the tables are walked, not at open. */
  onRead: boolean;
}

const AT_OPEN = false;
const ON_READ = true;

/** A case: qemu-img's `source` image copied, then `edit` patches it; the format is the name's ending. */
function hostile(name: string, source: string, says: RegExp, onRead: boolean, edit: (p: string) => void): Hostile {
  const make = (p: string) => {
    copyFileSync(small(source), p);
    edit(p);
  };
  return { name, make, says, onRead, format: name.slice(name.lastIndexOf('.') + 1) };
}

const le32 = (n: number): Buffer => {
  const e = Buffer.alloc(4);
  e.writeUInt32LE(n);
  return e;
};

/** Copies the L2 entry of the first allocated cluster over the next one: two guest clusters, one host cluster. */
const shareFirstCluster = (p: string) => {
  const { b, l2 } = qcow2Layout(p);
  const j = allocatedEntry(b, l2);
  patch(p, l2 + (j + 1) * 8, b.subarray(l2 + j * 8, l2 + j * 8 + 8));
};

/** Points the first allocated cluster at `target(layout)`. */
const pointFirstClusterAt = (target: (l: ReturnType<typeof qcow2Layout>) => number) => (p: string) => {
  const l = qcow2Layout(p);
  patch(p, l.l2 + allocatedEntry(l.b, l.l2) * 8, be64(2 ** 63 + target(l)));
};

const HOSTILE: Hostile[] = [
  // The probe's shape: every L1 entry names the one L2 table, and the disk is made 2 GiB so there are four of them.
  hostile('shared-l2.qcow2', 'v3.qcow2', /use the bytes at offset \d+ twice \(an L2 table lies where/, AT_OPEN, (p) => {
    const { l1, b } = qcow2Layout(p);
    patch(p, 24, be64(2 * 2 ** 30));
    patch(p, 36, [0, 0, 0, 4]);
    for (let i = 1; i < 4; i++) patch(p, l1 + i * 8, b.subarray(l1, l1 + 8));
  }),
  hostile('shared-data-cluster.qcow2', 'v3.qcow2', /twice \(a data cluster lies where/, ON_READ, shareFirstCluster),
  hostile('data-over-l2.qcow2', 'v3.qcow2', /twice \(a data cluster lies where/, ON_READ, pointFirstClusterAt((l) => l.l2)),
  hostile('data-over-refcounts.qcow2', 'v3.qcow2', /twice \(a data cluster lies where/, ON_READ, pointFirstClusterAt((l) => l.refcountTable)),
  hostile('shared-compressed.qcow2', 'deflate.qcow2', /twice \(a compressed cluster lies where/, ON_READ, shareFirstCluster),
  // A compressed cluster whose stream holds 1 MiB: once cut silently at 64 KiB, now refused.
  hostile('inflates-past-cluster.qcow2', 'deflate.qcow2', /a compressed cluster inflates to more than the 65536 bytes it may hold/, ON_READ, (p) => {
    const { b, l2, cluster } = qcow2Layout(p);
    const bomb = deflateRawSync(Buffer.alloc(1 << 20, 7), { level: 9 });
    const at = Math.ceil(fileSize(p) / cluster) * cluster;
    appendFileSync(p, Buffer.alloc(at - fileSize(p)));
    appendFileSync(p, Buffer.concat([bomb, Buffer.alloc(cluster - bomb.length)]));
    const x = 62 - (Math.log2(cluster) - 8);
    const sectors = Math.ceil(bomb.length / 512) - 1;
    patch(p, l2 + allocatedEntry(b, l2) * 8, be64(2 ** 62 + sectors * 2 ** x + at));
  }),
  // Every grain directory entry names the one grain table, and the disk is made 256 MiB so there are eight.
  hostile('shared-gt.vmdk', 'sparse.vmdk', /twice \(a grain table lies where/, AT_OPEN, (p) => {
    const { b, gd } = vmdkLayout(p);
    const capacity = Buffer.alloc(8);
    capacity.writeBigUInt64LE(BigInt((256 * 2 ** 20) / 512));
    patch(p, 12, capacity);
    for (let t = 1; t < 8; t++) patch(p, gd + t * 4, b.subarray(gd, gd + 4));
  }),
  hostile('shared-grain.vmdk', 'sparse.vmdk', /twice \(a grain lies where/, ON_READ, (p) => {
    const { b, gt } = vmdkLayout(p);
    patch(p, gt + 4, b.subarray(gt, gt + 4));
  }),
  hostile('grain-over-gt.vmdk', 'sparse.vmdk', /twice \(a grain lies where/, ON_READ, (p) => patch(p, vmdkLayout(p).gt, le32(vmdkLayout(p).gt / 512))),
  hostile('shared-block.vhd', 'dynamic.vhd', /twice \(a data block lies where/, AT_OPEN, (p) => {
    const b = readFileSync(p);
    const bat = u64be(b, u64be(b, 16) + 16);
    const first = [...Array(8).keys()].find((i) => b.readUInt32BE(bat + i * 4) !== 0xffffffff)!;
    patch(p, bat + (first + 1) * 4, b.subarray(bat + first * 4, bat + first * 4 + 4));
  }),
  hostile('shared-block.vhdx', 'b1m.vhdx', /twice \(a data block lies where/, ON_READ, (p) => {
    const b = readFileSync(p);
    const regions = 192 * 1024;
    let bat = 0;
    for (let i = 0; i < b.readUInt32LE(regions + 8); i++) {
      const at = regions + 16 + i * 32;
      if (b.readUInt32LE(at) === 0x2dc27766) bat = Number(b.readBigUInt64LE(at + 16));
    }
    patch(p, bat + 8, b.subarray(bat, bat + 8));
  }),
  hostile('shared-block.vdi', 'dynamic.vdi', /twice \(a data block lies where/, ON_READ, (p) => {
    const b = readFileSync(p);
    const map = b.readUInt32LE(0x154);
    patch(p, map + 4, b.subarray(map, map + 4));
  }),
];

describe('tables that hand out one place twice', () => {
  it.each(HOSTILE.map((h) => [h.name, h] as const))('%s is refused with a sentence', async (name, h) => {
    const e = await refusalOf(cached(`hostile-${name}`, h.make), 'allocated');
    expectRefusal(e, name, { ...h, code: 'corrupt' });
    expect(e!.message).toMatch(/Check it with `qemu-img check`/);
  });
});
