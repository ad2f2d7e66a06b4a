import { ListChangedBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { withReadLag, type ReadLag } from './download/download-blocks.ts';
import { DownloadError, isAbort, isStaleToken, serviceFault } from './download/download-error.ts';

/** Where a changed block lives: written only in the first snapshot, only in the second, or in both with different writes. */
export type ChangeSide = 'first' | 'second' | 'both';

/** Side codes in ComparisonResult.sides: 1 first only, 2 second only, 3 both. */
export const SIDE_CODE: Record<ChangeSide, number> = { first: 1, second: 2, both: 3 };

/** The differences between two snapshots of one lineage, as ListChangedBlocks reports them. */
export interface Comparison {
  firstSnapshotId: string;
  secondSnapshotId: string;
  /** GiB, from the second snapshot. */
  volumeSize: number;
  blockSize: number;
  /** Changed block indices, ascending. */
  indices: Uint32Array;
  /** One side code per entry of indices (SIDE_CODE). */
  sides: Uint8Array;
  counts: { first: number; second: number; both: number; total: number };
  /** total × blockSize. */
  changedBytes: number;
}

/** Options for compareSnapshots. */
export interface CompareOptions extends ReadLag {
  ebs: EBSClient;
  firstSnapshotId: string;
  secondSnapshotId: string;
  /** MaxResults per page (100–10000); default 10000. */
  pageSize?: number;
  /** Called after each page with the number of changed blocks found so far. */
  onPage?: (found: number) => void;
}

/** Lists every changed block between two snapshots, page by page; unrelated snapshots get the service's sentence. */
export async function compareSnapshots(opts: CompareOptions): Promise<Comparison> {
  const { ebs, firstSnapshotId, secondSnapshotId, signal } = opts;
  const indices: number[] = [];
  const sides: number[] = [];
  let volumeSize = 0;
  let blockSize = 524288;
  let next: string | undefined;
  let from = 0;
  for (;;) {
    let out;
    try {
      const token = next;
      out = await withReadLag(
        secondSnapshotId,
        () =>
          ebs.send(
            new ListChangedBlocksCommand({
              FirstSnapshotId: firstSnapshotId,
              SecondSnapshotId: secondSnapshotId,
              MaxResults: opts.pageSize ?? 10000,
              ...(token ? { NextToken: token } : { StartingBlockIndex: from }),
            }),
            { abortSignal: signal },
          ),
        opts,
      );
    } catch (err) {
      if (next && isStaleToken(err, 'page')) {
        next = undefined;
        continue;
      }
      if (err instanceof DownloadError) throw err;
      if (isAbort(err, signal)) throw new DownloadError('The comparison was cancelled.', 'cancelled', err);
      const f = serviceFault(err);
      if (f.reason === 'UNRELATED_SNAPSHOTS') {
        throw new DownloadError(
          `${f.message}. Only snapshots of one lineage (a snapshot and its descendants or siblings) can be compared.`,
          'unrelated',
          err,
        );
      }
      throw err;
    }
    volumeSize = out.VolumeSize ?? volumeSize;
    blockSize = out.BlockSize ?? blockSize;
    for (const b of out.ChangedBlocks ?? []) {
      const i = b.BlockIndex ?? 0;
      indices.push(i);
      sides.push(b.FirstBlockToken && b.SecondBlockToken ? 3 : b.FirstBlockToken ? 1 : 2);
      from = i + 1;
    }
    opts.onPage?.(indices.length);
    if (!out.NextToken) break;
    next = out.NextToken;
  }
  const s = Uint8Array.from(sides);
  const counts = { first: 0, second: 0, both: 0, total: s.length };
  for (const v of s) {
    if (v === 1) counts.first++;
    else if (v === 2) counts.second++;
    else counts.both++;
  }
  return {
    firstSnapshotId,
    secondSnapshotId,
    volumeSize,
    blockSize,
    indices: Uint32Array.from(indices),
    sides: s,
    counts,
    changedBytes: s.length * blockSize,
  };
}

/** The side of entry k, as a word. */
export function sideOf(code: number): ChangeSide {
  return code === 1 ? 'first' : code === 2 ? 'second' : 'both';
}
