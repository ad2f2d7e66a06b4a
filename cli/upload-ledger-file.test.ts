import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockLedger } from '../src/engine/ledger.ts';
import { newJobRecord } from '../src/engine/job-record.ts';
import { openFileLedger, StateFileError } from './upload-ledger-file.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockport-ledger-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const job = () =>
  newJobRecord({
    fingerprint: { name: 'd.img', size: 3000 * 524288, lastModified: 1, firstBlockSha256: 'a', lastBlockSha256: 'b' },
    connection: { kind: 'endpoint', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' },
    params: { volumeSizeGiB: 2, timeoutMinutes: 1440, tags: {} },
    format: 'raw',
    virtualSize: 3000 * 524288,
    blockCount: 3000,
    blocksToSend: 3000,
  });

const digest = (i: number) => new Uint8Array(32).fill(i & 0xff);

describe('the CLI upload ledger file', () => {
  it('keeps the ClientToken, snapshot id, acknowledged bits and digests across processes (reopened from disk)', async () => {
    const path = join(dir, 'a.json');
    const store = await openFileLedger(path);
    expect(store.job).toBeUndefined();
    const j = job();
    await store.putJob(j);
    // The ClientToken is on disk before anything is sent.
    expect(JSON.parse(await readFile(path, 'utf8')).job.clientToken).toBe(j.clientToken);
    const ledger = await BlockLedger.open(store, j, 3000);
    ledger.updateJob({ snapshotId: 'snap-0123456789abcdef0', state: 'running' });
    for (const i of [0, 5, 1023, 1024, 2999]) ledger.markWritten(i, digest(i));
    ledger.markSkipped(7);
    await ledger.flush();

    const again = await openFileLedger(path);
    expect(again.job).toMatchObject({ id: j.id, clientToken: j.clientToken, snapshotId: 'snap-0123456789abcdef0', state: 'running' });
    expect(again.writtenBlocks()).toBe(5);
    const reread = await BlockLedger.open(again, again.job!, 3000);
    expect([...reread.writtenIndices()]).toEqual([0, 5, 1023, 1024, 2999]);
    expect(reread.isSkipped(7)).toBe(true);
    expect([...reread.digest(2999)]).toEqual([...digest(2999)]);
    expect(reread.concatenatedDigests()).toEqual(ledger.concatenatedDigests());
    // Writes go through a temporary file and a rename: none is left behind.
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('starts over with --restart (ignores the file), and a new job replaces the old pages', async () => {
    const path = join(dir, 'b.json');
    const first = await openFileLedger(path);
    const j1 = job();
    await first.putJob(j1);
    const l1 = await BlockLedger.open(first, j1, 3000);
    l1.markWritten(3, digest(3));
    await l1.flush();
    const restarted = await openFileLedger(path, { ignoreExisting: true });
    expect(restarted.job).toBeUndefined();
    const j2 = job();
    await restarted.putJob(j2);
    const reopened = await openFileLedger(path);
    expect(reopened.job!.id).toBe(j2.id);
    expect(reopened.writtenBlocks()).toBe(0);
    await reopened.deleteJob(j2.id);
    expect((await readdir(dir)).includes('b.json')).toBe(false);
  });

  it('refuses a file that is not a Blockport upload state with a sentence', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"kind":"something else"}');
    await expect(openFileLedger(bad)).rejects.toThrow(StateFileError);
    await expect(openFileLedger(bad)).rejects.toThrow(/not a Blockport upload state.*--restart/);
    await writeFile(bad, '{ half');
    await expect(openFileLedger(bad)).rejects.toThrow(/not valid JSON/);
    const nowhere = await openFileLedger(join(dir, 'no-such-dir', 's.json'));
    await expect(nowhere.putJob(job())).rejects.toThrow(/Cannot write the upload state .*no-such-dir.* \(ENOENT\)\. Pass --state FILE/);
  });
});
