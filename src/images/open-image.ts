import { openRaw } from './raw.ts';
import { ImageFormatError, type ByteSource, type DiskImage, type ImageFormat } from './types.ts';
import { isQcow2, openQcow2 } from './qcow2.ts';
import { isOtherVmdkSparse, isVmdk, openVmdk } from './vmdk.ts';
import { isVmdkDescriptor, parseVmdkDescriptor, refuseVmdkDescriptor } from './vmdk-descriptor.ts';
import { isVhdFooter, openVhd } from './vhd.ts';
import { isVhdx, openVhdx } from './vhdx.ts';
import { isVdi, openVdi } from './vdi.ts';
import { entrySource, isTarHeader, listTar } from './ova.ts';

const WRAPPERS: [string, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
  ['7-Zip', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
];

/** Detects an image's format from its content (magic numbers, footer), never its name; refuses what it recognises but cannot read. */
export async function detectFormat(source: ByteSource): Promise<ImageFormat> {
  const head = await source.read(0, Math.min(source.size, 4096));
  if (head.length >= 4 && isQcow2(head)) return 'qcow2';
  if (head.length >= 4 && isVmdk(head)) return 'vmdk';
  const other = isOtherVmdkSparse(head);
  if (other) {
    throw new ImageFormatError(
      `This is a VMDK in the ${other} layout used by ESXi snapshots, which Blockport does not read. Convert it with \`qemu-img convert -O vmdk -o subformat=streamOptimized in.vmdk out.vmdk\` (or \`vmkfstools -i\`) and pick the result.`,
      'vmdk',
      'unsupported',
    );
  }
  if (isVmdkDescriptor(head)) {
    refuseVmdkDescriptor(parseVmdkDescriptor(new TextDecoder('latin1').decode(head)), true);
  }
  if (isVhdx(head)) return 'vhdx';
  if (isVhdFooter(head)) return 'vhd';
  if (isVdi(head)) return 'vdi';
  if (head.length >= 512 && isTarHeader(head.subarray(0, 512))) return 'ova';
  if (head.length >= 6 && head[0] === 0x4c && head[1] === 0x55 && head[2] === 0x4b && head[3] === 0x53 && head[4] === 0xba && head[5] === 0xbe) {
    throw new ImageFormatError(
      'This file is a LUKS-encrypted volume; Blockport cannot read encrypted images. Decrypt it first (e.g. `qemu-img convert --object secret,id=s,data=PASSPHRASE --image-opts driver=luks,file.filename=in.img,key-secret=s -O raw out.img`) and pick the result.',
      'raw',
      'encrypted',
    );
  }
  for (const [name, magic] of WRAPPERS) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) {
      throw new ImageFormatError(
        `This file is a ${name} archive, not a disk image. Extract the disk image from it first and pick that file.`,
        'raw',
        'compressed-file',
      );
    }
  }
  if (source.size >= 1024 && isVhdFooter(await source.read(source.size - 512, 512))) return 'vhd';
  return 'raw';
}

async function openDisk(source: ByteSource, format: ImageFormat): Promise<DiskImage> {
  switch (format) {
    case 'qcow2':
      return openQcow2(source);
    case 'vmdk':
      return openVmdk(source);
    case 'vhd':
      return openVhd(source);
    case 'vhdx':
      return openVhdx(source);
    case 'vdi':
      return openVdi(source);
    case 'ova':
      return openOva(source);
    case 'raw':
      return openRaw(source);
  }
}

async function openOva(source: ByteSource): Promise<DiskImage> {
  const disks: { name: string; image: DiskImage }[] = [];
  for (const e of await listTar(source)) {
    const sub = entrySource(source, e);
    let f: ImageFormat;
    try {
      f = await detectFormat(sub);
    } catch (err) {
      if (err instanceof ImageFormatError && err.code === 'compressed-file') {
        throw new ImageFormatError(
          `This OVA stores its disk "${e.name}" compressed, which Blockport does not unpack. Extract it (\`tar -xf appliance.ova\`, then decompress "${e.name}") and pick the disk file.`,
          'ova',
          'compressed-file',
        );
      }
      throw err;
    }
    // Descriptors (.ovf), manifests (.mf) and certificates read as raw: they are not disks.
    if (f === 'raw' || f === 'ova') continue;
    if (!disks.length) disks.push({ name: e.name, image: await openDisk(sub, f) });
    else disks.push({ name: e.name, image: disks[0]!.image });
  }
  const first = disks[0];
  if (!first) {
    throw new ImageFormatError(
      'This OVA archive holds no disk image Blockport recognises (no VMDK, VHD, VHDX, VDI or qcow2 inside). Export the appliance again, or extract its disk and pick that file.',
      'ova',
      'no-disk',
    );
  }
  const inner = first.image;
  const notices = [...inner.notices];
  if (disks.length > 1) {
    notices.unshift(
      `This OVA holds ${disks.length} disks (${disks.map((d) => d.name).join(', ')}); only the first, ${first.name}, is uploaded. To upload another, extract it from the archive and pick it.`,
    );
  }
  return {
    format: 'ova',
    subformat: inner.subformat ? `${inner.format} ${inner.subformat}` : inner.format,
    virtualSize: inner.virtualSize,
    blockCount: inner.blockCount,
    notices,
    blockStates: () => inner.blockStates(),
    readBlocks: (first, count) => inner.readBlocks(first, count),
    ...(inner.readBlocksInto ? { readBlocksInto: (first: number, count: number, target: Uint8Array, scanned?: Uint8Array) => inner.readBlocksInto!(first, count, target, scanned) } : {}),
    ...(inner.blockBlob ? { blockBlob: (index: number) => inner.blockBlob!(index) } : {}),
  };
}

/** Opens a disk image, detecting its format by content; throws ImageFormatError for what it refuses. */
export async function openImage(source: ByteSource): Promise<DiskImage> {
  if (source.size === 0) {
    throw new ImageFormatError('This file is empty, so there is no disk to upload. Pick the disk image file itself.', 'raw', 'empty');
  }
  return openDisk(source, await detectFormat(source));
}
