import { describe, expect, it } from 'vitest';
import { createMemoryEmulator } from '../emulator/index.ts';
import { patternBlock, writeSnapshot } from './testing/download-fixture.ts';
import { sha256, toBase64 } from './download/download-digest.ts';
import { buildManifest, memoryManifestStore } from './manifest.ts';
import { differsFromParent, parentBaseline, readParentArrays } from './parent.ts';

const BS = 524288;

describe('parent baselines', () => {
  it('reads a parent (through its own parent) into the arrays the upload pipeline takes', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const gp = await writeSnapshot(emu.ebs, new Map([[0, patternBlock(1)], [9, patternBlock(9)]]));
    const p = await writeSnapshot(emu.ebs, new Map([[1, new Uint8Array(BS)], [9, patternBlock(90)], [20, patternBlock(20)]]), { parentSnapshotId: gp });
    const r = await readParentArrays(emu.ebs, p, 16, { concurrency: 2 });
    expect(r.blocksRead).toBe(3);
    const has = (i: number) => (r.present[i >> 3]! & (1 << (i & 7))) !== 0;
    expect([...Array(16).keys()].filter(has)).toEqual([0, 1, 9]);
    expect(toBase64(r.digests.subarray(9 * 32, 10 * 32))).toBe(toBase64(await sha256(patternBlock(90))));
    expect(toBase64(r.digests.subarray(1 * 32, 2 * 32))).toBe(toBase64(await sha256(new Uint8Array(BS))));
  });

  it('prefers the recorded manifest, falls back to reading, or to nothing (send every block)', async () => {
    const emu = createMemoryEmulator({ completionDelayMs: 0 });
    const p = await writeSnapshot(emu.ebs, new Map([[2, patternBlock(2)]]));
    const store = memoryManifestStore();
    const read = await parentBaseline({ ebs: emu.ebs, parentSnapshotId: p, store });
    expect(read?.kind).toBe('read');
    expect(await differsFromParent(read!, 2, await sha256(patternBlock(2)), false)).toBe(false);
    expect(await differsFromParent(read!, 2, await sha256(patternBlock(3)), false)).toBe(true);
    expect(await parentBaseline({ ebs: emu.ebs, parentSnapshotId: p, store, fallback: 'all' })).toBeUndefined();
    await store.put(buildManifest({ snapshotId: p, volumeSizeGiB: 1, digests: new Map([[2, await sha256(patternBlock(2))]]) }));
    expect((await parentBaseline({ ebs: emu.ebs, parentSnapshotId: p, store, fallback: 'all' }))?.kind).toBe('manifest');
  });
});
