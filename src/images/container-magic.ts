// Recognising a container by its first bytes: light enough for the main thread (no decoder is loaded).
import { isTarHeader } from './ova.ts';
import { isZip } from './zip.ts';
import type { StreamCodec } from './stream-decoders.ts';
import { ImageFormatError } from './types.ts';

/** What a disk may be wrapped in, outermost first in a chain: compressed streams and archives. */
export type ContainerKind = StreamCodec | 'tar' | 'zip';

const MAGIC: [StreamCodec, number[]][] = [
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The container a file's first bytes announce, if any (never from its name). An OVA is a disk format, not a container. */
export function detectContainer(head: Uint8Array): ContainerKind | undefined {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) {
      // bzip2's "BZh" is followed by the block size digit 1–9.
      if (kind === 'bzip2' && !(head[3]! >= 0x31 && head[3]! <= 0x39)) continue;
      return kind;
    }
  }
  if (isZip(head)) return 'zip';
  if (head.length >= 512 && isTarHeader(head.subarray(0, 512))) return 'tar';
  return undefined;
}

/** The refusal when the unpacked disk would not fit where it is to be unpacked. */
export function spoolFull(need: number, room: number, where = 'memory'): ImageFormatError {
  return new ImageFormatError(
    `Unpacking this file needs ${(need / 2 ** 30).toFixed(1)} GiB but only ${(room / 2 ** 30).toFixed(1)} GiB is free in ${where}. Free some space, or unpack the disk yourself and pick it.`,
    undefined,
    'no-space',
  );
}

/** The containers from the disk outwards, for sentences: "tar in gzip". */
export function chainLabel(container: readonly string[]): string {
  return [...container].reverse().join(' in ');
}
