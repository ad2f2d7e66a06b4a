import { describe, expect, it } from 'vitest';
import { decideZeroBlocks, zeroBlocksChoice } from './zero-blocks.ts';
import { newJobRecord, resolveParams } from './job-record.ts';

describe('zero blocks: written by default, skipped only when chosen and the service leaves the snapshot unencrypted', () => {
  it('writes them unless skipping was chosen', () => {
    expect(decideZeroBlocks({ choice: 'write' })).toEqual({ skip: false });
    expect(decideZeroBlocks({ choice: 'write', sseType: 'sse-ebs' })).toEqual({ skip: false });
    expect(decideZeroBlocks({ choice: 'skip' })).toEqual({ skip: true });
    expect(decideZeroBlocks({ choice: 'skip', sseType: 'none' })).toEqual({ skip: true });
  });

  it('the service decides: an encrypted answer writes them whatever was chosen, with one sentence saying why', () => {
    const d = decideZeroBlocks({ choice: 'skip', sseType: 'sse-ebs' });
    expect(d.skip).toBe(false);
    expect(d.note).toMatch(/^The service encrypts this snapshot \(sse-ebs.*\)\, so empty blocks are written as well: .*\.$/);
    expect(decideZeroBlocks({ choice: 'skip', sseType: 'sse-kms' }).skip).toBe(false);
    expect(decideZeroBlocks({ choice: 'skip', encrypted: true })).toMatchObject({ skip: false, note: expect.stringMatching(/^The snapshot is encrypted/) });
  });

  it('a new version keeps its own rule (a zero over a parent hole stays a hole) unless it or its parent is encrypted', () => {
    expect(decideZeroBlocks({ choice: 'skip', parentSnapshotId: 'snap-1', sseType: 'none' })).toEqual({ skip: false });
    expect(decideZeroBlocks({ choice: 'write', parentSnapshotId: 'snap-1', sseType: 'none' })).toEqual({ skip: false });
    // The service's answer: the new version is encrypted (its parent is, or the account encrypts by default).
    expect(decideZeroBlocks({ choice: 'write', parentSnapshotId: 'snap-1', sseType: 'sse-ebs' })).toEqual({ skip: false, fillParentHoles: true });
    expect(decideZeroBlocks({ choice: 'skip', parentSnapshotId: 'snap-1', sseType: 'sse-kms' })).toMatchObject({
      skip: false,
      fillParentHoles: true,
      note: expect.stringMatching(/^This new version is encrypted \(sse-kms\), so empty blocks are written as well, over the parent's holes too: [^.]*\.$/),
    });
    // The parent known to be encrypted, whatever the answer said.
    expect(decideZeroBlocks({ choice: 'skip', parentSnapshotId: 'snap-1', sseType: 'none', parentEncrypted: true })).toMatchObject({
      skip: false,
      fillParentHoles: true,
      note: expect.stringMatching(/^The parent snapshot is encrypted, so empty blocks are written as well/),
    });
  });

  it('a job records the choice (write by default); records made before the choice existed keep skipping where they did', () => {
    const fingerprint = { name: 'a', size: 1, lastModified: 1, firstBlockSha256: '', lastBlockSha256: '' };
    const base = { fingerprint, connection: { kind: 'emulator' } as const, format: 'raw' as const, virtualSize: 10 * 524288, blockCount: 10, blocksToSend: 4 };
    const write = newJobRecord({ ...base, params: resolveParams({}, base.virtualSize) });
    expect(write.zeroBlocks).toBe('write');
    expect(write.counters.blocksToSend).toBe(10);
    const skip = newJobRecord({ ...base, params: resolveParams({}, base.virtualSize), zeroBlocks: 'skip' });
    expect(skip.zeroBlocks).toBe('skip');
    expect(skip.counters.blocksToSend).toBe(4);
    expect(newJobRecord({ ...base, params: resolveParams({ encrypted: true }, base.virtualSize), zeroBlocks: 'skip' }).counters.blocksToSend).toBe(10);
    expect(zeroBlocksChoice({ params: {} })).toBe('skip');
    expect(zeroBlocksChoice({ params: { encrypted: true } })).toBe('write');
    expect(zeroBlocksChoice({ params: { parentSnapshotId: 'snap-1' } })).toBe('write');
    expect(zeroBlocksChoice({ zeroBlocks: 'write', params: {} })).toBe('write');
  });
});
