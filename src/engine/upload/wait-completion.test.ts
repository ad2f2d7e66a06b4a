import { describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { createMemoryEmulator } from '../../emulator/index.ts';
import { toBase64, webCryptoSha256 } from '../block-digest.ts';
import { waitForCompletion } from './wait-completion.ts';

async function snapshotWithOneBlock(emu: ReturnType<typeof createMemoryEmulator>, aggregateOk: boolean) {
  const { SnapshotId } = await emu.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const block = new Uint8Array(524288).fill(7);
  const digest = await webCryptoSha256(block);
  await emu.ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 3, BlockData: block, DataLength: 524288, Checksum: toBase64(digest), ChecksumAlgorithm: 'SHA256' }));
  const aggregate = toBase64(await webCryptoSha256(aggregateOk ? digest : new Uint8Array(32)));
  await emu.ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 1, Checksum: aggregate, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }));
  return SnapshotId!;
}

describe('waitForCompletion', () => {
  it('waits through pending until EC2 says completed', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 300 });
    const id = await snapshotWithOneBlock(emu, true);
    expect(await waitForCompletion({ ebs: emu.ebs, ec2: emu.ec2, snapshotId: id })).toEqual({ state: 'completed' });
  });

  it("reports error with the service's state message on a wrong aggregate", async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 50 });
    const id = await snapshotWithOneBlock(emu, false);
    expect(await waitForCompletion({ ebs: emu.ebs, ec2: emu.ec2, snapshotId: id })).toEqual({ state: 'error', message: 'Checksum mismatch for snapshot' });
  });

  it('falls back to readable blocks without EC2', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 200 });
    const id = await snapshotWithOneBlock(emu, true);
    expect(await waitForCompletion({ ebs: emu.ebs, snapshotId: id })).toEqual({ state: 'completed' });
  });

  it('gives up with a sentence when the snapshot never completes in time', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 60_000 });
    const id = await snapshotWithOneBlock(emu, true);
    const v = await waitForCompletion({ ebs: emu.ebs, ec2: emu.ec2, snapshotId: id, maxWaitMs: 300 });
    expect(v.state).toBe('error');
    expect(v.message).toMatch(/did not reach 'completed' in time/);
  });
});
