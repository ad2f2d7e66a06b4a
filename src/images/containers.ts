import { subSource } from './byte-source.ts';
import { sourceStream, type ByteStream } from './byte-stream.ts';
import { damaged, decodeStream, CODEC_LABEL, type StreamCodec } from './stream-decoders.ts';
import { xzDeclaredSize } from './xz-index.ts';
import { listTar, type TarEntry } from './ova.ts';
import { listZip, zipDataOffset, zipDamaged, type ZipEntry } from './zip.ts';
import { isQcow2 } from './qcow2.ts';
import { isVmdk } from './vmdk.ts';
import { isVhdx } from './vhdx.ts';
import { isVdi } from './vdi.ts';
import { isVhdFooter } from './vhd.ts';
import { MAX_VIRTUAL_SIZE } from './byte-source.ts';
import { ImageFormatError, type ByteSource } from './types.ts';
import { detectContainer, spoolFull, type ContainerKind } from './container-magic.ts';

export { detectContainer, spoolFull, type ContainerKind } from './container-magic.ts';

/** Containers wrapped in containers deeper than this are refused (a .vmdk.tar.gz is three). */
export const MAX_NESTING = 3;

// Unpacked output may exceed the 64 TiB disk by an archive's own overhead, not more.
const UNPACK_LIMIT = MAX_VIRTUAL_SIZE + 2 ** 30;

/** Where a compressed stream is unpacked so a reader can seek in it: OPFS in the browser, a temporary file in the CLI. */
export interface Spool {
  /**
   * Writes the stream to storage and returns it as a random-access source. `declaredSize` is what the container's
   * headers say the contents hold (checked against the quota before writing); `progress` is told of bytes written.
   */
  store(stream: ByteStream, opts: { declaredSize?: number; what: string; progress?: (written: number) => void }): Promise<ByteSource>;
  /** Frees everything stored. */
  dispose(): Promise<void>;
}

/** A disk found inside its containers. */
export interface Unwrapped {
  /** The disk's bytes, ready for openImage. */
  source: ByteSource;
  /** The containers around it, outermost first, e.g. ['gzip', 'tar']. */
  container: ContainerKind[];
  /** Things the person should know (other disks in an archive). */
  notices: string[];
}

export interface UnwrapOptions {
  spool: Spool;
  /** Told of unpacking progress: bytes written so far, the size declared (if any) and the share done (0–1). */
  progress?: (what: string, written: number, declared: number | undefined, fraction: number) => void;
}

/** Peels containers off a file, by content, until a disk image remains; refuses deeper nesting, bombs and damage. */
export async function unwrapContainers(source: ByteSource, opts: UnwrapOptions): Promise<Unwrapped> {
  const container: ContainerKind[] = [];
  const notices: string[] = [];
  let current = source;
  for (;;) {
    const head = await current.read(0, Math.min(current.size, 4096));
    const kind = detectContainer(head);
    if (!kind) return { source: current, container, notices };
    if (kind === 'tar' && (await isOva(current))) return { source: current, container, notices };
    if (container.length >= MAX_NESTING) throw tooDeep(container, kind);
    container.push(kind);
    if (kind === 'tar') {
      const src = current;
      const entries = await listTar(src, true);
      const pick = await chooseDisk(
        entries.map((e) => ({ name: e.name, size: e.size, open: () => tarEntry(src, e), head: () => src.read(e.offset, Math.min(e.size, 4096)) })),
        'tar',
      );
      if (pick.notice) notices.push(pick.notice);
      current = await pick.open();
    } else if (kind === 'zip') {
      const entries = await listZip(current);
      const src = current;
      const pick = await chooseDisk(
        entries.map((e) => ({
          name: e.name,
          size: e.size,
          open: () => zipEntry(src, e, opts),
          ...(e.method === 0 ? { head: async () => src.read(await zipDataOffset(src, e), Math.min(e.size, 4096)) } : {}),
        })),
        'zip',
      );
      if (pick.notice) notices.push(pick.notice);
      current = await pick.open();
    } else {
      // xz declares its unpacked size in its index: checked against the room first, and held to while unpacking.
      const declared = kind === 'xz' ? await xzDeclaredSize(current) : undefined;
      current = await unpack(decodeStream(kind, sourceStream(current)), opts, `${CODEC_LABEL[kind]} stream`, kind, current.size, declared);
    }
  }
}

/** The refusal of a container nested deeper than MAX_NESTING. */
export function tooDeep(container: readonly ContainerKind[], kind: ContainerKind): ImageFormatError {
  return new ImageFormatError(
    `This file is packed more than ${MAX_NESTING} levels deep (${[...container, kind].join(' in ')}…), which no disk image download needs and which Blockport refuses. Unpack it yourself and pick the disk image.`,
    undefined,
    'too-deep',
  );
}

/** An OVA is a tar whose entries include an .ovf descriptor; it stays whole for openImage. */
export async function isOva(source: ByteSource): Promise<boolean> {
  try {
    return (await listTar(source, true)).some((e) => /\.ovf$/i.test(e.name));
  } catch {
    return false;
  }
}

/** An archive entry that may be the disk. */
export interface Candidate {
  name: string;
  size: number;
  open(): Promise<ByteSource>;
  /** The entry's first bytes where they are cheap to read (stored entries), to recognise a small disk by content. */
  head?(): Promise<Uint8Array>;
}

/**
 * The disk in an archive: the largest entry of at least 1 MiB, or whose content is a disk format or a container
 * (a smaller disk); a notice names the other candidates.
 */
export async function chooseDisk(entries: Candidate[], kind: 'tar' | 'zip'): Promise<{ open(): Promise<ByteSource>; notice?: string }> {
  const disks: Candidate[] = [];
  for (const e of entries) {
    if (e.size === 0) continue;
    if (e.size >= 2 ** 20 || (e.head && looksLikeDisk(await e.head()))) disks.push(e);
  }
  disks.sort((a, b) => b.size - a.size);
  const best = disks[0];
  if (!best) {
    throw new ImageFormatError(
      `This ${kind} archive holds no disk image (${entries.length ? entries.map((e) => `"${e.name}"`).slice(0, 5).join(', ') : 'it is empty'}). Pick the archive that holds the disk, or the disk image itself.`,
      undefined,
      'no-disk',
    );
  }
  const others = disks.slice(1);
  return {
    open: () => best.open(),
    ...(others.length
      ? {
          notice: `This ${kind} archive holds ${disks.length} files that may be disks; the largest, "${best.name}", is used (the others: ${others
            .slice(0, 5)
            .map((d) => `"${d.name}"`)
            .join(', ')}${others.length > 5 ? ', …' : ''}). To use another, extract it and pick it.`,
        }
      : {}),
  };
}

/** True when an entry's first bytes are a disk format or a container (a disk smaller than 1 MiB still counts). */
export function looksLikeDisk(head: Uint8Array): boolean {
  return isQcow2(head) || isVmdk(head) || isVhdx(head) || isVdi(head) || isVhdFooter(head) || detectContainer(head) !== undefined;
}

async function tarEntry(archive: ByteSource, e: TarEntry): Promise<ByteSource> {
  return subSource(archive, e.offset, e.size);
}

async function zipEntry(archive: ByteSource, e: ZipEntry, opts: UnwrapOptions): Promise<ByteSource> {
  const data = await zipDataOffset(archive, e);
  if (e.method === 0) {
    if (e.compressedSize !== e.size) throw zipDamaged(`the stored file "${e.name}" gives two different sizes`);
    return subSource(archive, data, e.size);
  }
  if (e.method !== 8) {
    throw new ImageFormatError(
      `This zip archive compresses "${e.name}" with method ${e.method}; Blockport unpacks stored and deflate entries. Extract it with \`unzip\` or 7-Zip and pick the disk file.`,
      undefined,
      'unsupported',
    );
  }
  return unpack(decodeStream('deflate', sourceStream(archive, data, data + e.compressedSize), e.crc), opts, `"${e.name}"`, 'deflate', e.compressedSize, e.size);
}

/** Spools a decoded stream, holding it to what its container declares, or to the 64 TiB disk limit when it declares nothing. */
async function unpack(stream: ByteStream, opts: UnwrapOptions, what: string, codec: StreamCodec, inputSize: number, declaredSize?: number): Promise<ByteSource> {
  const bounded = declaredBounded(stream, codec, what, declaredSize);
  return opts.spool.store(bounded, {
    what,
    ...(declaredSize !== undefined ? { declaredSize } : {}),
    progress: (n) => opts.progress?.(what, n, declaredSize, declaredSize ? n / declaredSize : (stream.consumed?.() ?? 0) / Math.max(1, inputSize)),
  });
}

/**
 * A decoded stream held to what its container declares (the exact size: no more, no less), or to the 64 TiB disk
 * limit when it declares nothing.
 */
export function declaredBounded(stream: ByteStream, codec: StreamCodec, what: string, declaredSize?: number): ByteStream {
  const limit = declaredSize ?? UNPACK_LIMIT;
  // zip entries declare their size in the archive's directory, xz streams in their index.
  const mismatch = (detail: string, code?: string) => (codec === 'deflate' ? zipDamaged(detail, code) : damaged(codec, detail, code));
  let written = 0;
  return {
    async next() {
      const c = await stream.next();
      if (!c) {
        if (declaredSize !== undefined && written !== declaredSize) {
          throw mismatch(`${what} unpacks to ${written} bytes where its header says ${declaredSize}`, 'truncated');
        }
        return null;
      }
      written += c.length;
      if (written > limit) {
        await stream.cancel();
        if (declaredSize !== undefined) throw mismatch(`${what} unpacks to more than the ${declaredSize} bytes its header declares`);
        throw new ImageFormatError(
          `This ${CODEC_LABEL[codec]} file unpacks to more than 64 TiB, more than any EBS snapshot can hold; it is not a disk image Blockport can upload (or it is a decompression bomb). Pick the disk image itself.`,
          undefined,
          'too-large',
        );
      }
      return c;
    },
    cancel: () => stream.cancel(),
    ...(stream.consumed ? { consumed: stream.consumed } : {}),
  };
}

/** A spool in memory, up to a limit (tests, fuzzing, small files). */
export function memorySpool(limit = 256 * 1024 * 1024): Spool {
  return {
    async store(stream, { declaredSize, progress }) {
      if (declaredSize !== undefined && declaredSize > limit) throw spoolFull(declaredSize, limit);
      const parts: Uint8Array[] = [];
      let n = 0;
      for (let c = await stream.next(); c; c = await stream.next()) {
        n += c.length;
        if (n > limit) {
          await stream.cancel();
          throw spoolFull(n, limit);
        }
        parts.push(c);
        progress?.(n);
      }
      const all = new Uint8Array(n);
      let at = 0;
      for (const p of parts) (all.set(p, at), (at += p.length));
      return {
        size: n,
        read: async (offset, length) => all.subarray(Math.min(offset, n), Math.min(n, offset + length)),
      };
    },
    async dispose() {},
  };
}
