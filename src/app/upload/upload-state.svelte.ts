import { planUpload, startUpload, type UploadPlan } from '../../engine/api.ts';
import { ImageFormatError } from '../../images/types.ts';
import { connection } from '../shared/connection.svelte.ts';
import { toProblem, type Problem } from '../shared/problem.ts';
import { askToNotifyForLongJob } from '../shared/page-activity.ts';
import { runs, type RunState } from '../shared/run-state.svelte.ts';
import type { PickedFile } from './file-pick.ts';
import { defaultOptionsForm, parseOptions, type OptionsField, type OptionsForm } from './upload-options.ts';

/** The upload view's state: picked file, plan, options, and the run it started. Lives across view switches. */
class UploadState {
  picked = $state.raw<PickedFile | null>(null);
  plan = $state.raw<UploadPlan | null>(null);
  planning = $state(false);
  /** While a packed file is read through to plan it (its size measured, its tar listed): the share read, 0–100. */
  planPercent = $state<number | null>(null);
  problem = $state.raw<Problem | null>(null);
  form = $state<OptionsForm>(defaultOptionsForm(1));
  errors = $state.raw<Partial<Record<OptionsField, string>>>({});
  starting = $state(false);
  run = $state.raw<RunState | null>(null);
  #pickSeq = 0;

  /** Reads the picked image's tables to show what the upload would do. */
  async pick(picked: PickedFile): Promise<void> {
    const seq = ++this.#pickSeq;
    this.#clear(picked, true);
    this.planPercent = null;
    try {
      const plan = await planUpload(picked.handle ?? picked.file, (f) => {
        if (seq === this.#pickSeq) this.planPercent = Math.floor(f * 100);
      });
      if (seq !== this.#pickSeq) return;
      this.plan = plan;
      this.form = defaultOptionsForm(plan.volumeSizeGiB);
    } catch (e) {
      if (seq !== this.#pickSeq) return;
      const p = toProblem(e, `"${picked.file.name}" cannot be read as a disk image`);
      // Reader sentences speak of "this file": say which one.
      this.problem = e instanceof ImageFormatError ? { ...p, message: `"${picked.file.name}": ${p.message}` } : p;
    } finally {
      if (seq === this.#pickSeq) this.planning = false;
    }
  }

  /** Validates the options and starts the upload; false when the form has errors. */
  async start(): Promise<boolean> {
    if (!this.picked || !this.plan || this.starting) return false;
    const parsed = parseOptions(this.form, this.plan.volumeSizeGiB);
    if (!parsed.ok) {
      this.errors = parsed.errors;
      return false;
    }
    this.errors = {};
    this.problem = null;
    // Asked here, on the click that starts a long upload, and only then: a notification says when it is done.
    askToNotifyForLongJob(this.plan.virtualSize);
    this.starting = true;
    try {
      const run = await startUpload({
        file: this.picked.handle ?? this.picked.file,
        connection: connection.current,
        options: parsed.options,
      });
      this.run = runs.add(run);
      return true;
    } catch (e) {
      this.problem = toProblem(e, 'The upload could not start');
      return false;
    } finally {
      this.starting = false;
    }
  }

  /** Back to an empty form for the next image. */
  reset(): void {
    this.#pickSeq++;
    this.#clear(null, false);
    this.run = null;
  }

  /** A form with `picked` (or none) and no plan, problem or errors yet. */
  #clear(picked: PickedFile | null, planning: boolean): void {
    this.picked = picked;
    this.plan = null;
    this.problem = null;
    this.errors = {};
    this.planning = planning;
  }
}

/** The one upload view state of the page. */
export const upload = new UploadState();
