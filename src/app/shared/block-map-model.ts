/** What the block map shows for one block; the values equal the engine's BlockMark so updates need no mapping. */
export const CellState = {
  Pending: 0,
  Skipped: 1,
  Done: 2,
  InFlight: 3,
  Failed: 4,
} as const;
export type CellState = (typeof CellState)[keyof typeof CellState];

const STATES = 5;

/** One cell's look: the state that wins, and the share of its blocks already settled (done or skipped). */
export interface CellSummary {
  state: CellState;
  settled: number;
}

/**
 * Per-block states folded into at most `maxCells` cells, with per-cell counts so an update is O(1)
 * and a list of dirty cells so a frame redraws only what changed.
 */
export class BlockMapModel {
  readonly blocksPerCell: number;
  readonly cellCount: number;
  readonly #blocks: Uint8Array;
  readonly #counts: Uint32Array;
  readonly #totals = new Float64Array(STATES);
  readonly #dirtyFlag: Uint8Array;
  #dirty: number[] = [];

  constructor(readonly blockCount: number, maxCells = 8192) {
    this.blocksPerCell = Math.max(1, Math.ceil(blockCount / maxCells));
    this.cellCount = Math.ceil(blockCount / this.blocksPerCell);
    this.#blocks = new Uint8Array(blockCount);
    this.#counts = new Uint32Array(this.cellCount * STATES);
    this.#dirtyFlag = new Uint8Array(this.cellCount);
    for (let c = 0; c < this.cellCount; c++) this.#counts[c * STATES] = this.#cellSize(c);
    this.#totals[CellState.Pending] = blockCount;
    this.markAllDirty();
  }

  #cellSize(cell: number): number {
    return Math.min(this.blocksPerCell, this.blockCount - cell * this.blocksPerCell);
  }

  /** Sets one block's state. */
  set(index: number, state: CellState): void {
    if (index < 0 || index >= this.blockCount) return;
    const old = this.#blocks[index] as CellState;
    if (old === state) return;
    this.#blocks[index] = state;
    const cell = (index / this.blocksPerCell) | 0;
    this.#counts[cell * STATES + old]--;
    this.#counts[cell * STATES + state]++;
    this.#totals[old]--;
    this.#totals[state]++;
    if (!this.#dirtyFlag[cell]) {
      this.#dirtyFlag[cell] = 1;
      this.#dirty.push(cell);
    }
  }

  /** Sets every block from an array of states (one byte per block). */
  setAll(states: ArrayLike<number>): void {
    const n = Math.min(states.length, this.blockCount);
    for (let i = 0; i < n; i++) this.set(i, states[i] as CellState);
  }

  /** The state of one block. */
  get(index: number): CellState {
    return this.#blocks[index] as CellState;
  }

  /** How many blocks are in a state. */
  total(state: CellState): number {
    return this.#totals[state];
  }

  /** What a cell shows: failed beats in flight beats pending beats done beats skipped. */
  summary(cell: number): CellSummary {
    const base = cell * STATES;
    const c = this.#counts;
    const size = this.#cellSize(cell);
    const settled = (c[base + CellState.Done] + c[base + CellState.Skipped]) / size;
    let state: CellState;
    if (c[base + CellState.Failed]) state = CellState.Failed;
    else if (c[base + CellState.InFlight]) state = CellState.InFlight;
    else if (c[base + CellState.Pending]) state = CellState.Pending;
    else if (c[base + CellState.Done]) state = CellState.Done;
    else state = CellState.Skipped;
    return { state, settled };
  }

  /** Marks every cell for redraw (after a resize). */
  markAllDirty(): void {
    this.#dirty = [];
    for (let c = 0; c < this.cellCount; c++) {
      this.#dirtyFlag[c] = 1;
      this.#dirty.push(c);
    }
  }

  /** The cells changed since the last call, each once; clears the list. */
  takeDirty(): number[] {
    const out = this.#dirty;
    this.#dirty = [];
    for (const c of out) this.#dirtyFlag[c] = 0;
    return out;
  }
}
