import { describe, expect, it } from 'vitest';
import { BlockMapModel, CellState } from './block-map-model.ts';

describe('BlockMapModel', () => {
  it('groups a 64 GiB volume into bounded cells', () => {
    const m = new BlockMapModel(131072, 8192);
    expect(m.blocksPerCell).toBe(16);
    expect(m.cellCount).toBe(8192);
    expect(m.takeDirty()).toHaveLength(8192);
    expect(m.takeDirty()).toHaveLength(0);
  });
  it('gives a small image one cell per block, the last cell possibly short', () => {
    const m = new BlockMapModel(10, 4);
    expect(m.blocksPerCell).toBe(3);
    expect(m.cellCount).toBe(4);
    m.takeDirty();
    m.set(9, CellState.Done);
    expect(m.summary(3)).toEqual({ state: CellState.Done, settled: 1 });
  });
  it('marks each changed cell dirty once', () => {
    const m = new BlockMapModel(64, 8);
    m.takeDirty();
    m.set(0, CellState.InFlight);
    m.set(1, CellState.InFlight);
    m.set(0, CellState.Done);
    m.set(63, CellState.Skipped);
    m.set(63, CellState.Skipped);
    expect(m.takeDirty().sort((a, b) => a - b)).toEqual([0, 7]);
  });
  it('lets failure, then in-flight, then pending win a cell', () => {
    const m = new BlockMapModel(8, 1);
    m.setAll([2, 2, 1, 1, 0, 0, 0, 0]);
    expect(m.summary(0)).toEqual({ state: CellState.Pending, settled: 0.5 });
    m.set(4, CellState.InFlight);
    expect(m.summary(0).state).toBe(CellState.InFlight);
    m.set(5, CellState.Failed);
    expect(m.summary(0).state).toBe(CellState.Failed);
    for (let i = 4; i < 8; i++) m.set(i, CellState.Skipped);
    expect(m.summary(0)).toEqual({ state: CellState.Done, settled: 1 });
  });
  it('keeps totals per state', () => {
    const m = new BlockMapModel(100);
    m.set(1, CellState.Done);
    m.set(2, CellState.Done);
    m.set(2, CellState.Failed);
    m.set(500, CellState.Done);
    expect(m.total(CellState.Done)).toBe(1);
    expect(m.total(CellState.Failed)).toBe(1);
    expect(m.total(CellState.Pending)).toBe(98);
  });
});
