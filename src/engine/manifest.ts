// What Blockport knows of a snapshot it made: the SHA-256 of every block, so the next version sends only differences.

/** Per-block digests of one snapshot's full content (inherited blocks included). */
export interface Manifest {
  snapshotId: string;
  parentSnapshotId?: string;
  volumeSizeGiB: number;
  blockSize: number;
  /** Size of the image that was uploaded, in bytes, when known (a download then restores exactly that size). */
  imageSize?: number;
  /** Block indices with content (written in this snapshot or an ancestor), ascending; absent = hole (zeros). */
  indices: Uint32Array;
  /** Raw 32-byte SHA-256 per entry of indices, concatenated. */
  digests: Uint8Array;
  /** ms since epoch. */
  created: number;
}

/** A block digest table as the upload engine produces it: index → raw SHA-256. */
export type BlockDigests = Map<number, Uint8Array> | Iterable<[number, Uint8Array]>;

/** Builds a manifest from the digests written to a snapshot, over its parent's manifest when there is one. */
export function buildManifest(args: {
  snapshotId: string;
  volumeSizeGiB: number;
  digests: BlockDigests;
  parent?: Manifest;
  imageSize?: number;
  blockSize?: number;
  created?: number;
}): Manifest {
  const merged = new Map<number, Uint8Array>();
  if (args.parent) for (let k = 0; k < args.parent.indices.length; k++) merged.set(args.parent.indices[k]!, args.parent.digests.subarray(k * 32, k * 32 + 32));
  for (const [i, d] of args.digests) {
    if (d.length !== 32) throw new Error(`manifest: digest of block ${i} has ${d.length} bytes, expected 32`);
    merged.set(i, d);
  }
  const indices = Uint32Array.from([...merged.keys()].sort((a, b) => a - b));
  const digests = new Uint8Array(indices.length * 32);
  indices.forEach((i, k) => digests.set(merged.get(i)!, k * 32));
  return {
    snapshotId: args.snapshotId,
    ...(args.parent ? { parentSnapshotId: args.parent.snapshotId } : {}),
    volumeSizeGiB: args.volumeSizeGiB,
    blockSize: args.blockSize ?? 524288,
    ...(args.imageSize !== undefined ? { imageSize: args.imageSize } : {}),
    indices,
    digests,
    created: args.created ?? Date.now(),
  };
}

/** The digest recorded for block index, or undefined when the snapshot has a hole there. */
export function manifestDigest(m: Manifest, index: number): Uint8Array | undefined {
  let lo = 0;
  let hi = m.indices.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = m.indices[mid]!;
    if (v === index) return m.digests.subarray(mid * 32, mid * 32 + 32);
    if (v < index) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** Where manifests are kept: IndexedDB in the browser, memory (or a file) elsewhere. */
export interface ManifestStore {
  get(snapshotId: string): Promise<Manifest | undefined>;
  put(m: Manifest): Promise<void>;
  delete(snapshotId: string): Promise<void>;
  list(): Promise<Manifest[]>;
}

/** A ManifestStore in memory (tests, the CLI without a state directory). */
export function memoryManifestStore(): ManifestStore {
  const map = new Map<string, Manifest>();
  return {
    get: async (id) => map.get(id),
    put: async (m) => void map.set(m.snapshotId, m),
    delete: async (id) => void map.delete(id),
    list: async () => [...map.values()],
  };
}
