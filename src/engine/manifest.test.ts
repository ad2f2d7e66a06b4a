import { describe, expect, it } from 'vitest';
import { buildManifest, manifestDigest, memoryManifestStore } from './manifest.ts';
import { differsFromParent, manifestBaseline } from './parent.ts';
import { sha256 } from './download/download-digest.ts';

const block = (fill: number) => new Uint8Array(524288).fill(fill);

describe('manifest', () => {
  it('merges a child over its parent and finds digests by index', async () => {
    const d1 = await sha256(block(1));
    const d2 = await sha256(block(2));
    const d3 = await sha256(block(3));
    const parent = buildManifest({ snapshotId: 'snap-1', volumeSizeGiB: 1, digests: new Map([[5, d1], [9, d2]]) });
    const child = buildManifest({ snapshotId: 'snap-2', volumeSizeGiB: 1, parent, digests: new Map([[9, d3], [2, d1]]) });
    expect([...child.indices]).toEqual([2, 5, 9]);
    expect(child.parentSnapshotId).toBe('snap-1');
    expect(manifestDigest(child, 5)).toEqual(d1);
    expect(manifestDigest(child, 9)).toEqual(d3);
    expect(manifestDigest(child, 2)).toEqual(d1);
    expect(manifestDigest(child, 3)).toBeUndefined();
    expect(manifestDigest(parent, 9)).toEqual(d2);
  });

  it('refuses digests that are not raw SHA-256', () => {
    expect(() => buildManifest({ snapshotId: 'snap-1', volumeSizeGiB: 1, digests: new Map([[0, new Uint8Array(16)]]) })).toThrow(/32/);
  });

  it('keeps manifests per snapshot in a store', async () => {
    const s = memoryManifestStore();
    const m = buildManifest({ snapshotId: 'snap-a', volumeSizeGiB: 2, digests: [], imageSize: 123 });
    await s.put(m);
    expect((await s.get('snap-a'))?.imageSize).toBe(123);
    expect(await s.get('snap-b')).toBeUndefined();
    await s.delete('snap-a');
    expect(await s.list()).toEqual([]);
  });
});

describe('differsFromParent', () => {
  it('sends changed data and zeros over parent data, skips equal blocks and zeros over holes', async () => {
    const zero = await sha256(block(0));
    const a = await sha256(block(7));
    const b = await sha256(block(8));
    const base = manifestBaseline(buildManifest({ snapshotId: 'snap-p', volumeSizeGiB: 1, digests: new Map([[0, a], [1, a], [2, zero]]) }));
    expect(await differsFromParent(base, 0, a, false)).toBe(false);
    expect(await differsFromParent(base, 0, b, false)).toBe(true);
    expect(await differsFromParent(base, 1, zero, true)).toBe(true);
    expect(await differsFromParent(base, 2, zero, true)).toBe(false);
    expect(await differsFromParent(base, 3, zero, true)).toBe(false);
    expect(await differsFromParent(base, 3, b, false)).toBe(true);
  });
});
