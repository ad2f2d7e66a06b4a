import { unwrapContainers, type ContainerKind, type UnwrapOptions } from './containers.ts';
import { openImage } from './open-image.ts';
import type { ByteSource, DiskImage } from './types.ts';

/** A disk image opened through the containers around it. */
export type PackedImage = DiskImage & {
  /** The containers peeled off, outermost first ([] for a bare image). */
  readonly container: readonly ContainerKind[];
};

/**
 * Opens a disk image that may be compressed (gzip, xz, zstd, bzip2) or inside an archive (tar, zip), nested up to
 * three deep, all recognised by content. Compressed streams are unpacked to the spool first.
 */
export async function openPackedImage(source: ByteSource, opts: UnwrapOptions): Promise<PackedImage> {
  const inner = await unwrapContainers(source, opts);
  const image = await openImage(inner.source);
  return { ...image, notices: [...inner.notices, ...image.notices], container: inner.container };
}
