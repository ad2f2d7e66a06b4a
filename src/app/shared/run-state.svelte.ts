import type { UploadProgress, UploadReport, UploadRun } from '../../engine/api.ts';
import { BlockMapModel } from './block-map-model.ts';
import { toProblem, type Problem } from './problem.ts';

/** One upload running in this tab, as the page shows it: progress, block map, report or problem. */
export class RunState {
  progress: UploadProgress;
  report = $state.raw<UploadReport | null>(null);
  problem = $state.raw<Problem | null>(null);
  paused = $state(false);
  /** A pause or cancel is being carried out. */
  working = $state(false);
  finished = $derived(this.report !== null || this.problem !== null);
  /** The block map; made anew when the disk's block count becomes known (a packed disk, once unpacked). */
  model = $state.raw<BlockMapModel>(new BlockMapModel(0));
  readonly jobId: string;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(readonly run: UploadRun, onSettled?: () => void) {
    this.jobId = run.jobId;
    this.progress = $state.raw(run.progress());
    this.model = new BlockMapModel(this.progress.totalBlocks);
    this.model.setAll(run.blockMap());
    this.#unsubscribe.push(
      run.onProgress((p) => {
        this.progress = p;
        if (p.totalBlocks !== this.model.blockCount) {
          this.model = new BlockMapModel(p.totalBlocks);
          this.model.setAll(run.blockMap());
        }
        this.paused = p.phase === 'paused';
      }),
      run.onBlocks((u) => {
        for (let i = 0; i + 1 < u.length; i += 2) this.model.set(u[i], u[i + 1] as 0);
      }),
    );
    run.done.then(
      (report) => {
        this.report = report;
        this.model.setAll(run.blockMap());
        this.#stop();
        onSettled?.();
      },
      (e) => {
        this.problem = toProblem(e, 'The upload stopped');
        this.#stop();
        onSettled?.();
      },
    );
  }

  #stop(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  /** Pauses after the blocks in flight. */
  async pause(): Promise<void> {
    this.working = true;
    try {
      await this.run.pause();
      this.paused = true;
    } finally {
      this.working = false;
    }
  }

  /** Continues a paused upload. */
  resume(): void {
    this.paused = false;
    this.run.resume();
  }

  /** Stops for good; the job is marked cancelled. */
  async cancel(): Promise<void> {
    this.working = true;
    try {
      await this.run.cancel();
    } finally {
      this.working = false;
    }
  }
}

/** Runs owned by this tab, by job id, so switching views never loses one. */
class Runs {
  byJob = $state.raw<Record<string, RunState>>({});
  readonly #settled = new Set<(jobId: string) => void>();

  /** Wraps and records a run; returns its state. */
  add(run: UploadRun): RunState {
    const state = new RunState(run, () => {
      for (const cb of this.#settled) cb(run.jobId);
    });
    this.byJob = { ...this.byJob, [run.jobId]: state };
    return state;
  }

  /** Calls back whenever a run of this tab ends (completed, failed, cancelled); returns the unsubscribe function. */
  onSettled(cb: (jobId: string) => void): () => void {
    this.#settled.add(cb);
    return () => this.#settled.delete(cb);
  }

  /** True when this tab is running the job right now. */
  isRunningHere(jobId: string): boolean {
    const r = this.byJob[jobId];
    return !!r && !r.finished;
  }

  /** Forgets a run (after its job is discarded). */
  remove(jobId: string): void {
    const { [jobId]: _, ...rest } = this.byJob;
    this.byJob = rest;
  }
}

/** The one registry of runs in this tab. */
export const runs = new Runs();
