import { describe, expect, it } from 'vitest';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { PutSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { createHash } from 'node:crypto';
import { BLOCK_SIZE } from '../../images/types.ts';
import { ResumeError, UploadError } from '../upload-types.ts';
import { memoryLedgerStore } from '../ledger.ts';
import { startJobSession, uploadInProcess } from './upload-image.ts';
import { bestSha256 } from '../block-digest.ts';
import { openImage } from '../../images/open-image.ts';
import { faultyEmulator, memorySource, readSnapshot, syntheticImage } from '../testing/upload-test-kit.ts';
import { stalledAtCompletion } from '../testing/stalled-completion.ts';

const conn = { kind: 'emulator' } as const;

function aggregateOf(image: Uint8Array, indices: number[]): string {
  const h = createHash('sha256');
  for (const i of indices) {
    const block = new Uint8Array(BLOCK_SIZE);
    block.set(image.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    h.update(createHash('sha256').update(block).digest());
  }
  return h.digest('base64');
}

describe('uploadInProcess', () => {
  it('uploads random, compressible and zero regions to a completed snapshot that reads back byte for byte', async () => {
    const image = syntheticImage([['random', 20], ['zero', 30], ['text', 10], ['zero', 5], ['random', 7]], 12345);
    const emu = faultyEmulator();
    const session = await uploadInProcess({ source: memorySource(image), name: 'disk.raw', lastModified: 1, connection: conn, clients: emu, options: { description: 'test' } });
    const report = await session.done;
    expect(report.state).toBe('completed');
    // 20 + 10 + 7 data blocks and the partial tail; 35 zero blocks skipped.
    const dataBlocks = [...Array(20).keys(), ...Array.from({ length: 10 }, (_, k) => 50 + k), ...Array.from({ length: 8 }, (_, k) => 65 + k)];
    expect(report.blocksWritten).toBe(38);
    expect(report.changedBlocksCount).toBe(38);
    expect(report.blocksSkipped).toBe(35);
    expect(report.volumeSizeGiB).toBe(1);
    expect(report.aggregateChecksum).toBe(aggregateOf(image, dataBlocks));
    const ec2 = await emu.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [report.snapshotId] }));
    expect(ec2.Snapshots?.[0]?.State).toBe('completed');
    expect(ec2.Snapshots?.[0]?.Description).toBe('test');
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
    expect(emu.counts.puts).toBe(38);
  });

  it('writes zero blocks on an encrypted snapshot (holes may not read back as zeros there)', async () => {
    const image = syntheticImage([['random', 3], ['zero', 4]]);
    const emu = faultyEmulator();
    const session = await uploadInProcess({ source: memorySource(image), name: 'e.raw', lastModified: 1, connection: conn, clients: emu, options: { encrypted: true } });
    const report = await session.done;
    expect(report.state).toBe('completed');
    expect(report.blocksWritten).toBe(7);
    expect(report.blocksSkipped).toBe(0);
  });

  it('survives 10% injected 500s and throttles and still completes byte-identical', async () => {
    const image = syntheticImage([['random', 60], ['zero', 10], ['text', 30]]);
    const emu = faultyEmulator({ errorRate: 0.05, throttleRate: 0.05 });
    const session = await uploadInProcess({ source: memorySource(image), name: 'f.raw', lastModified: 1, connection: conn, clients: emu, options: { concurrency: 8 } });
    const report = await session.done;
    expect(report.state).toBe('completed');
    expect(emu.counts.injected).toBeGreaterThan(0);
    expect(session.progress().retried).toBe(emu.counts.injected);
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
  });

  it('never retries a validation error and says what happened', async () => {
    const image = syntheticImage([['random', 4]]);
    const emu = faultyEmulator({ validationFailures: 1 });
    const store = memoryLedgerStore();
    const session = await uploadInProcess({ source: memorySource(image), name: 'v.raw', lastModified: 1, connection: conn, clients: emu, store, options: { concurrency: 1 } });
    const err = await session.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).code).toBe('validation');
    expect((err as Error).message).toMatch(/refused the request at block 0 .*Block data length/);
    const [job] = await store.listJobs();
    expect(job!.state).toBe('error');
    expect(job!.snapshotId).toMatch(/^snap-/);
  });

  it('refuses a volume smaller than the image with a sentence', async () => {
    const image = syntheticImage([['random', 2]]);
    await expect(
      uploadInProcess({ source: memorySource(image), name: 'x', lastModified: 1, connection: conn, clients: faultyEmulator(), options: { volumeSizeGiB: 0 } }),
    ).rejects.toThrow(/volume size 0 GiB is not valid/);
  });

  it('pauses, resumes and finishes; the ledger never loses an acknowledged block', async () => {
    const image = syntheticImage([['random', 64]]);
    // 25 ms per put, two in flight (0.8 s in all): the pause, asked for in the progress callback, lands long before the
    // last block even when a loaded machine delivers progress late.
    const emu = faultyEmulator({ latencyMs: 25 });
    const store = memoryLedgerStore();
    const session = await uploadInProcess({ source: memorySource(image), name: 'p.raw', lastModified: 1, connection: conn, clients: emu, store, options: { concurrency: 2, sliceBytes: 4 * 1048576 } });
    await new Promise<void>((r) => {
      const off = session.onProgress((p) => {
        if (p.writtenBlocks >= 10) {
          off();
          r(session.pause());
        }
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(session.progress().phase).toBe('paused');
    const [paused] = await store.listJobs();
    expect(paused!.state).toBe('paused');
    expect(paused!.counters.writtenBlocks).toBeGreaterThanOrEqual(10);
    expect(paused!.counters.writtenBlocks).toBeLessThan(64);
    session.resume();
    const report = await session.done;
    expect(report.state).toBe('completed');
    expect(report.blocksWritten).toBe(64);
    // A paused run sends nothing twice: puts = blocks.
    expect(emu.counts.puts).toBe(64);
  });

  it('resumes a job whose blocks were all acknowledged before completion by completing it, sending no block again', async () => {
    const image = syntheticImage([['random', 12], ['zero', 4], ['text', 4]]);
    const emu = faultyEmulator();
    const store = memoryLedgerStore();
    // The first session's CompleteSnapshot never answers: the tab closed while completing.
    const job = await stalledAtCompletion(image, emu, store);
    const putsBefore = emu.counts.puts;
    expect(putsBefore).toBe(16);

    const { sha256 } = await bestSha256();
    const resumed = await startJobSession(job, await openImage(memorySource(image)), { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: {} });
    const report = await resumed.done;
    expect(report.state).toBe('completed');
    expect(report.blocksWritten).toBe(16);
    expect(emu.counts.puts).toBe(putsBefore);
    expect((await store.getJob(job.id))!.state).toBe('completed');
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
  });

  it('refuses to resume a cancelled job with a sentence, and sends or records nothing', async () => {
    const image = syntheticImage([['random', 8]]);
    const emu = faultyEmulator({ latencyMs: 5 });
    const store = memoryLedgerStore();
    const session = await uploadInProcess({ source: memorySource(image), name: 'k.raw', lastModified: 1, connection: conn, clients: emu, store, options: { concurrency: 1 } });
    await new Promise<void>((r) => {
      const off = session.onProgress((p) => {
        if (p.writtenBlocks >= 2) {
          off();
          r();
        }
      });
    });
    await session.pause();
    // As a cancel whose DeleteSnapshot failed leaves it: cancelled, its snapshot still pending.
    const paused = (await store.listJobs())[0]!;
    await store.putJob({ ...paused, state: 'cancelled' });
    const job = (await store.getJob(paused.id))!;
    const puts = emu.counts.puts;

    const { sha256 } = await bestSha256();
    const err = await startJobSession(job, await openImage(memorySource(image)), { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResumeError);
    expect(err).toMatchObject({ action: 'restart', code: 'cancelled' });
    expect((err as Error).message).toBe(`This upload was cancelled, so it cannot be resumed (its snapshot ${job.snapshotId} was abandoned with it). Start a new upload of "k.raw".`);
    await new Promise((r) => setTimeout(r, 50));
    expect(emu.counts.puts).toBe(puts);
    expect(await store.getJob(job.id)).toEqual(job);
  });

  /** Starts a slow upload and cancels it once a few blocks are written; returns how `done` rejected. */
  async function cancelAfterSomeBlocks(emu: ReturnType<typeof faultyEmulator>, ec2: EC2Client) {
    const image = syntheticImage([['random', 48]]);
    const store = memoryLedgerStore();
    // Puts after the eighth wait until the cancel is asked for, so the upload cannot finish before it does; the
    // ninth put says that some blocks are written.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const someWritten = new Promise<void>((r) => (reached = r));
    let puts = 0;
    const ebs = new Proxy(emu.ebs, {
      get: (target, key) =>
        key === 'send'
          ? (command: unknown) => {
              if (!(command instanceof PutSnapshotBlockCommand) || ++puts <= 8) return target.send(command as never);
              reached();
              return held.then(() => target.send(command));
            }
          : Reflect.get(target, key),
    });
    const session = await uploadInProcess({ source: memorySource(image), name: 'x.raw', lastModified: 1, connection: conn, clients: { ebs, ec2 }, store, options: { concurrency: 2 } });
    await someWritten;
    // cancel() stops the pipelines before it first waits: the held puts may go on once it is asked for.
    const cancelling = session.cancel();
    release();
    await cancelling;
    const err = (await session.done.catch((e: unknown) => e)) as UploadError;
    const job = (await store.listJobs())[0]!;
    return { err, job, phase: session.progress().phase };
  }

  it('cancel deletes the pending snapshot through EC2 and records it on the job', async () => {
    const emu = faultyEmulator({ latencyMs: 5 });
    const { err, job, phase } = await cancelAfterSomeBlocks(emu, emu.ec2);
    expect(phase).toBe('cancelled');
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ code: 'cancelled', action: undefined });
    expect(err.message).toBe(`The upload was cancelled and its pending snapshot ${job.snapshotId} was deleted.`);
    expect(job).toMatchObject({ state: 'cancelled', snapshotDeleted: true });
    await expect(emu.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [job.snapshotId!] }))).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
  });

  it('cancel says so when the snapshot could not be deleted: still pending, counted against the limit, delete again', async () => {
    const emu = faultyEmulator({ latencyMs: 5 });
    // DescribeSnapshots answers; DeleteSnapshot never reaches the service.
    const offline = {
      send: (c: unknown) => (c instanceof DeleteSnapshotCommand ? Promise.reject(new TypeError('Failed to fetch')) : emu.ec2.send(c as never)),
    } as unknown as EC2Client;
    const { err, job } = await cancelAfterSomeBlocks(emu, offline);
    expect(err).toMatchObject({ name: 'UploadError', code: 'cancelled', action: 'discard' });
    expect(err.message).toMatch(new RegExp(`^The upload was cancelled\\. The pending snapshot ${job.snapshotId} could not be deleted: the service could not be reached`));
    expect(err.message).toMatch(/counts against the limit of 100 pending snapshots\.$/);
    expect(job.state).toBe('cancelled');
    expect(job.snapshotDeleted).toBeUndefined();
    expect(job.error).toBe(err.message.replace(/^The upload was cancelled\. /, ''));
    const s = await emu.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [job.snapshotId!] }));
    expect(s.Snapshots?.[0]?.State).toBe('pending');
  });
});
