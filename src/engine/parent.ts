import type { EBSClient } from '@aws-sdk/client-ebs';
import { listBlocks, type ReadLag } from './download/download-blocks.ts';
import { sha256 } from './download/download-digest.ts';
import { fetchBlock } from './download/download.ts';
import { manifestDigest, type Manifest, type ManifestStore } from './manifest.ts';

/** What a new version knows of its parent's content, block by block. */
export interface ParentBaseline {
  readonly parentSnapshotId: string;
  /** 'manifest' (recorded digests), 'read' (parent blocks fetched and hashed). */
  readonly kind: 'manifest' | 'read';
  /** Raw SHA-256 of the parent's block at index, or undefined when the parent has a hole there (zeros). */
  digestAt(index: number): Promise<Uint8Array | undefined>;
}

/** How an upload without a parent manifest learns the parent: read its blocks, or send every block. */
export type ParentFallback = 'read' | 'all';

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a block of the new version must be sent: its content differs from the parent's.
 * A zero block over a parent hole stays a hole; a zero block over parent data is sent as zeros.
 */
export async function differsFromParent(
  baseline: ParentBaseline,
  index: number,
  digest: Uint8Array,
  isZero: boolean,
): Promise<boolean> {
  const parent = await baseline.digestAt(index);
  if (parent === undefined) return !isZero;
  return !equal(parent, digest);
}

/** A baseline from the manifest recorded when the parent was uploaded. */
export function manifestBaseline(m: Manifest): ParentBaseline {
  return { parentSnapshotId: m.snapshotId, kind: 'manifest', digestAt: async (i) => manifestDigest(m, i) };
}

/** A baseline that reads the parent's blocks (GetSnapshotBlock, verified) and hashes them on demand. */
export async function readBaseline(ebs: EBSClient, parentSnapshotId: string, lag: ReadLag = {}): Promise<ParentBaseline> {
  const tokens = new Map<number, string>();
  for await (const page of listBlocks(ebs, parentSnapshotId, { ...lag, pageSize: 10000 })) {
    for (const b of page.blocks) tokens.set(b.index, b.token);
  }
  return {
    parentSnapshotId,
    kind: 'read',
    async digestAt(index) {
      const token = tokens.get(index);
      if (token === undefined) return undefined;
      return sha256(await fetchBlock(ebs, parentSnapshotId, { index, token }, lag));
    },
  };
}

/**
 * The baseline for an upload as a new version of parentSnapshotId: its manifest when Blockport recorded one,
 * otherwise per `fallback` the parent's blocks ('read') or none at all ('all': every block is sent).
 */
export async function parentBaseline(args: {
  ebs: EBSClient;
  parentSnapshotId: string;
  store?: ManifestStore;
  fallback?: ParentFallback;
  lag?: ReadLag;
}): Promise<ParentBaseline | undefined> {
  const m = await args.store?.get(args.parentSnapshotId);
  if (m) return manifestBaseline(m);
  if ((args.fallback ?? 'read') === 'read') return readBaseline(args.ebs, args.parentSnapshotId, args.lag);
  return undefined;
}

/** Reads every block of the parent (GetSnapshotBlock, verified, a few in flight) and returns the pipeline's arrays. */
export async function readParentArrays(
  ebs: EBSClient,
  parentSnapshotId: string,
  blockCount: number,
  opts: ReadLag & { concurrency?: number } = {},
): Promise<{ present: Uint8Array; digests: Uint8Array; blocksRead: number }> {
  const present = new Uint8Array(Math.ceil(blockCount / 8));
  const digests = new Uint8Array(blockCount * 32);
  const todo: { index: number; token: string }[] = [];
  for await (const page of listBlocks(ebs, parentSnapshotId, { ...opts, pageSize: 10000 })) {
    for (const b of page.blocks) if (b.index < blockCount) todo.push(b);
  }
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < todo.length) {
      const b = todo[next++]!;
      const d = await sha256(await fetchBlock(ebs, parentSnapshotId, b, opts));
      present[b.index >> 3]! |= 1 << (b.index & 7);
      digests.set(d, b.index * 32);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, lane));
  return { present, digests, blocksRead: todo.length };
}
