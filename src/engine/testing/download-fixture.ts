// Test and bench fixture: writes a snapshot through the real EBS SDK calls (Start, Put, Complete) and waits for it.
import { CompleteSnapshotCommand, GetSnapshotBlockCommand, ListChangedBlocksCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { sha256, toBase64 } from '../download/download-digest.ts';
import { listBlocks } from '../download/download-blocks.ts';

const BS = 524288;

/** A block whose bytes are derived from seed (distinct seeds, distinct content). */
export function patternBlock(seed: number): Uint8Array {
  const b = new Uint8Array(BS);
  const v = new DataView(b.buffer);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < BS; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v.setUint32(i, x >>> 0, true);
  }
  return b;
}

/** Creates a completed snapshot holding blocks (index → 512 KiB), optionally as a child of parentSnapshotId. */
export async function writeSnapshot(
  ebs: EBSClient,
  blocks: Map<number, Uint8Array>,
  opts: { volumeSizeGiB?: number; parentSnapshotId?: string; description?: string } = {},
): Promise<string> {
  const start = await ebs.send(
    new StartSnapshotCommand({
      VolumeSize: opts.volumeSizeGiB ?? 1,
      ParentSnapshotId: opts.parentSnapshotId,
      Description: opts.description,
      Timeout: 60,
    }),
  );
  const id = start.SnapshotId!;
  const order = [...blocks.keys()].sort((a, b) => a - b);
  const digests: Uint8Array[] = [];
  for (const i of order) {
    const data = blocks.get(i)!;
    const d = await sha256(data);
    digests.push(d);
    await ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: id,
        BlockIndex: i,
        BlockData: data,
        DataLength: BS,
        Checksum: toBase64(d),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  }
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, k) => all.set(d, k * 32));
  await ebs.send(
    new CompleteSnapshotCommand({
      SnapshotId: id,
      ChangedBlocksCount: order.length,
      Checksum: toBase64(await sha256(all)),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  await waitReadable(ebs, id);
  return id;
}

/** Waits until the snapshot's blocks can be listed (it reached `completed`). */
export async function waitReadable(ebs: EBSClient, id: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 100 }));
      return;
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException' || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

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

/** Raw GetSnapshotBlock through the SDK, inFlight at a time, bodies read and dropped (a bench ceiling); MiB/s. */
export async function rawReadMiBps(ebs: EBSClient, id: string, inFlight: number): Promise<number> {
  const todo: { index: number; token: string }[] = [];
  for await (const p of listBlocks(ebs, id, { pageSize: 10000 })) todo.push(...p.blocks);
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < todo.length) {
        const b = todo[next++]!;
        const out = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: b.index, BlockToken: b.token }));
        bytes += (await out.BlockData!.transformToByteArray()).length;
      }
    }),
  );
  return bytes / 1048576 / ((performance.now() - t0) / 1000);
}
