// Test fixture: what the engine's read-side tests check against, straight through the SDK.
import { ListChangedBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';

export { patternBlock, waitReadable, writeSnapshot } from '../../../fixtures/snapshots.ts';

/** ListChangedBlocks straight through the SDK (no engine code), as index and side, for checking the engine. */
export async function rawChangedBlocks(ebs: EBSClient, first: string, second: string): Promise<{ index: number; side: 'first' | 'second' | 'both' }[]> {
  const out: { index: number; side: 'first' | 'second' | 'both' }[] = [];
  let next: string | undefined;
  do {
    const r = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: first, SecondSnapshotId: second, NextToken: next, MaxResults: 100 }));
    for (const c of r.ChangedBlocks ?? []) out.push({ index: c.BlockIndex!, side: c.FirstBlockToken && c.SecondBlockToken ? 'both' : c.FirstBlockToken ? 'first' : 'second' });
    next = r.NextToken ?? undefined;
  } while (next);
  return out;
}
