/** The unit of EBS direct APIs: every image is cut into blocks of this many bytes. */
export const BLOCK_SIZE = 524288;

/** Formats Blockport reads, detected by content, never by file name. */
export type ImageFormat = 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'ova';

/** Random-access bytes: a Blob/File in the browser, a file descriptor in Node. */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Bytes [offset, offset+length), shorter only where the source ends. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Bytes [offset, end) as a Blob that refers to the source without copying (Blob/File sources only). */
  slice?(offset: number, end: number): Blob;
  /**
   * Reads [offset, offset+target.length) into target's memory, so a caller can reuse one buffer for every read instead
   * of leaving a new one to the garbage collector each time. Returns the bytes read (shorter only where the source
   * ends) as a view at target's offset; its buffer may be a new one that took over target's memory (a BYOB stream
   * read transfers it), so the caller keeps the returned view's buffer, never target's.
   */
  readInto?(offset: number, target: Uint8Array, landed?: Landed): Promise<Uint8Array>;
}

/**
 * Told of each range of a readInto target as its bytes arrive (`bytes` is a view of them, `at` their offset in the
 * target), before the next range is read: a look at bytes that are still in the CPU's cache is nearly free.
 */
export type Landed = (bytes: Uint8Array, at: number) => void;

/** What a read learnt of each block's bytes while reading it (DiskImage.readBlocksInto's `scanned`). */
export const Scanned = {
  /** The reader did not look: the caller must. A new Uint8Array holds this. */
  NotScanned: 0,
  AllZero: 1,
  NonZero: 2,
} as const;

/** What a reader knows of a block without reading its data. */
export const BlockState = {
  /** Never written in the image: reads as zeros, nothing to send. */
  Unallocated: 0,
  /** Marked as zero by the format (qcow2 zero flag, VMDK zero grain, VDI zero block). */
  Zero: 1,
  /** Holds data (which may still turn out to be all zeros). */
  Data: 2,
} as const;
export type BlockState = (typeof BlockState)[keyof typeof BlockState];

/** A disk image opened for reading, whatever its format. */
export interface DiskImage {
  readonly format: ImageFormat;
  /** e.g. 'monolithicSparse', 'streamOptimized', 'dynamic', 'fixed', 'v3'. */
  readonly subformat?: string;
  /** Size of the virtual disk in bytes. */
  readonly virtualSize: number;
  /** ceil(virtualSize / BLOCK_SIZE). */
  readonly blockCount: number;
  /** Things the person should know (e.g. "internal snapshots exist; only the current state is uploaded"). */
  readonly notices: readonly string[];
  /** One BlockState per 512 KiB block, from the format's tables only (no data read). */
  blockStates(): Promise<Uint8Array>;
  /**
   * Virtual bytes of blocks [first, first+count) as one buffer of count × BLOCK_SIZE bytes;
   * past virtualSize and in unallocated or zero regions the bytes are zero. Reads are coalesced.
   */
  readBlocks(first: number, count: number): Promise<Uint8Array>;
  /**
   * readBlocks into target's memory (at least count × BLOCK_SIZE bytes, its content ignored): the same bytes as
   * readBlocks, as a view of count × BLOCK_SIZE bytes whose buffer the caller keeps for the next read (it may replace
   * target's, see ByteSource.readInto). Absent where the source cannot read into a buffer.
   * With `scanned` (count entries), a reader that looked at every byte as it arrived records Scanned.AllZero or
   * Scanned.NonZero per block; where it did not, the entries stay Scanned.NotScanned.
   */
  readBlocksInto?(first: number, count: number, target: Uint8Array, scanned?: Uint8Array): Promise<Uint8Array>;
  /**
   * Block `index` as a Blob over the file itself (no copy: slices of the file, zero runs from one shared zero Blob),
   * where the format stores the block uncompressed (raw, and allocated clusters of the other formats); null where it
   * must be inflated, absent for sources that are not Blobs. Browsers upload such a body straight from the file, so no
   * block bytes pile up in memory. `bytes`: the block as read, for a reader whose blocks have no file to slice.
   */
  blockBlob?(index: number, bytes?: Uint8Array): Blob | null | Promise<Blob | null>;
  /**
   * blockBlob's Blobs hold copies of the bytes read (`bytes`, kept until releaseBlock), not the file: a failed put has
   * no file to read again.
   */
  readonly blockBlobsKept?: boolean;
  /** The block's put was acknowledged or given up: what blockBlob kept for it can go. */
  releaseBlock?(index: number): void;
}

/** A file that cannot be read as a disk image, with a sentence for the person. */
export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
  constructor(
    message: string,
    /** The format detected, when the problem is inside a recognised file. */
    readonly format?: ImageFormat,
    /** A stable code for tests and UI: 'truncated', 'backing-file', 'encrypted', 'unsupported', 'corrupt', … */
    readonly code: string = 'corrupt',
  ) {
    super(message);
  }
}
