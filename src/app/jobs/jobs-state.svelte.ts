import {
  discardJob,
  isJobBusy,
  listJobs,
  requestTakeover,
  resumeUpload,
  startUpload,
  watchJob,
  type DiscardOptions,
  type JobBroadcast,
  type JobRecord,
  type UploadProgress,
} from '../../engine/api.ts';
import type { Connection } from '../../aws/clients.ts';
import { completionPending } from '../../engine/api.ts';
import { connection } from '../shared/connection.svelte.ts';
import { toProblem, type Problem } from '../shared/problem.ts';
import { runs } from '../shared/run-state.svelte.ts';
import { askToNotifyForLongJob } from '../shared/page-activity.ts';
import { ensureReadPermission, type PickedFile } from '../upload/file-pick.ts';

const FINISHED = new Set(['completed', 'cancelled']);

/** A job that completed in this tab keeps its card (with the final report) until the page is left. */
const keepsCard = (j: JobRecord) => j.state === 'completed' && j.id in runs.byJob;

/** The page's connection (with its in-memory credentials) when it points where the job went; else the job's own. */
function connectionFor(job: JobRecord): Connection | undefined {
  const a = connection.current;
  const b = job.connection;
  if (a.kind === 'emulator' && b.kind === 'emulator') return (a.dbName ?? '') === (b.dbName ?? '') ? a : undefined;
  if (a.kind === 'endpoint' && b.kind === 'endpoint') return a.region === b.region && a.endpoint === b.endpoint ? a : undefined;
  if (a.kind === 'aws' && b.kind === 'aws') {
    return a.settings.region === b.settings.region && a.settings.identityPoolId === b.settings.identityPoolId ? a : undefined;
  }
  return undefined;
}

/** What a job card is doing right now. */
export type JobActivity = 'resuming' | 'taking-over' | 'discarding' | 'restarting';

/** The jobs list: what the ledger holds, which jobs run in another tab, and the actions on them. */
class JobsState {
  jobs = $state.raw<JobRecord[]>([]);
  loaded = $state(false);
  loadProblem = $state.raw<Problem | null>(null);
  /** Jobs held by another tab, with their latest broadcast progress (null until one arrives). */
  elsewhere = $state.raw<Record<string, UploadProgress | null>>({});
  problems = $state.raw<Record<string, Problem>>({});
  activity = $state.raw<Record<string, JobActivity>>({});
  /** Jobs whose card asks for the file, and what the pick is for. */
  needsFile = $state.raw<Record<string, 'resume' | 'restart'>>({});
  /** The file last picked for a job that was refused, so "start over" can use it at once. */
  lastPicked = $state.raw<Record<string, PickedFile>>({});

  unfinished = $derived(this.jobs.filter((j) => !FINISHED.has(j.state)));
  /** Unfinished jobs, plus those that completed in this tab (their card keeps the final report). */
  shown = $derived(this.jobs.filter((j) => !FINISHED.has(j.state) || keepsCard(j)));
  /** Completed and cancelled jobs; a cancelled one says there what became of its snapshot, and offers to delete it. */
  finished = $derived(this.jobs.filter((j) => FINISHED.has(j.state) && !keepsCard(j)));

  readonly #watchers = new Map<string, () => void>();
  #channel: BroadcastChannel | null = null;
  #refreshing: Promise<void> | null = null;

  constructor() {
    runs.onSettled(() => void this.refresh());
  }

  /** Starts listening for other tabs (new jobs appear without a reload). */
  listen(): void {
    if (this.#channel || typeof BroadcastChannel === 'undefined') return;
    this.#channel = new BroadcastChannel('blockport-jobs');
    this.#channel.onmessage = (e: MessageEvent<JobBroadcast>) => {
      const id = e.data?.type === 'progress' ? e.data.progress.jobId : e.data?.jobId;
      if (id && !this.jobs.some((j) => j.id === id)) void this.refresh();
    };
  }

  /** Reloads the job list from IndexedDB and who holds each job. */
  refresh(): Promise<void> {
    // Coalesce: a refresh already under way will see the latest state anyway.
    this.#refreshing ??= this.#load().finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    try {
      const jobs = await listJobs();
      const elsewhere: Record<string, UploadProgress | null> = {};
      for (const job of jobs) {
        if (FINISHED.has(job.state) || runs.isRunningHere(job.id)) continue;
        this.#watch(job.id);
        if (await isJobBusy(job.id)) elsewhere[job.id] = this.elsewhere[job.id] ?? null;
      }
      for (const [id, stop] of this.#watchers) {
        if (!jobs.some((j) => j.id === id && !FINISHED.has(j.state))) {
          stop();
          this.#watchers.delete(id);
        }
      }
      this.jobs = jobs;
      this.elsewhere = elsewhere;
      this.loadProblem = null;
    } catch (e) {
      this.loadProblem = toProblem(e, 'The list of uploads could not be read');
    } finally {
      this.loaded = true;
    }
  }

  #watch(jobId: string): void {
    if (this.#watchers.has(jobId)) return;
    this.#watchers.set(
      jobId,
      watchJob(jobId, (e) => {
        if (runs.isRunningHere(jobId)) return;
        if (e.type === 'progress') {
          this.elsewhere = { ...this.elsewhere, [jobId]: e.progress };
          if (e.progress.phase === 'completed' || e.progress.phase === 'cancelled') void this.refresh();
        } else if (e.type === 'released') {
          const { [jobId]: _, ...rest } = this.elsewhere;
          this.elsewhere = rest;
          void this.refresh();
        }
      }),
    );
  }

  #set<T>(map: Record<string, T>, id: string, value: T | undefined): Record<string, T> {
    const { [id]: _, ...rest } = map;
    return value === undefined ? rest : { ...rest, [id]: value };
  }

  #problem(id: string, p: Problem | undefined): void {
    this.problems = this.#set(this.problems, id, p);
  }

  /**
   * Resumes a job in this tab (call from a click: it may ask for file permission).
   * With no stored handle and no picked file, the card asks for the file instead, unless every block is sent: then
   * only the snapshot is completed, which needs no file.
   */
  async resume(job: JobRecord, picked?: PickedFile): Promise<void> {
    if (this.activity[job.id]) return;
    this.#problem(job.id, undefined);
    // A file picked after all (the engine found a block unrecorded and asked for it) is passed on.
    const completeOnly = completionPending(job) && !picked;
    const source = picked ? (picked.handle ?? picked.file) : completeOnly ? undefined : job.fileHandle;
    if (!source && !completeOnly) {
      this.needsFile = this.#set(this.needsFile, job.id, 'resume');
      return;
    }
    // A long upload resumed by this click: the notification at its end is asked for here, as when it was started.
    if (!completeOnly) askToNotifyForLongJob(job.virtualSize);
    this.lastPicked = this.#set(this.lastPicked, job.id, picked);
    this.activity = this.#set(this.activity, job.id, 'resuming');
    try {
      if (!picked && !completeOnly && job.fileHandle && !(await ensureReadPermission(job.fileHandle))) {
        this.#problem(job.id, {
          message: `Access to "${job.fingerprint.name}" was not granted. Allow it when asked, or pick the file again.`,
          action: 'repick',
          code: 'permission',
        });
        return;
      }
      const run = await resumeUpload(job.id, source, connectionFor(job));
      runs.add(run);
      this.needsFile = this.#set(this.needsFile, job.id, undefined);
    } catch (e) {
      const p = toProblem(e, 'The upload could not resume');
      this.#problem(job.id, p);
      // Only a re-pick can fix a refused file; for a lost snapshot or credentials, picking again would mislead.
      if (p.action !== 'repick') this.needsFile = this.#set(this.needsFile, job.id, undefined);
    } finally {
      this.activity = this.#set(this.activity, job.id, undefined);
      void this.refresh();
    }
  }

  /** Asks the tab running a job to let go, then resumes it here. */
  async takeOver(job: JobRecord): Promise<void> {
    if (this.activity[job.id]) return;
    this.#problem(job.id, undefined);
    this.activity = this.#set(this.activity, job.id, 'taking-over');
    try {
      // Ask for file access first, while the click still counts as a user gesture (completing alone reads no file).
      if (job.fileHandle && !completionPending(job) && !(await ensureReadPermission(job.fileHandle))) {
        this.#problem(job.id, { message: `Access to "${job.fingerprint.name}" was not granted, so this tab cannot continue the upload.`, code: 'permission' });
        return;
      }
      const released = await requestTakeover(job.id);
      if (!released) {
        this.#problem(job.id, {
          message: 'The other tab did not let go of this upload. Close that tab (or wait for it to pause), then take over again.',
          action: 'takeover',
          code: 'busy',
        });
        return;
      }
      const { [job.id]: _, ...rest } = this.elsewhere;
      this.elsewhere = rest;
    } catch (e) {
      this.#problem(job.id, toProblem(e, 'The upload could not be taken over'));
      return;
    } finally {
      this.activity = this.#set(this.activity, job.id, undefined);
    }
    await this.resume(job);
  }

  /** Starts a fresh upload of the job's file with the same options, then forgets the old job. */
  async restart(job: JobRecord, picked?: PickedFile): Promise<void> {
    if (this.activity[job.id]) return;
    const source = picked ? (picked.handle ?? picked.file) : job.fileHandle;
    if (!source) {
      this.needsFile = this.#set(this.needsFile, job.id, 'restart');
      return;
    }
    this.#problem(job.id, undefined);
    this.activity = this.#set(this.activity, job.id, 'restarting');
    try {
      if (!picked && job.fileHandle && !(await ensureReadPermission(job.fileHandle))) {
        this.#problem(job.id, { message: `Access to "${job.fingerprint.name}" was not granted. Pick the file again to start over.`, action: 'repick', code: 'permission' });
        return;
      }
      const run = await startUpload({ file: source, connection: connectionFor(job) ?? job.connection, options: { ...job.params, ...(job.parentCompare ? { parentCompare: job.parentCompare } : {}) } });
      runs.add(run);
      this.lastPicked = this.#set(this.lastPicked, job.id, undefined);
      this.needsFile = this.#set(this.needsFile, job.id, undefined);
      // The old job's snapshot is abandoned now: delete it, or say why not and keep the old card.
      try {
        await discardJob(job.id, { connection: connectionFor(job) });
      } catch (e) {
        const p = toProblem(e, 'The old job could not be discarded');
        this.#problem(job.id, { ...p, message: `The upload started over as a new job. ${p.message}` });
      }
    } catch (e) {
      this.#problem(job.id, toProblem(e, 'The upload could not start over'));
    } finally {
      this.activity = this.#set(this.activity, job.id, undefined);
      void this.refresh();
    }
  }

  /**
   * Deletes an unfinished job's pending snapshot, then forgets the job and its ledger. When the delete fails the job
   * stays, with a sentence and the choice to forget it anyway or keep it.
   */
  async discard(job: JobRecord): Promise<boolean> {
    return this.#forget(job, { connection: connectionFor(job) });
  }

  /** Forgets a job without touching its snapshot (a finished job, or after a failed delete the person chose this). */
  async forget(job: JobRecord): Promise<boolean> {
    return this.#forget(job, { keepSnapshot: true });
  }

  /** Keeps a job whose snapshot could not be deleted: the sentence goes, the card stays resumable. */
  keep(job: JobRecord): void {
    if (this.problems[job.id]?.code === 'delete-failed') this.#problem(job.id, undefined);
  }

  /** True when the job is gone. */
  async #forget(job: JobRecord, opts: DiscardOptions): Promise<boolean> {
    if (this.activity[job.id]) return false;
    this.activity = this.#set(this.activity, job.id, 'discarding');
    try {
      await discardJob(job.id, opts);
      runs.remove(job.id);
      this.#problem(job.id, undefined);
      return true;
    } catch (e) {
      this.#problem(job.id, toProblem(e, 'The job could not be discarded'));
      return false;
    } finally {
      this.activity = this.#set(this.activity, job.id, undefined);
      await this.refresh();
    }
  }
}

/** The one jobs state of the page. */
export const jobs = new JobsState();
