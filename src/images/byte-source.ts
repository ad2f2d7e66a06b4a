import { ImageFormatError, type ByteSource, type ImageFormat, type Landed } from './types.ts';

/** A ByteSource over bytes already in memory (tests, small images). */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) {
      const start = Math.min(Math.max(0, offset), bytes.length);
      return bytes.subarray(start, Math.min(bytes.length, start + Math.max(0, length)));
    },
  };
}

/** ByteSource.readInto where the source has it; otherwise a read copied into target (same contract). */
export async function readIntoFrom(source: ByteSource, offset: number, target: Uint8Array, landed?: Landed): Promise<Uint8Array> {
  if (source.readInto) return source.readInto(offset, target, landed);
  const bytes = await source.read(offset, target.length);
  target.set(bytes);
  const out = target.subarray(0, bytes.length);
  landed?.(out, 0);
  return out;
}

/** A view of [offset, offset+length) of another source, e.g. a disk inside an OVA. */
export function subSource(source: ByteSource, offset: number, length: number): ByteSource {
  const size = Math.max(0, Math.min(length, source.size - offset));
  const within = (at: number) => offset + Math.min(Math.max(0, at), size);
  const slice = source.slice?.bind(source);
  const readInto = source.readInto?.bind(source);
  return {
    size,
    ...(slice ? { slice: (at: number, end: number) => slice(within(at), within(end)) } : {}),
    ...(readInto
      ? {
          readInto: (at: number, target: Uint8Array, landed?: Landed) => {
            const start = Math.min(Math.max(0, at), size);
            return readInto(offset + start, target.subarray(0, Math.max(0, Math.min(target.length, size - start))), landed);
          },
        }
      : {}),
    async read(at, n) {
      const start = Math.min(Math.max(0, at), size);
      const end = Math.min(size, start + Math.max(0, n));
      if (end <= start) return new Uint8Array(0);
      return source.read(offset + start, end - start);
    },
  };
}

/** Reads exactly [offset, offset+length) or throws a 'truncated' ImageFormatError naming what was being read. */
export async function readExact(
  source: ByteSource,
  offset: number,
  length: number,
  format: ImageFormat,
  what: string,
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > source.size) {
    throw truncated(format, what);
  }
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) throw truncated(format, what);
  return bytes;
}

/** The error for a file that ends before a structure it declares. */
export function truncated(format: ImageFormat, what: string): ImageFormatError {
  return new ImageFormatError(
    `This ${label(format)} file ends before its ${what}: it is truncated or damaged. Copy the image again (or check it with \`qemu-img check\`) and pick the complete file.`,
    format,
    'truncated',
  );
}

/** The error for a table or header that contradicts itself or the file. */
export function corrupt(format: ImageFormat, detail: string): ImageFormatError {
  return new ImageFormatError(
    `This ${label(format)} file is damaged: ${detail}. Check it with \`qemu-img check\` or export the disk again from its virtualization tool.`,
    format,
    'corrupt',
  );
}

/** A person-facing name of a format. */
export function label(format: ImageFormat): string {
  return { raw: 'raw', qcow2: 'qcow2', vmdk: 'VMDK', vhd: 'VHD', vhdx: 'VHDX', vdi: 'VDI', ova: 'OVA' }[format];
}

/** Largest virtual disk accepted: EBS volumes stop at 64 TiB. */
export const MAX_VIRTUAL_SIZE = 64 * 2 ** 40;

/** Refuses a virtual size that is not a positive safe integer or exceeds what EBS can hold. */
export function checkVirtualSize(format: ImageFormat, size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0) throw corrupt(format, `its header gives an impossible virtual size (${size} bytes)`);
  if (size > MAX_VIRTUAL_SIZE) {
    throw new ImageFormatError(
      `This ${label(format)} image declares a virtual disk of ${(size / 2 ** 40).toFixed(1)} TiB, more than the 64 TiB an EBS snapshot can hold; the header is likely damaged. Check it with \`qemu-img info\`, or shrink the disk (\`qemu-img resize --shrink\`) and pick it again.`,
      format,
      'too-large',
    );
  }
}
