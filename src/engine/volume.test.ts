import { describe, expect, it } from 'vitest';
import { defaultVolumeSizeGiB, timeoutProblem, volumeSizeProblem } from './volume.ts';
import { resolveParams } from './job-record.ts';
import { fingerprintMismatch } from './fingerprint.ts';

const GiB = 1024 ** 3;

describe('volume size and parameters', () => {
  it('rounds the image up to whole GiB, at least 1', () => {
    expect(defaultVolumeSizeGiB(0)).toBe(1);
    expect(defaultVolumeSizeGiB(1)).toBe(1);
    expect(defaultVolumeSizeGiB(GiB)).toBe(1);
    expect(defaultVolumeSizeGiB(GiB + 1)).toBe(2);
    expect(defaultVolumeSizeGiB(64 * GiB)).toBe(64);
  });

  it('refuses a volume smaller than the image or out of range, with a sentence', () => {
    expect(volumeSizeProblem(2, 2 * GiB)).toBeUndefined();
    expect(volumeSizeProblem(8, 2 * GiB)).toBeUndefined();
    expect(volumeSizeProblem(1, 2 * GiB)).toMatch(/needs a volume of at least 2 GiB, but 1 GiB was asked for/);
    expect(volumeSizeProblem(65537, GiB)).toMatch(/between 1 and 65536/);
    expect(timeoutProblem(9)).toMatch(/between 10 and 4320/);
    expect(timeoutProblem(4320)).toBeUndefined();
  });

  it('defaults the timeout to a day and refuses encryption over a parent', () => {
    expect(resolveParams({}, 3 * GiB)).toMatchObject({ volumeSizeGiB: 3, timeoutMinutes: 1440 });
    expect(() => resolveParams({ encrypted: true, parentSnapshotId: 'snap-1' }, GiB)).toThrow(/inherits the parent’s encryption/);
    expect(() => resolveParams({ description: 'x'.repeat(256) }, GiB)).toThrow(/at most 255/);
  });
});

describe('fingerprint', () => {
  const fp = { name: 'a.img', size: 100, lastModified: 1000, firstBlockSha256: 'f', lastBlockSha256: 'l' };
  it('matches itself and explains each kind of change', () => {
    expect(fingerprintMismatch(fp, { ...fp })).toBeUndefined();
    expect(fingerprintMismatch(fp, { ...fp, name: 'b.img' })).toBeUndefined();
    expect(fingerprintMismatch(fp, { ...fp, size: 101 })).toMatch(/is 101 bytes, but the upload was started from "a.img" of 100 bytes/);
    expect(fingerprintMismatch(fp, { ...fp, lastBlockSha256: 'x' })).toMatch(/content of "a.img" differs/);
    expect(fingerprintMismatch(fp, { ...fp, lastModified: 2000 })).toMatch(/was modified since this upload started/);
  });
});
