// A raw disk read front to back out of its containers (a decompressor, a tar entry in a stream): blocks are cut as the
// bytes come, nothing is unpacked to memory or disk, and a read behind the stream starts it again from the beginning.
import { memorySource, subSource } from './byte-source.ts';
import { xzLayout, xzTail } from './xz-index.ts';
import { le32, zstdSeekTable, ZSTD_FRAME_MAGIC } from './zstd-frames.ts';
import { sourceStream, type ByteStream } from './byte-stream.ts';
import { declaredBounded } from './containers.ts';
import { tarDamaged } from './ova.ts';
import { decodeStream, CODEC_LABEL, type StreamCodec } from './stream-decoders.ts';
import { BLOCK_SIZE, BlockState, ImageFormatError, type ByteSource, type DiskImage, type ImageFormat } from './types.ts';
import { streamOptimizedRaw } from './vmdk-stream.ts';

/** One step from the picked file towards the disk's bytes (structured-clone friendly: it is kept with the job). */
export type StreamStep =
  /** A part of what came before: an archive entry (its data, not its header). */
  | { op: 'range'; offset: number; length: number; name?: string }
  /** A compressed stream, decoded; `size` is what its container declares it unpacks to (held to exactly). */
  | { op: 'decode'; codec: StreamCodec; crc?: number; size?: number; name?: string }
  /** A streamOptimized VMDK, read marker by marker into the raw disk it holds. */
  | { op: 'vmdk' };

/** The disk format the steps end in: a streamOptimized VMDK read into its raw disk, or a raw disk. */
export function streamedFormat(steps: readonly StreamStep[]): { format: ImageFormat; subformat?: string } {
  return steps.some((s) => s.op === 'vmdk') ? { format: 'vmdk', subformat: 'streamOptimized' } : { format: 'raw' };
}

/**
 * The disk a packed file's steps lead to, read front to back as the pipeline asks (`label` names the packing in
 * sentences, e.g. "tar in xz file").
 */
export function streamedImage(file: ByteSource, steps: readonly StreamStep[], size: number, label?: string): StreamedImage {
  return streamedRawImage((from) => openSteps(file, steps, from, size), size, label, streamedFormat(steps));
}

/**
 * The bytes the steps lead to, read in order. Ranges before the first decode are cut from the file without reading it.
 * With `from`, the stream may begin before `from` rather than at 0 where the format can seek (its last step an xz file
 * of several blocks, or a zstd file with a seek table whose frames add up to `size`, the disk's planned size): its
 * `start()` says where.
 */
export function openSteps(file: ByteSource, steps: readonly StreamStep[], from = 0, size?: number): ByteStream {
  const last = steps.at(-1);
  if (from > 0 && last?.op === 'decode' && (last.codec === 'xz' || last.codec === 'zstd') && steps.slice(0, -1).every((s) => s.op === 'range')) {
    let random: ByteSource = file;
    for (const s of steps.slice(0, -1)) if (s.op === 'range') random = subSource(random, s.offset, s.length);
    const whole = () => openWhole(file, steps);
    return last.codec === 'xz' ? seekingXz(random, last, from, whole) : seekingZstd(random, last, from, size ?? last.size, whole);
  }
  return openWhole(file, steps);
}

/** A stream opened where `plan` says (its first byte's place in the disk), or whole when it finds no place to seek to. */
function seeking(plan: () => Promise<{ stream: ByteStream; begin: number } | undefined>, whole: () => ByteStream): ByteStream {
  let inner: ByteStream | null = null;
  let begin = 0;
  const ready = async (): Promise<ByteStream> => {
    if (inner) return inner;
    const found = await plan().catch(() => undefined);
    if (!found) return (inner = whole());
    begin = found.begin;
    return (inner = found.stream);
  };
  return {
    next: async () => (await ready()).next(),
    cancel: async () => void (await inner?.cancel()),
    start: async () => (await ready(), begin),
  };
}

/** Streams read one after the other. */
function joined(parts: ByteStream[]): ByteStream {
  return {
    async next() {
      while (parts.length) {
        const c = await parts[0]!.next();
        if (c) return c;
        parts.shift();
      }
      return null;
    },
    async cancel() {
      parts.length = 0;
    },
  };
}

/**
 * An xz stream opened at the last block that begins at or before `from`: the stream's header, the blocks from there,
 * and an index and footer made for them, so the decoder checks what it reads as it would the whole. Opened whole when
 * the file is not one stream of several blocks.
 */
function seekingXz(random: ByteSource, step: StreamStep & { op: 'decode' }, from: number, whole: () => ByteStream): ByteStream {
  return seeking(async () => {
    const layout = await xzLayout(random);
    const k = layout ? layout.blocks.findLastIndex((b) => b.start <= from) : -1;
    if (!layout || k <= 0) return undefined;
    const b = layout.blocks[k]!;
    const input = joined([sourceStream(memorySource(layout.header)), sourceStream(random, b.offset, layout.blocksEnd), sourceStream(memorySource(xzTail(layout, k)))]);
    const name = step.name ?? `${CODEC_LABEL.xz} stream`;
    const stream = declaredBounded(decodeStream('xz', input), 'xz', name, step.size !== undefined ? step.size - b.start : undefined);
    return { stream, begin: b.start };
  }, whole);
}

/**
 * A zstd file in the seekable format opened at the last frame that begins at or before `from` (frames are independent,
 * so the decoder reads from there as from a file's start, each frame checked against its checksum). The table is
 * trusted only as far as it can be held to: its frames must add up to the disk's planned size, the frame it names must
 * begin with a frame's magic, and what follows must unpack to exactly the rest of the disk (a table that lies about
 * what the frames before it unpack to is refused when the pass reaches the disk's end, so the snapshot is never
 * completed from it). Opened whole otherwise.
 */
function seekingZstd(random: ByteSource, step: StreamStep & { op: 'decode' }, from: number, size: number | undefined, whole: () => ByteStream): ByteStream {
  return seeking(async () => {
    if (size === undefined) return undefined;
    const table = await zstdSeekTable(random);
    if (!table || table.total !== size) return undefined;
    const k = table.frames.findLastIndex((f) => f.start <= from && f.compressed > 0);
    if (k <= 0) return undefined;
    const f = table.frames[k]!;
    const magic = await random.read(f.offset, 4);
    if (magic.length !== 4 || le32(magic, 0) !== ZSTD_FRAME_MAGIC) return undefined;
    const name = step.name ?? `${CODEC_LABEL.zstd} stream`;
    return { stream: declaredBounded(decodeStream('zstd', sourceStream(random, f.offset, random.size)), 'zstd', name, size - f.start), begin: f.start };
  }, whole);
}

function openWhole(file: ByteSource, steps: readonly StreamStep[]): ByteStream {
  let random: ByteSource = file;
  let stream: ByteStream | null = null;
  for (const step of steps) {
    if (step.op === 'range') {
      if (stream) stream = rangeStream(stream, step.offset, step.length, step.name ?? 'the disk');
      else random = subSource(random, step.offset, step.length);
    } else if (step.op === 'vmdk') {
      stream = streamOptimizedRaw(stream ?? sourceStream(random));
    } else {
      const decoded = decodeStream(step.codec, stream ?? sourceStream(random), step.crc);
      stream = declaredBounded(decoded, step.codec, step.name ?? `${CODEC_LABEL[step.codec]} stream`, step.size);
    }
  }
  return stream ?? sourceStream(random);
}

/**
 * The part [offset, offset+length) of a stream: a tar entry inside a compressed stream. Once the part has been given,
 * the rest is read and dropped, so the container's own checks (a gzip CRC, an xz index) still judge the whole.
 */
function rangeStream(inner: ByteStream, offset: number, length: number, name: string): ByteStream {
  let skipped = 0;
  let given = 0;
  let pending: Uint8Array | null = null;
  let drained = false;
  const cut = () => tarDamaged(`it ends inside the file "${name}"`, 'truncated');
  return {
    async next() {
      while (skipped < offset) {
        const c = await inner.next();
        if (!c) throw cut();
        if (skipped + c.length > offset) pending = c.subarray(offset - skipped);
        skipped = Math.min(offset, skipped + c.length);
      }
      if (given >= length) {
        if (!drained) {
          drained = true;
          while (await inner.next());
        }
        return null;
      }
      const c = pending ?? (await inner.next());
      pending = null;
      if (!c) throw cut();
      const out = c.subarray(0, length - given);
      given += out.length;
      return out;
    },
    cancel: () => inner.cancel(),
    ...(inner.consumed ? { consumed: inner.consumed } : {}),
  };
}

/** A raw disk read through a stream: what the pipeline reads, with how often the stream was started (tests). */
export interface StreamedImage extends DiskImage {
  /** Times the stream was opened: 1 for a run front to back, one more for each read behind it. */
  readonly opened: number;
  /** Stops the stream (frees its decoder). */
  close(): Promise<void>;
}

/**
 * A disk of `size` bytes whose raw bytes come from `open()` in order (`disk` says what format they were read out of). Reads are served in order from the stream, and
 * skipping forward (blocks acknowledged before a resume) decodes and drops; a read behind the stream opens it again.
 * At most one decoded piece is held besides the caller's buffer, whatever the disk's size.
 */
export function streamedRawImage(
  open: (from: number) => ByteStream,
  size: number,
  label = 'packed file',
  disk: { format: ImageFormat; subformat?: string } = { format: 'raw' },
): StreamedImage {
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new ImageFormatError(`The disk inside this ${label} is empty, so there is nothing to upload. Pick the disk image itself.`, 'raw', 'empty');
  }
  const blockCount = Math.ceil(size / BLOCK_SIZE);
  let stream: ByteStream | null = null;
  let pos = 0;
  let pending: Uint8Array | null = null;
  let opened = 0;
  // Reads run one at a time, in the order they were asked for.
  let queue: Promise<unknown> = Promise.resolve();
  const changed = (detail: string) =>
    new ImageFormatError(
      `The disk inside this ${label} ${detail} than the ${size} bytes planned, so the file changed since the upload was planned. Pick it again and start a new upload.`,
      disk.format,
      'corrupt',
    );

  const next = async (): Promise<Uint8Array | null> => {
    const c = pending ?? (await stream!.next());
    pending = null;
    return c;
  };

  const close = async (): Promise<void> => {
    const s = stream;
    stream = null;
    pending = null;
    pos = 0;
    await s?.cancel().catch(() => undefined);
  };

  /** Fills target with disk bytes [offset, offset + target.length), zeros past the disk's end. */
  const fill = async (offset: number, target: Uint8Array): Promise<void> => {
    if (!stream || offset < pos) {
      await close();
      // A stream that can seek begins at or before the offset asked for; others from the start.
      stream = open(offset);
      opened++;
      pos = (await stream.start?.()) ?? 0;
    }
    // Skipping forward: what lies between is decoded and dropped.
    while (pos < offset) {
      const c = await next();
      if (!c) throw changed('is shorter');
      const drop = Math.min(c.length, offset - pos);
      pos += drop;
      if (drop < c.length) pending = c.subarray(drop);
    }
    const want = Math.max(0, Math.min(target.length, size - offset));
    let got = 0;
    while (got < want) {
      const c = await next();
      if (!c) throw changed('is shorter');
      const take = Math.min(c.length, want - got);
      target.set(c.subarray(0, take), got);
      got += take;
      pos += take;
      if (take < c.length) pending = c.subarray(take);
    }
    target.fill(0, want);
    // At the disk's end the stream must end too; reading on lets the container check what it holds (CRCs, index).
    if (pos === size) {
      if (pending?.length || (await next())) throw changed('is longer');
      await close();
      pos = size;
    }
  };

  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  return {
    ...disk,
    virtualSize: size,
    blockCount,
    notices: [],
    get opened() {
      return opened;
    },
    close: () => serial(close),
    async blockStates() {
      return new Uint8Array(blockCount).fill(BlockState.Data);
    },
    readBlocks(first, count) {
      return serial(async () => {
        const out = new Uint8Array(count * BLOCK_SIZE);
        await fill(first * BLOCK_SIZE, out);
        return out;
      });
    },
    readBlocksInto(first, count, target) {
      return serial(async () => {
        const out = target.subarray(0, count * BLOCK_SIZE);
        await fill(first * BLOCK_SIZE, out);
        return out;
      });
    },
  };
}

/**
 * A raw disk of `size` bytes of which only the first `limit` bytes are read (into memory, as far as reads reach):
 * enough for the partition table and an EFI system partition near the start. A read past it throws.
 */
export function streamedHeadImage(open: () => ByteStream, size: number, limit = 64 * 1024 * 1024): DiskImage & { close(): Promise<void> } {
  const cap = Math.min(size, limit);
  let buf = new Uint8Array(0);
  let have = 0;
  let stream: ByteStream | null = null;
  const reach = async (end: number): Promise<void> => {
    if (end > cap) throw new RangeError(`only the first ${cap} bytes of the disk are read before the upload`);
    stream ??= open();
    while (have < end) {
      const c = await stream.next();
      if (!c) break;
      if (have + c.length > buf.length) {
        const grown = new Uint8Array(Math.min(cap, Math.max(buf.length * 2, have + c.length, 1 << 20)));
        grown.set(buf.subarray(0, have));
        buf = grown;
      }
      const take = Math.min(c.length, buf.length - have);
      buf.set(c.subarray(0, take), have);
      have += take;
      if (have >= cap) break;
    }
    if (have >= cap) await close();
  };
  const close = async (): Promise<void> => {
    const s = stream;
    stream = null;
    await s?.cancel().catch(() => undefined);
  };
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    const end = Math.min(size, offset + length);
    await reach(end);
    const out = new Uint8Array(length);
    out.set(buf.subarray(offset, Math.min(end, have)));
    return out;
  };
  const blockCount = Math.ceil(size / BLOCK_SIZE);
  return {
    format: 'raw',
    virtualSize: size,
    blockCount,
    notices: [],
    close,
    async blockStates() {
      return new Uint8Array(blockCount).fill(BlockState.Data);
    },
    readBlocks: (first, count) => read(first * BLOCK_SIZE, count * BLOCK_SIZE),
  };
}
