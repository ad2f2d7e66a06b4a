/** One figure of a benchmark: a value, and where it has one, the ceiling measured in the same run. */
export interface BenchRow {
  /** Section, e.g. 'emulator', 'upload', 'images'. */
  group: string;
  /** What was measured, e.g. 'PutSnapshotBlock into IndexedDB store'. */
  name: string;
  value: number;
  unit: string;
  /** The ceiling this figure is compared with (same unit), and its name. */
  ceiling?: { name: string; value: number };
  /** Target ratio (value / ceiling), shown for reference only; a bench never fails a run. */
  aim?: string;
  note?: string;
}

/** A bench module: `bench/<name>.bench.ts` default-exports this. */
export type Bench = () => Promise<BenchRow[]>;
