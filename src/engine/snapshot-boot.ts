// How a completed snapshot boots, read from its blocks (EBS ListSnapshotBlocks + GetSnapshotBlock), for Create AMI
// from the Library where no image file is at hand. Only the few blocks detection touches are fetched.
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { detectBootOf, type BootInfo } from '../images/boot/detect-boot.ts';
import { checkNitroOf, type NitroFinding } from '../images/boot/nitro-check.ts';
import type { DiskReader } from '../images/boot/disk-reader.ts';
import { BLOCK_SIZE } from '../images/types.ts';

/** A DiskReader over a snapshot's blocks; blocks never written read as zeros. */
export function snapshotDisk(ebs: EBSClient, snapshotId: string, volumeSizeGiB: number, cacheBlocks = 32): DiskReader {
  const cache = new Map<number, Promise<Uint8Array>>();
  const fetchBlock = async (index: number): Promise<Uint8Array> => {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, StartingBlockIndex: index, MaxResults: 100 }));
    const b = page.Blocks?.find((x) => x.BlockIndex === index);
    if (!b?.BlockToken) return new Uint8Array(BLOCK_SIZE);
    const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: b.BlockToken }));
    return got.BlockData!.transformToByteArray();
  };
  const block = (i: number): Promise<Uint8Array> => {
    let p = cache.get(i);
    if (!p) {
      p = fetchBlock(i);
      cache.set(i, p);
      if (cache.size > cacheBlocks) cache.delete(cache.keys().next().value!);
    }
    return p;
  };
  const size = volumeSizeGiB * 1024 ** 3;
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const at = offset + done;
        const i = Math.floor(at / BLOCK_SIZE);
        const within = at - i * BLOCK_SIZE;
        const n = Math.min(length - done, BLOCK_SIZE - within);
        if (at < size) out.set((await block(i)).subarray(within, within + n), done);
        done += n;
      }
      return out;
    },
  };
}

/** Boot detection and Nitro findings of a completed snapshot. */
export async function inspectSnapshotBoot(ebs: EBSClient, snapshotId: string, volumeSizeGiB: number): Promise<{ boot: BootInfo; nitro: NitroFinding[] }> {
  const disk = snapshotDisk(ebs, snapshotId, volumeSizeGiB);
  return { boot: await detectBootOf(disk), nitro: await checkNitroOf(disk) };
}
