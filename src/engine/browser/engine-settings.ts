// Engine-wide settings a host page may override (tests, benchmarks).
export const engineSettings = {
  /** IndexedDB database of jobs. */
  jobsDb: undefined as string | undefined,
  /** Largest default worker pool. */
  maxWorkers: 4,
  /** Blocks a worker claims before it is replaced by a fresh one (see recycling-runner.ts); 0: never. */
  recycleBlocks: 2048,
};
