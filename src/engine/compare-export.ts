import { sideOf, type ChangeSide, type Comparison } from './compare.ts';

/** The JSON document a comparison exports: counts and every changed block with its side. */
export interface ComparisonJson {
  firstSnapshotId: string;
  secondSnapshotId: string;
  volumeSize: number;
  blockSize: number;
  counts: { first: number; second: number; both: number; total: number };
  changedBytes: number;
  blocks: { index: number; side: ChangeSide }[];
}

/** The comparison as a plain JSON-able object. */
export function comparisonToJson(c: Comparison): ComparisonJson {
  const blocks: ComparisonJson['blocks'] = [];
  for (let k = 0; k < c.indices.length; k++) blocks.push({ index: c.indices[k]!, side: sideOf(c.sides[k]!) });
  return {
    firstSnapshotId: c.firstSnapshotId,
    secondSnapshotId: c.secondSnapshotId,
    volumeSize: c.volumeSize,
    blockSize: c.blockSize,
    counts: { ...c.counts },
    changedBytes: c.changedBytes,
    blocks,
  };
}

/** CSV with a header row: block index, byte offset, side (first|second|both). */
export function comparisonToCsv(c: Comparison): string {
  const rows = ['block_index,offset,side'];
  for (let k = 0; k < c.indices.length; k++) {
    const i = c.indices[k]!;
    rows.push(`${i},${i * c.blockSize},${sideOf(c.sides[k]!)}`);
  }
  return rows.join('\n') + '\n';
}

/** One cell of the block map: how many changed blocks of each side fall into its range. */
export interface MapCell {
  start: number;
  end: number;
  first: number;
  second: number;
  both: number;
}

/** Bins the volume's blocks into `cells` ranges for a block map (each cell counts its changed blocks by side). */
export function blockMap(c: Comparison, cells: number): MapCell[] {
  const blocks = Math.max(1, Math.ceil((c.volumeSize * 1024 ** 3) / c.blockSize));
  const n = Math.max(1, Math.min(cells, blocks));
  const per = Math.ceil(blocks / n);
  const out: MapCell[] = [];
  for (let k = 0; k * per < blocks; k++) out.push({ start: k * per, end: Math.min(blocks, (k + 1) * per), first: 0, second: 0, both: 0 });
  for (let k = 0; k < c.indices.length; k++) {
    const cell = out[Math.min(out.length - 1, Math.floor(c.indices[k]! / per))]!;
    cell[sideOf(c.sides[k]!)]++;
  }
  return out;
}
