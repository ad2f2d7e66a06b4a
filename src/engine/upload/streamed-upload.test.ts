import { describe, expect, it } from 'vitest';
import { gzipSync } from 'fflate';
import { memorySource } from '../../images/byte-source.ts';
import { openSteps, streamedRawImage } from '../../images/streamed-raw.ts';
import { UploadError } from '../upload-types.ts';
import { memoryLedgerStore } from '../ledger.ts';
import { bestSha256 } from '../block-digest.ts';
import { startJobSession } from './upload-image.ts';
import { newJobRecord, resolveParams } from '../job-record.ts';
import { faultyEmulator, readSnapshot, syntheticImage } from '../testing/upload-test-kit.ts';

const gzipped = (bytes: Uint8Array) => memorySource(gzipSync(bytes, { level: 1 }));

describe('an upload of a raw disk streamed out of its decompressor', () => {
  it('a resumed upload decodes from the start and skips the blocks already acknowledged without sending them again', async () => {
    const disk = syntheticImage([['random', 40], ['text', 24]]);
    const file = gzipped(disk);
    const open = () => openSteps(file, [{ op: 'decode', codec: 'gzip' }]);
    // 25 ms per put, two in flight: the first session is stopped long before its last block.
    const emu = faultyEmulator({ latencyMs: 25 });
    const store = memoryLedgerStore();
    const { sha256 } = await bestSha256();
    const job = newJobRecord({ fingerprint: { name: 'd.raw.gz', size: 1, lastModified: 1, firstBlockSha256: '', lastBlockSha256: '' }, connection: { kind: 'emulator' }, params: resolveParams({}, disk.length), format: 'raw', virtualSize: disk.length, blockCount: 64, blocksToSend: 64 });
    await store.putJob(job);
    const first = await startJobSession(job, streamedRawImage(open, disk.length), { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: { concurrency: 2 } });
    await new Promise<void>((r) => {
      const off = first.onProgress((p) => {
        if (p.writtenBlocks >= 10) {
          off();
          r(first.release());
        }
      });
    });
    await expect(first.done).rejects.toBeInstanceOf(UploadError);
    const recorded = (await store.getJob(job.id))!;
    const sent = emu.counts.puts;
    expect(recorded.counters.writtenBlocks).toBeGreaterThanOrEqual(10);
    expect(recorded.counters.writtenBlocks).toBeLessThan(64);

    const image = streamedRawImage(open, disk.length);
    const reads: number[] = [];
    const readInto = image.readBlocksInto!.bind(image);
    image.readBlocksInto = (firstBlock, count, target, scanned) => (reads.push(firstBlock), readInto(firstBlock, count, target, scanned));
    const resumed = await startJobSession(recorded, image, { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: { concurrency: 2 } });
    const report = await resumed.done;
    expect(report).toMatchObject({ state: 'completed', blocksWritten: 64 });
    // Every block was sent once: the resumed session sent only what was not acknowledged.
    expect(emu.counts.puts).toBe(64);
    expect(emu.counts.puts - sent).toBe(64 - recorded.counters.writtenBlocks);
    // One stream, decoded from the start; the first read lands past what was acknowledged.
    expect(image.opened).toBe(1);
    expect(reads[0]).toBeGreaterThanOrEqual(10);
    const back = await readSnapshot(emu.reader, report.snapshotId, disk.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(disk))).toBe(0);
  });
});
