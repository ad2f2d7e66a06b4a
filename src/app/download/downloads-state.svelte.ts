// Downloads of this origin as the page shows them: start, progress, cancel, resume after a reload; the engine runs them.
import type { Connection } from '../../aws/clients.ts';
import {
  cancelDownload,
  listDownloads,
  removeDownload,
  resumeDownload,
  startDownload,
  warmDownloads,
  type DownloadProgress,
  type DownloadRecord,
  type DownloadRun,
} from '../../engine/api.ts';
import { askToNotifyForLongJob } from '../shared/page-activity.ts';

/** A download as the page shows it: its record plus live progress while it runs here. */
export interface DownloadRow {
  record: DownloadRecord;
  progress?: DownloadProgress;
  /** True while a worker of this tab runs it. */
  live: boolean;
  /** Object URL of the finished OPFS file, offered as a normal download. */
  url?: string;
}

/** The page's downloads. */
export class DownloadsState {
  rows = $state.raw<DownloadRow[]>([]);
  /** The snapshot id in the form (other views fill it in before showing the download view). */
  snapshotId = $state('');
  problem = $state<string | null>(null);
  /** Pace in blocks per second (0 = no limit). */
  blocksPerSecond = $state(0);
  /** Records whose run is live in this tab. */
  private live = new Set<string>();
  private progress = new Map<string, DownloadProgress>();
  private urls = new Map<string, string>();

  /** Reads the recorded downloads. */
  async refresh(): Promise<void> {
    const records = await listDownloads();
    this.rows = records.map((record) => ({
      record,
      progress: this.progress.get(record.id),
      live: this.live.has(record.id),
      url: this.urls.get(record.id),
    }));
  }

  /** Starts a worker ahead of the next download (on showing the view). */
  warm(connection: Connection): void {
    warmDownloads(connection);
  }

  /** Starts downloading snapshotId (call from a click: a save picker may open); returns the record's id. */
  async start(snapshotId: string, connection: Connection): Promise<string | undefined> {
    return (await this.#launch(() => startDownload(snapshotId, connection, { blocksPerSecond: this.blocksPerSecond })))?.id;
  }

  /** Resumes a recorded download (call from a click: a picked file may need permission again). */
  async resume(recordId: string, connection: Connection): Promise<void> {
    await this.#launch(() => resumeDownload(recordId, connection, { blocksPerSecond: this.blocksPerSecond }));
  }

  /** Begins a run and follows it; a refusal to begin is shown as the problem. */
  async #launch(begin: () => Promise<DownloadRun | undefined>): Promise<DownloadRun | undefined> {
    this.problem = null;
    let run: DownloadRun | undefined;
    try {
      run = await begin();
    } catch (e) {
      this.problem = (e as Error).message;
      return undefined;
    }
    if (!run) return undefined;
    // Asked on the click that started it, once its size is known, and only for a long one: a notification tells its end.
    let asked = false;
    const stopAsking = run.onProgress((p) => {
      if (asked) return;
      asked = true;
      askToNotifyForLongJob(p.bytesTotal);
      queueMicrotask(() => stopAsking());
    });
    this.follow(run);
    await this.refresh();
    return run;
  }

  /** Stops a running download after the blocks in flight; it stays resumable. */
  async cancel(recordId: string): Promise<void> {
    await cancelDownload(recordId);
  }

  /** Forgets a download (the file stays as it is). */
  async remove(recordId: string): Promise<void> {
    try {
      await removeDownload(recordId);
    } catch (e) {
      this.problem = (e as Error).message;
      return;
    }
    const url = this.urls.get(recordId);
    if (url) URL.revokeObjectURL(url);
    this.urls.delete(recordId);
    this.progress.delete(recordId);
    await this.refresh();
  }

  /** Shows a run's progress on its row, and how it ended. */
  private follow(run: DownloadRun): void {
    const id = run.id;
    this.live.add(id);
    let last = 0;
    const off = run.onProgress((p) => {
      this.progress.set(id, p);
      // The row is redrawn at most ten times a second, from the progress alone: re-reading every record from
      // IndexedDB (handles, bitmaps) and redrawing the list on each tick took CPU from the download itself.
      const now = performance.now();
      if (now - last > 100 || p.blocksDone === p.blocksTotal) {
        last = now;
        this.rows = this.rows.map((r) => (r.record.id === id ? { ...r, progress: p, live: true } : r));
      }
    });
    void run.done
      .then(
        (end) => {
          if (end.state === 'completed' && end.file) this.urls.set(id, URL.createObjectURL(end.file));
        },
        (e) => {
          this.problem = (e as Error).message ?? String(e);
        },
      )
      .finally(async () => {
        off();
        this.live.delete(id);
        await this.refresh();
      });
  }
}

/** The one downloads state of the page. */
export const downloads = new DownloadsState();
