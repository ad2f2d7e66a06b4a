// Reads a completed snapshot back through the SDK and hashes every block (verification in tests and benchmarks).
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { BLOCK_SIZE } from '../../images/types.ts';
import { toBase64, webCryptoSha256 } from '../block-digest.ts';

/** base64 SHA-256 of each of blockCount blocks as a reader of the snapshot sees them (holes read as zeros). */
export async function snapshotBlockDigests(ebs: EBSClient, snapshotId: string, blockCount: number): Promise<{ digests: string[]; listed: number }> {
  const zero = toBase64(await webCryptoSha256(new Uint8Array(BLOCK_SIZE)));
  const digests: string[] = new Array<string>(blockCount).fill(zero);
  let listed = 0;
  let NextToken: string | undefined;
  do {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 1000, ...(NextToken ? { NextToken } : {}) }));
    for (const b of page.Blocks ?? []) {
      const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
      const bytes = await got.BlockData!.transformToByteArray();
      if (bytes.length !== BLOCK_SIZE) throw new Error(`block ${b.BlockIndex} has ${bytes.length} bytes`);
      digests[b.BlockIndex!] = toBase64(await webCryptoSha256(bytes));
      listed++;
    }
    NextToken = page.NextToken ?? undefined;
  } while (NextToken);
  return { digests, listed };
}
