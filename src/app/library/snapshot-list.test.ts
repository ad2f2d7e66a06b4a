import { describe, expect, it } from 'vitest';
import { withLineage } from './snapshot-list.svelte.ts';
import type { SnapshotView } from '../../emulator/model.ts';

function view(id: string, parentId: string | null): SnapshotView {
  return {
    id, parentId, state: 'completed', stateMessage: null, progress: 100, volumeSize: 1, description: null, tags: [],
    startTime: 0, encrypted: false, kmsKeyArn: null, ownerId: '111122223333', ownBlocks: 0, ownBytes: 0, puts: 0,
  };
}

describe('withLineage', () => {
  it('resolves ancestors nearest first and marks a deleted parent', () => {
    const rows = withLineage([view('snap-a', null), view('snap-b', 'snap-a'), view('snap-c', 'snap-b'), view('snap-d', 'snap-gone')]);
    expect(rows.map((r) => [r.id, r.lineage, r.parentGone])).toEqual([
      ['snap-a', [], false],
      ['snap-b', ['snap-a'], false],
      ['snap-c', ['snap-b', 'snap-a'], false],
      ['snap-d', ['snap-gone'], true],
    ]);
  });

  it('stops on a cycle instead of looping', () => {
    const rows = withLineage([view('snap-x', 'snap-y'), view('snap-y', 'snap-x')]);
    expect(rows[0]!.lineage).toEqual(['snap-y']);
  });
});
