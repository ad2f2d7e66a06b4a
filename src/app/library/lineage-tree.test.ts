import { describe, expect, it } from 'vitest';
import { lineageTree } from './lineage-tree.ts';

describe('lineageTree', () => {
  it('places children under parents depth-first, with depth, child counts and missing parents', () => {
    const t = lineageTree([
      { id: 'c2', parentId: 'b', startTime: 5 },
      { id: 'a', parentId: null, startTime: 1 },
      { id: 'b', parentId: 'a', startTime: 2 },
      { id: 'c1', parentId: 'b', startTime: 3 },
      { id: 'x', parentId: 'gone', startTime: 9 },
      { id: 'a2', parentId: 'a', startTime: 4 },
    ]);
    expect(t.map((n) => `${'-'.repeat(n.depth)}${n.id}`)).toEqual(['x', 'a', '-b', '--c1', '--c2', '-a2']);
    expect(t.find((n) => n.id === 'b')?.childCount).toBe(2);
    expect(t.find((n) => n.id === 'x')?.parentMissing).toBe(true);
    expect(t.find((n) => n.id === 'a')?.parentMissing).toBe(false);
  });

  it('survives a cycle without losing nodes', () => {
    const t = lineageTree([
      { id: 'p', parentId: 'q', startTime: 1 },
      { id: 'q', parentId: 'p', startTime: 2 },
    ]);
    expect(t.map((n) => n.id).sort()).toEqual(['p', 'q']);
  });
});
