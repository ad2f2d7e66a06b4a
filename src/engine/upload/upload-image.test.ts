import { describe, expect, it } from 'vitest';
import { DeleteSnapshotCommand, DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ListSnapshotBlocksCommand, PutSnapshotBlockCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { createHash } from 'node:crypto';
import { BLOCK_SIZE } from '../../images/types.ts';
import { ResumeError, UploadError } from '../upload-types.ts';
import { memoryLedgerStore } from '../ledger.ts';
import { startJobSession, uploadInProcess } from './upload-image.ts';
import { bestSha256 } from '../block-digest.ts';
import { openImage } from '../../images/open-image.ts';
import { faultyEmulator, memorySource, readSnapshot, syntheticImage } from '../testing/upload-test-kit.ts';
import { stalledAtCompletion } from '../testing/stalled-completion.ts';
import { patternBlock, writeSnapshot } from '../testing/download-fixture.ts';

const conn = { kind: 'emulator' } as const;

async function listedIndices(ebs: EBSClient, snapshotId: string): Promise<number[]> {
  const out: number[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken, MaxResults: 10000 }));
    for (const b of page.Blocks ?? []) out.push(b.BlockIndex!);
    NextToken = page.NextToken ?? undefined;
  } while (NextToken);
  return out;
}

function aggregateOf(image: Uint8Array, indices: number[]): string {
  const h = createHash('sha256');
  for (const i of indices) {
    const block = new Uint8Array(BLOCK_SIZE);
    block.set(image.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    h.update(createHash('sha256').update(block).digest());
  }
  return h.digest('base64');
}

/**
 * Puts after the first `n` wait until `release()`, so an upload cannot finish before the test acts on it; the
 * first held put resolves `someWritten` (n blocks are written or in flight).
 */
function holdPutsAfter(target: EBSClient, n: number) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const someWritten = new Promise<void>((r) => (reached = r));
  let puts = 0;
  const ebs = new Proxy(target, {
    get: (t, key) =>
      key === 'send'
        ? (command: unknown) => {
            if (!(command instanceof PutSnapshotBlockCommand) || ++puts <= n) return t.send(command as never);
            reached();
            return held.then(() => t.send(command as never));
          }
        : Reflect.get(t, key),
  });
  return { ebs, someWritten, release };
}


/**
 * Uploads `image` with its puts held after the first `afterPuts`, then releases the session (as a tab handing over
 * does), so the job is left paused part way, however late the test gets to run. Returns the store and the job.
 */
async function releasedPartWay(emu: ReturnType<typeof faultyEmulator>, image: Uint8Array, name: string, options: Parameters<typeof uploadInProcess>[0]['options'], afterPuts = 4) {
  const store = memoryLedgerStore();
  const { ebs, someWritten, release } = holdPutsAfter(emu.ebs, afterPuts);
  const first = await uploadInProcess({ source: memorySource(image), name, lastModified: 1, connection: conn, clients: { ebs, ec2: emu.ec2 }, store, options });
  await someWritten;
  const releasing = first.release();
  release();
  await releasing;
  await first.done.catch(() => undefined);
  return { store, job: (await store.listJobs())[0]! };
}

describe('uploadInProcess', () => {
  it('writes every block by default, zero blocks included: all are listed and the snapshot reads back byte for byte', async () => {
    const image = syntheticImage([['random', 20], ['zero', 30], ['text', 10], ['zero', 5], ['random', 7]], 12345);
    const emu = faultyEmulator();
    const session = await uploadInProcess({ source: memorySource(image), name: 'disk.raw', lastModified: 1, connection: conn, clients: emu, options: { description: 'test' } });
    const report = await session.done;
    expect(report.state).toBe('completed');
    // 72 whole blocks and the partial tail, every one written.
    const all = [...Array(73).keys()];
    expect(report).toMatchObject({ blocksWritten: 73, changedBlocksCount: 73, blocksSkipped: 0, volumeSizeGiB: 1 });
    expect(report.zeroBlocksNote).toBeUndefined();
    expect(report.aggregateChecksum).toBe(aggregateOf(image, all));
    expect(await listedIndices(emu.reader, report.snapshotId)).toEqual(all);
    const ec2 = await emu.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [report.snapshotId] }));
    expect(ec2.Snapshots?.[0]?.State).toBe('completed');
    expect(ec2.Snapshots?.[0]?.Description).toBe('test');
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
    expect(emu.counts.puts).toBe(73);
  });

  it('skips zero blocks when asked to: only data blocks are listed, and it still reads back byte for byte', async () => {
    const image = syntheticImage([['random', 20], ['zero', 30], ['text', 10], ['zero', 5], ['random', 7]], 12345);
    const emu = faultyEmulator();
    const store = memoryLedgerStore();
    const session = await uploadInProcess({ source: memorySource(image), name: 'disk.raw', lastModified: 1, connection: conn, clients: emu, store, options: { zeroBlocks: 'skip' } });
    const report = await session.done;
    expect(report.state).toBe('completed');
    // 20 + 10 + 7 data blocks and the partial tail; 35 zero blocks skipped.
    const dataBlocks = [...Array(20).keys(), ...Array.from({ length: 10 }, (_, k) => 50 + k), ...Array.from({ length: 8 }, (_, k) => 65 + k)];
    expect(report).toMatchObject({ blocksWritten: 38, changedBlocksCount: 38, blocksSkipped: 35 });
    expect(report.aggregateChecksum).toBe(aggregateOf(image, dataBlocks));
    expect(await listedIndices(emu.reader, report.snapshotId)).toEqual(dataBlocks);
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
    expect(emu.counts.puts).toBe(38);
    expect((await store.listJobs())[0]).toMatchObject({ zeroBlocks: 'skip', sseType: 'none', skipZeros: true });
  });

  it('writes zero blocks when skipping was chosen but the service encrypts the snapshot (encryption by default), and says why', async () => {
    const image = syntheticImage([['random', 3], ['zero', 4], ['text', 2]]);
    const emu = faultyEmulator();
    emu.model.config.encryptionByDefault = true;
    const store = memoryLedgerStore();
    const session = await uploadInProcess({ source: memorySource(image), name: 'd.raw', lastModified: 1, connection: conn, clients: emu, store, options: { zeroBlocks: 'skip' } });
    const notes = new Set<string | undefined>();
    session.onProgress((p) => notes.add(p.zeroBlocksNote));
    const report = await session.done;
    expect(report).toMatchObject({ state: 'completed', blocksWritten: 9, blocksSkipped: 0, changedBlocksCount: 9 });
    expect(report.aggregateChecksum).toBe(aggregateOf(image, [...Array(9).keys()]));
    expect(report.zeroBlocksNote).toMatch(/^The service encrypts this snapshot \(sse-ebs.*so empty blocks are written as well/);
    expect(notes.has(report.zeroBlocksNote)).toBe(true);
    expect(await listedIndices(emu.reader, report.snapshotId)).toEqual([...Array(9).keys()]);
    expect((await store.listJobs())[0]).toMatchObject({ zeroBlocks: 'skip', sseType: 'sse-ebs', skipZeros: false, counters: { blocksToSend: 9 } });
  });

  it('a resumed job keeps the decision recorded after StartSnapshot, whatever is asked or answered later', async () => {
    const image = syntheticImage([['random', 8], ['zero', 24], ['random', 8], ['zero', 24]]);
    const emu = faultyEmulator({ latencyMs: 5 });
    emu.model.config.encryptionByDefault = true;
    const { store, job } = await releasedPartWay(emu, image, 'r.raw', { zeroBlocks: 'skip', concurrency: 1, sliceBytes: 4 * 1048576 });
    expect(job).toMatchObject({ state: 'paused', skipZeros: false, sseType: 'sse-ebs' });
    expect(job.counters.writtenBlocks).toBeLessThan(64);
    // The account setting is gone and the resume asks for nothing: the snapshot is encrypted, so zeros are still written.
    emu.model.config.encryptionByDefault = false;
    const { sha256 } = await bestSha256();
    const resumed = await startJobSession(job, await openImage(memorySource(image)), { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: {} });
    const report = await resumed.done;
    expect(report).toMatchObject({ state: 'completed', blocksWritten: 64, blocksSkipped: 0 });
    expect(report.zeroBlocksNote).toMatch(/encrypts this snapshot/);
    expect(await listedIndices(emu.reader, report.snapshotId)).toEqual([...Array(64).keys()]);
  });

  it('a resumed job keeps the choice to skip zero blocks', async () => {
    const image = syntheticImage([['random', 32], ['zero', 24], ['random', 32], ['zero', 24]]);
    const emu = faultyEmulator({ latencyMs: 5 });
    const { store, job } = await releasedPartWay(emu, image, 's.raw', { zeroBlocks: 'skip', concurrency: 1, sliceBytes: 4 * 1048576 });
    expect(job.counters.writtenBlocks).toBeLessThan(64);
    const { sha256 } = await bestSha256();
    // Options given on resume do not change the recorded choice.
    const resumed = await startJobSession(job, await openImage(memorySource(image)), { store, ebs: emu.ebs, ec2: emu.ec2, sha256, options: { zeroBlocks: 'write' } });
    const report = await resumed.done;
    expect(report).toMatchObject({ state: 'completed', blocksWritten: 64, blocksSkipped: 48 });
    expect(await listedIndices(emu.reader, report.snapshotId)).toEqual([...Array(32).keys(), ...Array.from({ length: 32 }, (_, k) => 56 + k)]);
    const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(image))).toBe(0);
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

  it('over an encrypted parent, zero blocks are written over its holes too (they would not read back as zeros); over an unencrypted one they stay holes', async () => {
    // The parent holds data in blocks 0-3 and nothing in 4-7; the new version keeps 0-1 apart, zeroes 2-3 and 4-7.
    const parentBlocks = new Map([0, 1, 2, 3].map((i) => [i, patternBlock(i + 1)] as const));
    const image = new Uint8Array(8 * BLOCK_SIZE);
    image.set(patternBlock(100), 0);
    image.set(patternBlock(2), BLOCK_SIZE);
    const run = async (parentEncrypted: boolean) => {
      const emu = faultyEmulator();
      emu.model.config.encryptionByDefault = parentEncrypted;
      const parentId = await writeSnapshot(emu.reader, parentBlocks);
      // The account setting goes: only the parent's encryption makes the new version encrypted.
      emu.model.config.encryptionByDefault = false;
      const store = memoryLedgerStore();
      const putsBefore = emu.counts.puts;
      const session = await uploadInProcess({
        source: memorySource(image),
        name: 'v2.raw',
        lastModified: 1,
        connection: conn,
        clients: emu,
        store,
        options: { parentSnapshotId: parentId, parentCompare: 'read', zeroBlocks: 'skip' },
      });
      const report = await session.done;
      const back = await readSnapshot(emu.reader, report.snapshotId, image.length);
      return { report, puts: emu.counts.puts - putsBefore, back, job: (await store.listJobs())[0]! };
    };

    const plain = await run(false);
    expect(plain.report).toMatchObject({ state: 'completed', blocksWritten: 3, changedBlocksCount: 3 });
    expect(plain.report.zeroBlocksNote).toBeUndefined();
    expect(plain.report.aggregateChecksum).toBe(aggregateOf(image, [0, 2, 3]));
    expect(plain.puts).toBe(3);
    expect(plain.job).toMatchObject({ sseType: 'none', skipZeros: false });
    expect(plain.job.fillParentHoles).toBeUndefined();
    expect(Buffer.compare(Buffer.from(plain.back), Buffer.from(image))).toBe(0);

    const enc = await run(true);
    expect(enc.report).toMatchObject({ state: 'completed', blocksWritten: 7, changedBlocksCount: 7 });
    expect(enc.report.aggregateChecksum).toBe(aggregateOf(image, [0, 2, 3, 4, 5, 6, 7]));
    expect(enc.puts).toBe(7);
    expect(enc.report.zeroBlocksNote).toMatch(/^This new version is encrypted \(sse-ebs\), so empty blocks are written as well, over the parent's holes too: .*\.$/);
    expect(enc.job).toMatchObject({ sseType: 'sse-ebs', skipZeros: false, fillParentHoles: true });
    expect(Buffer.compare(Buffer.from(enc.back), Buffer.from(image))).toBe(0);
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
    // Held puts keep the upload from completing before the pause, however late this test gets to run.
    const { ebs, someWritten, release } = holdPutsAfter(emu.ebs, 2);
    const session = await uploadInProcess({ source: memorySource(image), name: 'k.raw', lastModified: 1, connection: conn, clients: { ebs, ec2: emu.ec2 }, store, options: { concurrency: 1 } });
    await someWritten;
    const pausing = session.pause();
    release();
    await pausing;
    expect((await store.listJobs())[0]).toMatchObject({ state: 'paused' });
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
    const { ebs, someWritten, release } = holdPutsAfter(emu.ebs, 8);
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
