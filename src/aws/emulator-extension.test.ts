import { describe, expect, it } from 'vitest';
import { createMemoryEmulator } from '../emulator/index.ts';
import { patternBlock, writeSnapshot } from '../engine/testing/download-fixture.ts';
import { emulatorExtension } from './emulator-extension.ts';

describe('emulator extension calls', () => {
  it('gives each snapshot its parent and its own stored bytes, and tells of changes', async () => {
    const { model, ebs } = createMemoryEmulator();
    const ext = emulatorExtension(model);
    let changes = 0;
    const off = ext.subscribe(() => changes++);
    const parent = await writeSnapshot(ebs, new Map([[0, patternBlock(1)], [1, patternBlock(2)]]));
    const child = await writeSnapshot(ebs, new Map([[1, patternBlock(3)]]), { parentSnapshotId: parent });
    off();
    const seen = changes;
    expect(seen).toBeGreaterThan(0);
    const views = new Map((await ext.snapshotViews()).map((v) => [v.id, v]));
    expect(views.get(parent)).toEqual({ id: parent, parentId: null, ownBytes: 2 * 524288 });
    expect(views.get(child)).toEqual({ id: child, parentId: parent, ownBytes: 524288 });
    await writeSnapshot(ebs, new Map([[0, patternBlock(4)]]));
    expect(changes).toBe(seen);
  });
});
