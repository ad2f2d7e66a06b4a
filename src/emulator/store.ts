// The emulator's storage contract. All authoritative state lives here, so any number of models
// (tabs, workers, processes) over one database agree. Implementations: memory, IndexedDB, filesystem.
//
// Atomicity: every method marked ATOMIC must behave as if it ran alone (serialisable): read the
// current records, call the synchronous callback, and write the result, with no other writer in
// between, across every model that shares the database. Callbacks are pure and synchronous (they may
// be called again if an implementation retries) and must not be awaited across I/O.

/** EBS block size in bytes. */
export const BLOCK_SIZE = 524288;

/** A tag as stored. */
export interface StoredTag {
  key: string;
  value: string;
}

/** What CompleteSnapshot decided; the snapshot takes this state once `dueAt` has passed. */
export interface CompletionRecord {
  /** When CompleteSnapshot was accepted (ms since epoch, model clock). */
  requestedAt: number;
  /** When the snapshot leaves `pending` (ms). */
  dueAt: number;
  verdict: 'completed' | 'error';
  /** EC2 StateMessage when the verdict is `error`. */
  message: string | null;
}

/** One snapshot, as stored. The model derives the visible state from it and the clock. */
export interface SnapshotRecord {
  id: string;
  ownerId: string;
  /** GiB. */
  volumeSize: number;
  parentId: string | null;
  description: string | null;
  tags: StoredTag[];
  encrypted: boolean;
  kmsKeyArn: string | null;
  sseType: 'sse-ebs' | 'sse-kms' | 'none';
  timeoutMinutes: number;
  /** ms since epoch (model clock). */
  startTime: number;
  /** ms of the last accepted PutSnapshotBlock, null before the first. */
  lastWriteTime: number | null;
  clientToken: string | null;
  /** Canonical JSON of the StartSnapshot parameters, to tell a replay from a conflict. */
  requestFingerprint: string | null;
  completion: CompletionRecord | null;
  /** Set by an explicit cancel (e.g. timeout persisted); the model also derives timeouts lazily. */
  failure: { at: number; message: string } | null;
  /** Deleted through EC2 but kept (hidden) because a descendant still inherits its blocks. */
  deleted: boolean;
  /** Number of distinct block indices written to this snapshot (maintained by the store). */
  ownBlocks: number;
  /** Number of accepted PutSnapshotBlock calls (maintained by the store). */
  puts: number;
}

/** One EBS block device mapping of a machine image. */
export interface ImageMapping {
  deviceName: string;
  snapshotId: string | null;
  volumeSize: number;
  volumeType: string;
  deleteOnTermination: boolean;
  encrypted: boolean;
}

/** A machine image (AMI) registered over snapshots, as stored; the model derives `pending`/`available` from the clock. */
export interface ImageRecord {
  id: string;
  name: string;
  description: string | null;
  ownerId: string;
  /** ms since epoch (model clock). */
  creationDate: number;
  /** When the image leaves `pending` (ms, model clock). */
  availableAt: number;
  architecture: string;
  bootMode: string | null;
  rootDeviceName: string;
  enaSupport: boolean;
  imdsSupport: string | null;
  virtualizationType: string;
  mappings: ImageMapping[];
  tags: StoredTag[];
}

/** Result of an atomic image update: records to write, ids to remove, and a value to return. */
export interface ImageUpdate<T> {
  put?: ImageRecord[];
  remove?: string[];
  result: T;
}

/** A block written to one snapshot (inherited blocks have no record in the child). */
export interface BlockRecord {
  snapshotId: string;
  index: number;
  /** base64 SHA-256 of the 524288 bytes: the content address. */
  digest: string;
  /** How many times this index was put on this snapshot (re-sends counted). */
  puts: number;
  /** ms of the last put. */
  writtenAt: number;
}

/** One block to write. */
export interface PutBlockItem {
  snapshotId: string;
  index: number;
  /** base64 SHA-256 of `data`. */
  digest: string;
  data: Uint8Array;
  /** ms (model clock) recorded as `writtenAt`. */
  now: number;
  /**
   * Decides, atomically with the write, whether the put is allowed: given the current snapshot
   * record (undefined when absent), return the record to store (the store then bumps `puts`,
   * and `ownBlocks` if the index is new) or a rejection value that is handed back unchanged.
   */
  check: (snapshot: SnapshotRecord | undefined) => SnapshotRecord | StoreRejection;
}

/** A refusal produced by a check callback; the store returns it without writing. */
export interface StoreRejection {
  rejected: true;
  error: unknown;
}

/** Result of one put: the block record as written, or the check's rejection. */
export type PutBlockOutcome = { rejected: false; block: BlockRecord } | StoreRejection;

/** Result of an atomic snapshot update: records to write and a value to return. */
export interface SnapshotUpdate<T> {
  put?: SnapshotRecord[];
  result: T;
}

/** Space accounting: distinct contents are stored once. */
export interface StoreStats {
  /** Snapshot records, including hidden (deleted but still inherited) ones. */
  snapshots: number;
  /** Block records over all snapshots (a block shared by content counts once per snapshot). */
  blockRecords: number;
  /** Distinct block contents stored. */
  blobs: number;
  /** Bytes of distinct block contents stored. */
  bytes: number;
}

/** Storage behind the emulator model. */
export interface EmulatorStore {
  /** 'memory' | 'indexeddb' | 'fs' or another name, for display. */
  readonly kind: string;

  /** A 32-byte secret for token MACs, created once per database; ATOMIC (two first callers get the same key). */
  getSecret(): Promise<Uint8Array>;

  /** The record of one snapshot (deleted ones included), or undefined. A consistent read. */
  getSnapshot(id: string): Promise<SnapshotRecord | undefined>;

  /** Every snapshot record (deleted ones included). A consistent read. */
  listSnapshots(): Promise<SnapshotRecord[]>;

  /**
   * ATOMIC over all snapshot records: `fn` sees every record (deleted included) by id and returns
   * records to write (inserted or replaced whole) and a result. If `fn` throws, nothing is written and
   * the error propagates to the caller. Used for StartSnapshot (ClientToken, pending limit, parent
   * check) and CompleteSnapshot.
   */
  updateSnapshots<T>(fn: (all: ReadonlyMap<string, SnapshotRecord>) => SnapshotUpdate<T>): Promise<T>;

  /**
   * Writes blocks. Each item is ATOMIC on its own: its `check` runs against the snapshot record as
   * of the write, and the check, the snapshot record, the block record, the block content and its
   * reference count commit together. Implementations may group items into one transaction. The
   * promise resolves only once every write is durable (IndexedDB: transaction `complete`; files:
   * written and renamed/fsynced). Outcomes are in item order.
   */
  putBlocks(items: PutBlockItem[]): Promise<PutBlockOutcome[]>;

  /** The block written to this snapshot at this index (not inherited), or undefined. */
  getOwnBlock(snapshotId: string, index: number): Promise<BlockRecord | undefined>;

  /**
   * Blocks written to this snapshot (not inherited), ascending by index, with
   * fromIndex ≤ index ≤ toIndex (toIndex defaults to +∞), at most `limit` of them.
   */
  listOwnBlocks(snapshotId: string, fromIndex: number, limit: number, toIndex?: number): Promise<BlockRecord[]>;

  /** The content stored under a digest, or undefined when no block references it. */
  readContent(digest: string): Promise<Uint8Array | undefined>;

  /**
   * Optional: the block a lineage (ids, nearest first) has at `index` and the content stored under its digest, read
   * together; the same answer as getOwnBlock along the lineage then readContent, in one IndexedDB transaction.
   */
  readEffectiveBlock?(lineage: string[], index: number): Promise<{ block: BlockRecord; data: Uint8Array | undefined } | undefined>;

  /**
   * ATOMIC: marks the snapshot deleted, then removes every deleted snapshot that no live snapshot
   * descends from, with its block records, and frees contents no remaining block record uses.
   * Returns false when the snapshot does not exist or is already deleted.
   */
  deleteSnapshot(id: string): Promise<boolean>;

  /** Space accounting (a consistent read). */
  stats(): Promise<StoreStats>;

  /** Every machine image record (all accounts). A consistent read. */
  listImages(): Promise<ImageRecord[]>;

  /**
   * ATOMIC over all image records: `fn` sees every image by id and returns records to write (inserted or replaced
   * whole), ids to remove, and a result. If `fn` throws, nothing is written. Used for RegisterImage (name uniqueness)
   * and DeregisterImage.
   */
  updateImages<T>(fn: (all: ReadonlyMap<string, ImageRecord>) => ImageUpdate<T>): Promise<T>;

  /** Removes everything except the secret (images included). ATOMIC. */
  clear(): Promise<void>;

  /**
   * Calls `listener` after any committed write, including writes by other models on the same database
   * where the platform can tell (IndexedDB: BroadcastChannel). Returns an unsubscribe function.
   */
  subscribe(listener: () => void): () => void;

  /** Releases connections and channels. */
  close(): void;
}

/** True when a check callback returned a rejection rather than a record. */
export function isRejection(value: SnapshotRecord | StoreRejection | PutBlockOutcome): value is StoreRejection {
  return (value as StoreRejection).rejected === true;
}

/**
 * What an accepted put writes: its block record and the snapshot record `check` returned, with `puts` bumped and
 * `ownBlocks` too when the index is new (`prev`: the block this snapshot held at the index, if any).
 */
export function acceptedPut(
  item: PutBlockItem,
  decided: SnapshotRecord,
  prev: BlockRecord | undefined,
): { block: BlockRecord; snapshot: SnapshotRecord } {
  return {
    block: { snapshotId: item.snapshotId, index: item.index, digest: item.digest, puts: (prev?.puts ?? 0) + 1, writtenAt: item.now },
    snapshot: { ...decided, puts: decided.puts + 1, ownBlocks: decided.ownBlocks + (prev ? 0 : 1) },
  };
}

/** Live snapshots that still inherit from `id` (directly or through deleted ancestors). */
export function hasLiveDescendant(id: string, all: ReadonlyMap<string, SnapshotRecord>): boolean {
  for (const rec of all.values()) {
    if (rec.deleted) continue;
    for (let p = rec.parentId; p; p = all.get(p)?.parentId ?? null) if (p === id) return true;
  }
  return false;
}

/** Ids of deleted snapshots that no live snapshot inherits from: safe to remove with their blocks. */
export function collectableSnapshots(all: ReadonlyMap<string, SnapshotRecord>): string[] {
  return [...all.values()].filter((r) => r.deleted && !hasLiveDescendant(r.id, all)).map((r) => r.id);
}
