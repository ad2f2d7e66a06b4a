// Runs in the page (served by Vite): mounts the block map alone, for a 64 GiB volume, and reads its pixels.
import { mount } from 'svelte';
import BlockMap from '../../src/app/shared/BlockMap.svelte';
import { BlockMapModel, type CellState } from '../../src/app/shared/block-map-model.ts';

let model: BlockMapModel | null = null;
let canvas: HTMLCanvasElement | null = null;

/** Mounts a block map of `blockCount` blocks in a 900 px column; returns its grouping. */
export function mountBlockMap(blockCount: number): { cells: number; blocksPerCell: number } {
  const target = document.createElement('div');
  target.style.width = '900px';
  document.body.replaceChildren(target);
  model = new BlockMapModel(blockCount);
  mount(BlockMap, { target, props: { model } });
  canvas = target.querySelector('canvas');
  return { cells: model.cellCount, blocksPerCell: model.blocksPerCell };
}

/** Sets blocks [first, first+count) to a state, as engine updates would. */
export function setBlocks(first: number, count: number, state: CellState): void {
  for (let i = first; i < first + count; i++) model!.set(i, state);
}

/** Resolves after two animation frames, when dirty cells have been painted. */
export function frames(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
}

/** The colour at the centre of a cell, as #rrggbb, and how many cells still wait for a frame. */
export function cellColor(cell: number): { color: string; pendingDirty: number } {
  const c = canvas!;
  const cssWidth = c.clientWidth;
  const dpr = c.width / cssWidth;
  // Recover the grid from the canvas size: cells are square with a 1 px gap.
  let size = 3;
  for (let s = 14; s >= 3; s--) {
    const cols = Math.floor((cssWidth + 1) / (s + 1));
    if (cols * (s + 1) - 1 === cssWidth && Math.ceil(model!.cellCount / cols) * (s + 1) - 1 === c.clientHeight) {
      size = s;
      break;
    }
  }
  const cols = Math.floor((cssWidth + 1) / (size + 1));
  const x = (cell % cols) * (size + 1) + size / 2;
  const y = Math.floor(cell / cols) * (size + 1) + size / 2;
  const [r, g, b] = c.getContext('2d')!.getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data;
  const hex = '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
  const pendingDirty = model!.takeDirty().length;
  return { color: hex, pendingDirty };
}
