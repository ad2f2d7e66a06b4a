import { describe, expect, it } from 'vitest';
import { newJobRecord, resolveParams } from './job-record.ts';

const base = {
  fingerprint: { name: 'd.img', size: 1 << 20, lastModified: 1, firstBlockSha256: 'a', lastBlockSha256: 'b' },
  connection: { kind: 'emulator' as const },
  format: 'raw' as const,
  virtualSize: 1 << 20,
  blockCount: 2,
  blocksToSend: 2,
};

describe('newJobRecord', () => {
  it('saves the parent comparison with a version over a parent, so a resume compares the same way', () => {
    const params = resolveParams({ parentSnapshotId: 'snap-0123456789abcdef0' }, 1 << 20);
    expect(newJobRecord({ ...base, params, parentCompare: 'read' }).parentCompare).toBe('read');
    expect(newJobRecord({ ...base, params, parentCompare: 'all' }).parentCompare).toBe('all');
  });

  it('saves none without a parent (nothing to compare against)', () => {
    const params = resolveParams({}, 1 << 20);
    expect('parentCompare' in newJobRecord({ ...base, params, parentCompare: 'read' })).toBe(false);
  });
});
