import { ImageFormatError } from './types.ts';

/** What Blockport needs from a VMDK text descriptor. */
export interface VmdkDescriptor {
  createType?: string;
  parentCID?: string;
  parentFileNameHint?: string;
  /** Extent lines, e.g. `RW 16384 SPARSE "disk.vmdk"`. */
  extents: string[];
}

/** Parses a VMDK descriptor (embedded or standalone); unknown lines are ignored. */
export function parseVmdkDescriptor(text: string): VmdkDescriptor {
  const d: VmdkDescriptor = { extents: [] };
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/\0.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    if (/^(RW|RDONLY|NOACCESS)\s/.test(line)) {
      d.extents.push(line);
      continue;
    }
    const m = /^([A-Za-z0-9_.]+)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'createType') d.createType = value;
    else if (key === 'parentCID') d.parentCID = value;
    else if (key === 'parentFileNameHint') d.parentFileNameHint = value;
  }
  return d;
}

/** Refuses child disks and multi-file layouts a single picked file cannot hold. */
export function refuseVmdkDescriptor(d: VmdkDescriptor, standalone: boolean): void {
  if (d.parentFileNameHint || (d.parentCID && d.parentCID.toLowerCase() !== 'ffffffff')) {
    throw new ImageFormatError(
      `This VMDK is a child (delta) disk of ${d.parentFileNameHint ? `"${d.parentFileNameHint}"` : 'another disk'}: it holds only changes, not a whole disk. Consolidate the snapshots in VMware, or run \`qemu-img convert -O vmdk -o subformat=streamOptimized child.vmdk whole.vmdk\` next to its parent, and pick the result.`,
      'vmdk',
      'backing-file',
    );
  }
  const type = d.createType ?? '';
  if (/^(monolithicFlat|vmfs|vmfsRaw|vmfsRDM|vmfsPassthroughRawDeviceMap|fullDevice|partitionedDevice)$/i.test(type)) {
    throw new ImageFormatError(
      `This is the small text descriptor of a ${type} VMDK; the disk's data lives in a separate file named in it (usually "…-flat.vmdk"), which is a raw image. Pick that data file instead.`,
      'vmdk',
      'multi-file',
    );
  }
  if (/^(twoGbMaxExtentSparse|twoGbMaxExtentFlat|vmfsSparse|vmfsThin|seSparse)$/i.test(type) || d.extents.length > 1) {
    throw new ImageFormatError(
      `This VMDK (${type || 'descriptor'}) is split across ${d.extents.length > 1 ? `${d.extents.length} extent files` : 'separate files'}, and a browser can read only the one file you pick. Join them into one file with \`qemu-img convert -O vmdk -o subformat=streamOptimized disk.vmdk whole.vmdk\` and pick the result.`,
      'vmdk',
      'multi-file',
    );
  }
  if (standalone) {
    throw new ImageFormatError(
      `This is a VMDK text descriptor${type ? ` (${type})` : ''} without the disk data. Pick the data file it names, or convert with \`qemu-img convert -O vmdk -o subformat=streamOptimized disk.vmdk whole.vmdk\`.`,
      'vmdk',
      'multi-file',
    );
  }
}

/** True when the bytes look like a VMDK text descriptor file. */
export function isVmdkDescriptor(head: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(head.subarray(0, 1024));
  return text.startsWith('# Disk DescriptorFile') || /^\s*(#[^\n]*\n\s*)*version\s*=\s*\d[\s\S]*createType\s*=/.test(text);
}
