// Node-only: makes disk images with qemu-img at test time. Imported by tests and benches only.
import { existsSync, readFileSync, renameSync, writeFileSync, openSync, writeSync, closeSync, statSync, ftruncateSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { zlibSync } from 'fflate';
import { BLOCK_SIZE } from '../types.ts';
import type { UploadManifest } from '../manifest.ts';

const MiB = 1024 * 1024;

export { cached, fixtureRoot, patch, prng, qemu, randomBytes, text, truncateFile } from '../../../fixtures/files.ts';
import { cached, prng, qemu, randomBytes, text } from '../../../fixtures/files.ts';

/** The raw source of the format fixtures: content at unaligned offsets, zero gaps, a compressible run. */
export function sourceRaw(sizeMiB = 64): string {
  return cached(`source-${sizeMiB}.raw`, (p) => {
    const size = sizeMiB * MiB;
    const rnd = prng(sizeMiB * 7919);
    const fd = openSync(p, 'w');
    try {
      ftruncateSync(fd, size);
      const put = (off: number, b: Buffer): void => {
        if (off < size) writeSync(fd, b, 0, Math.min(b.length, size - off), off);
      };
      put(0, randomBytes(512, rnd));
      put(1 * MiB, randomBytes(1 * MiB, rnd));
      put(5 * MiB + 4096, text(200 * 1024 + 123));
      put(10 * MiB + 512, randomBytes(512, rnd));
      if (size > 33 * MiB) put(29.5 * MiB + 1536, randomBytes(3 * MiB, rnd));
      if (size > 48 * MiB) put(45 * MiB + 777, text(700 * 1024));
      put(size - 512, randomBytes(512, rnd));
    } finally {
      closeSync(fd);
    }
  });
}

/** A fixture: name, qemu-img format name (for the oracle), and how to make it from the raw source. */
export interface FixtureSpec {
  name: string;
  /** qemu-img -f value for `convert -O raw` (the oracle). */
  qemuFormat: string;
  /** The fixture whose qemu-img output is this one's oracle (an OVA's inner disk). */
  oracleOf?: string;
  format: string;
  subformat?: string;
  make(path: string, src: string): void;
}

/** An offset given for the 64 MiB source, scaled to this source's size (whole MiB). */
const at = (src: string, mibOf64: number): number => Math.floor((statSync(src).size / (64 * MiB)) * mibOf64) * MiB;

const convert = (fmt: string, opts: string[] = []) => (p: string, src: string): void => {
  qemu('qemu-img', ['convert', '-f', 'raw', src, '-O', fmt, ...opts, p]);
};

/** Every readable format and subformat, made from the same raw source. */
export const FORMAT_FIXTURES: FixtureSpec[] = [
  { name: 'plain.raw', qemuFormat: 'raw', format: 'raw', make: (p, src) => writeFileSync(p, readFileSync(src)) },
  { name: 'v2.qcow2', qemuFormat: 'qcow2', format: 'qcow2', subformat: 'v2', make: convert('qcow2', ['-o', 'compat=0.10']) },
  { name: 'v3.qcow2', qemuFormat: 'qcow2', format: 'qcow2', subformat: 'v3', make: convert('qcow2') },
  { name: 'deflate.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-c']) },
  { name: 'zstd.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-c', '-o', 'compression_type=zstd']) },
  { name: 'c4k.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-o', 'cluster_size=4096']) },
  { name: 'c4k-deflate.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-c', '-o', 'cluster_size=4096']) },
  { name: 'c512.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-o', 'cluster_size=512']) },
  { name: 'c2m.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-o', 'cluster_size=2M']) },
  { name: 'c2m-zstd.qcow2', qemuFormat: 'qcow2', format: 'qcow2', make: convert('qcow2', ['-c', '-o', 'cluster_size=2M,compression_type=zstd']) },
  {
    name: 'extl2.qcow2',
    qemuFormat: 'qcow2',
    format: 'qcow2',
    make: (p, src) => {
      convert('qcow2', ['-o', 'extended_l2=on,cluster_size=128k'])(p, src);
      // Subcluster-sized writes and zeroes inside otherwise empty clusters.
      qemu('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x61 6M 4k', '-c', `write -P 0x62 ${6 * MiB + 12288} 8k`, '-c', `write -z ${MiB + 4096} 4k`, '-c', 'write -z 7M 256k', p]);
    },
  },
  {
    name: 'zero-flag.qcow2',
    qemuFormat: 'qcow2',
    format: 'qcow2',
    make: (p, src) => {
      convert('qcow2')(p, src);
      qemu('qemu-io', ['-f', 'qcow2', '-c', 'write -z 1M 64k', '-c', `write -z ${at(src, 20)} 1M`, '-c', `write -P 0 ${at(src, 40)} 512k`, p]);
    },
  },
  {
    name: 'snapshot.qcow2',
    qemuFormat: 'qcow2',
    format: 'qcow2',
    make: (p, src) => {
      convert('qcow2')(p, src);
      qemu('qemu-img', ['snapshot', '-c', 's1', p]);
      qemu('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a ${2 * MiB + 1024} 600k`, '-c', `write -z ${at(src, 29)} 2M`, p]);
    },
  },
  { name: 'sparse.vmdk', qemuFormat: 'vmdk', format: 'vmdk', subformat: 'monolithicSparse', make: convert('vmdk') },
  {
    name: 'zeroed-grain.vmdk',
    qemuFormat: 'vmdk',
    format: 'vmdk',
    subformat: 'monolithicSparse',
    make: (p, src) => {
      convert('vmdk', ['-o', 'zeroed_grain=on'])(p, src);
      qemu('qemu-io', ['-f', 'vmdk', '-c', 'write -z 1M 1M', '-c', `write -z ${at(src, 60)} 64k`, p]);
    },
  },
  { name: 'stream.vmdk', qemuFormat: 'vmdk', format: 'vmdk', subformat: 'streamOptimized', make: convert('vmdk', ['-o', 'subformat=streamOptimized']) },
  {
    name: 'vmware-stream.vmdk',
    qemuFormat: 'vmdk',
    format: 'vmdk',
    subformat: 'streamOptimized',
    make: (p, src) => writeFileSync(p, vmwareStreamOptimized(readFileSync(src), 256, 0x5eed)),
  },
  { name: 'fixed.vhd', qemuFormat: 'vpc', format: 'vhd', subformat: 'fixed', make: convert('vpc', ['-o', 'subformat=fixed,force_size=on']) },
  { name: 'dynamic.vhd', qemuFormat: 'vpc', format: 'vhd', subformat: 'dynamic', make: convert('vpc', ['-o', 'subformat=dynamic,force_size=on']) },
  { name: 'chs.vhd', qemuFormat: 'vpc', format: 'vhd', subformat: 'dynamic', make: convert('vpc', ['-o', 'subformat=dynamic']) },
  { name: 'dynamic.vhdx', qemuFormat: 'vhdx', format: 'vhdx', subformat: 'dynamic', make: convert('vhdx') },
  { name: 'b1m.vhdx', qemuFormat: 'vhdx', format: 'vhdx', subformat: 'dynamic', make: convert('vhdx', ['-o', 'block_size=1M']) },
  { name: 'fixed.vhdx', qemuFormat: 'vhdx', format: 'vhdx', subformat: 'fixed', make: convert('vhdx', ['-o', 'subformat=fixed']) },
  { name: 'dynamic.vdi', qemuFormat: 'vdi', format: 'vdi', subformat: 'dynamic', make: convert('vdi') },
  { name: 'static.vdi', qemuFormat: 'vdi', format: 'vdi', subformat: 'static', make: convert('vdi', ['-o', 'static=on']) },
  {
    name: 'appliance.ova',
    qemuFormat: 'vmdk',
    oracleOf: 'stream.vmdk',
    format: 'ova',
    subformat: 'vmdk streamOptimized',
    make: (p, src) => {
      const disk = fixture('stream.vmdk', src);
      writeFileSync(p, tar([
        { name: 'appliance.ovf', data: Buffer.from('<?xml version="1.0"?>\n<Envelope/>\n') },
        { name: 'appliance-disk1.vmdk', data: readFileSync(disk) },
        { name: 'appliance.mf', data: Buffer.from('SHA256(appliance-disk1.vmdk)= 00\n') },
      ]));
    },
  },
];

/** Path of a format fixture made from a raw source (default: the 64 MiB source). */
export function fixture(name: string, src = sourceRaw()): string {
  const spec = FORMAT_FIXTURES.find((f) => f.name === name);
  if (!spec) throw new Error(`no fixture ${name}`);
  const tag = src.includes('source-') ? src.slice(src.lastIndexOf('source-') + 7).replace('.raw', '') : 'x';
  return cached(`${tag}-${name}`, (p) => spec.make(p, src));
}

/** The oracle raw file of a named format fixture. */
export function fixtureOracle(name: string, src = sourceRaw()): string {
  const spec = FORMAT_FIXTURES.find((f) => f.name === name)!;
  if (spec.oracleOf) return fixtureOracle(spec.oracleOf, src);
  return oracleRaw(fixture(name, src), spec.qemuFormat);
}

/** qemu-img's raw rendering of an image: the oracle every reader is checked against. */
export function oracleRaw(path: string, qemuFormat: string): string {
  const out = `${path}.oracle.raw`;
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  if (qemuFormat === 'raw') writeFileSync(tmp, readFileSync(path));
  else qemu('qemu-img', ['convert', '-f', qemuFormat, '-O', 'raw', path, tmp]);
  renameSync(tmp, out);
  return out;
}

/** The upload manifest computed straight from raw bytes (the expected value for `inspect --json`). */
export function manifestOfRaw(raw: Uint8Array, format: string): Omit<UploadManifest, 'format'> & { format: string } {
  const blocks: Record<string, string> = {};
  const digests: Buffer[] = [];
  const zero = Buffer.alloc(BLOCK_SIZE);
  for (let i = 0; i * BLOCK_SIZE < raw.length; i++) {
    let block = Buffer.from(raw.buffer, raw.byteOffset + i * BLOCK_SIZE, Math.min(BLOCK_SIZE, raw.length - i * BLOCK_SIZE));
    if (block.length < BLOCK_SIZE) {
      block = Buffer.alloc(BLOCK_SIZE);
      block.set(raw.subarray(i * BLOCK_SIZE));
    }
    if (block.equals(zero)) continue;
    const d = createHash('sha256').update(block).digest();
    digests.push(d);
    blocks[String(i)] = d.toString('base64');
  }
  return {
    format,
    virtualSize: raw.length,
    blockSize: BLOCK_SIZE,
    volumeSizeGiB: Math.max(1, Math.ceil(raw.length / 2 ** 30)),
    allBlocksCount: Math.ceil(raw.length / BLOCK_SIZE),
    changedBlocksCount: digests.length,
    aggregateChecksum: createHash('sha256').update(Buffer.concat(digests)).digest('base64'),
    blocks,
  };
}

/** A minimal ustar archive (what an OVA is). */
export function tar(entries: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(e.data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(h, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The 512-byte header of a sparse VMDK extent (version 3, compressed grains, markers), fields as given. */
export function sparseVmdkHeader(f: { capacitySectors: number; grainSectors: number; overHead: number; descriptorAt?: number; descriptorSectors?: number; gtes?: number; gdOffset?: bigint }): Buffer {
  const h = Buffer.alloc(512);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(3, 4);
  h.writeUInt32LE(0x30001, 8);
  h.writeBigUInt64LE(BigInt(f.capacitySectors), 12);
  h.writeBigUInt64LE(BigInt(f.grainSectors), 20);
  h.writeBigUInt64LE(BigInt(f.descriptorAt ?? 0), 28);
  h.writeBigUInt64LE(BigInt(f.descriptorSectors ?? 0), 36);
  h.writeUInt32LE(f.gtes ?? 512, 44);
  h.writeBigUInt64LE(0n, 48);
  h.writeBigUInt64LE(f.gdOffset ?? 0n, 56);
  h.writeBigUInt64LE(BigInt(f.overHead), 64);
  h.write('\n \r\n', 73, 'latin1');
  h.writeUInt16LE(1, 77);
  return h;
}

/**
 * A streamOptimized VMDK laid out the way VMware writes it: header with gdOffset = GD_AT_END, grains with markers
 * (in a shuffled LBA order unless `ordered`), GT and GD each after a metadata marker, then footer marker, footer and
 * end-of-stream.
 */
export function vmwareStreamOptimized(raw: Buffer, grainSectors: number, seed: number, ordered = false): Buffer {
  const capacity = Math.ceil(raw.length / 512);
  const grainBytes = grainSectors * 512;
  const gtes = 512;
  const grains = Math.ceil(capacity / grainSectors);
  const gdEntries = Math.ceil(grains / gtes);
  const chunks: Buffer[] = [];
  let pos = 0;
  const emit = (b: Buffer): number => {
    const at = pos;
    const padded = Buffer.alloc(Math.ceil(b.length / 512) * 512);
    b.copy(padded);
    chunks.push(padded);
    pos += padded.length;
    return at / 512;
  };
  const descriptor = Buffer.alloc(512 * 2);
  descriptor.write(`# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="streamOptimized"\n\nRW ${capacity} SPARSE "vmware-stream.vmdk"\n\nddb.adapterType = "lsilogic"\n`);
  const header = (gdOffset: bigint): Buffer =>
    sparseVmdkHeader({ capacitySectors: capacity, grainSectors, descriptorAt: 1, descriptorSectors: 2, gtes, gdOffset, overHead: 3 });
  emit(header(0xffffffffffffffffn));
  emit(descriptor);
  const gt = new Uint32Array(gdEntries * gtes);
  const order = [...Array(grains).keys()];
  const rnd = prng(seed);
  for (let i = ordered ? 0 : order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const g of order) {
    const data = Buffer.alloc(grainBytes);
    raw.copy(data, 0, g * grainBytes, Math.min(raw.length, (g + 1) * grainBytes));
    if (data.every((b) => b === 0)) continue;
    const z = Buffer.from(zlibSync(data));
    const m = Buffer.alloc(12 + z.length);
    m.writeBigUInt64LE(BigInt(g * grainSectors), 0);
    m.writeUInt32LE(z.length, 8);
    z.copy(m, 12);
    gt[g] = emit(m);
  }
  const meta = (type: number, sectors: number): Buffer => {
    const b = Buffer.alloc(512);
    b.writeBigUInt64LE(BigInt(sectors), 0);
    b.writeUInt32LE(type, 12);
    return b;
  };
  const gd = Buffer.alloc(gdEntries * 4);
  for (let t = 0; t < gdEntries; t++) {
    emit(meta(1, (gtes * 4) / 512));
    const table = Buffer.from(gt.buffer, t * gtes * 4, gtes * 4);
    gd.writeUInt32LE(emit(Buffer.from(table)), t * 4);
  }
  emit(meta(2, Math.ceil(gd.length / 512)));
  const gdAt = emit(gd);
  emit(meta(3, 1));
  emit(header(BigInt(gdAt)));
  emit(meta(0, 0));
  return Buffer.concat(chunks);
}

/** Size of a file in bytes. */
export function fileSize(path: string): number {
  return statSync(path).size;
}
