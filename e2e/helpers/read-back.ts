// Reads a snapshot back from an emulator server in Node, through the SDK, and compares it with the image it came from.
import { createHash } from 'node:crypto';
import { expect } from '@playwright/test';
import { EBSClient, GetSnapshotBlockCommand, paginateListSnapshotBlocks } from '@aws-sdk/client-ebs';
import type { TestImage } from './disk-image.ts';

/** Every block of the snapshot equals the image's (an unlisted block reads as zeros), and none lies past its end. */
export async function expectSnapshotIsImage(endpoint: string, snapshotId: string, image: TestImage): Promise<void> {
  const ebs = new EBSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const listed = new Map<number, string>();
    for await (const page of paginateListSnapshotBlocks({ client: ebs }, { SnapshotId: snapshotId })) {
      for (const b of page.Blocks ?? []) listed.set(b.BlockIndex!, b.BlockToken!);
    }
    const zero = createHash('sha256').update(new Uint8Array(524288)).digest('base64');
    const mismatched: number[] = [];
    for (let i = 0; i < image.blockCount; i++) {
      const token = listed.get(i);
      let digest = zero;
      if (token) {
        const out = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: i, BlockToken: token }));
        digest = createHash('sha256').update(await out.BlockData!.transformToByteArray()).digest('base64');
      }
      if (digest !== image.digests[i]) mismatched.push(i);
    }
    expect(mismatched).toEqual([]);
    expect([...listed.keys()].filter((i) => i >= image.blockCount)).toEqual([]);
  } finally {
    ebs.destroy();
  }
}
