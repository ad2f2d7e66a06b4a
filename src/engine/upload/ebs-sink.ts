// PutSnapshotBlock for one snapshot through the real SDK client.
import { PutSnapshotBlockCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { BLOCK_SIZE } from '../../images/types.ts';
import type { BlockSink } from '../block-pipeline.ts';

/** A BlockSink that sends each block with its SHA-256 (the client adds UNSIGNED-PAYLOAD and Blob bodies; see aws/clients). A Blob body goes as is. */
export function ebsBlockSink(ebs: EBSClient, snapshotId: string): BlockSink {
  return {
    async put(index, body, checksum) {
      await ebs.send(
        new PutSnapshotBlockCommand({
          SnapshotId: snapshotId,
          BlockIndex: index,
          BlockData: body,
          DataLength: BLOCK_SIZE,
          Checksum: checksum,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    },
  };
}
