// State of the snapshot list: the emulator's snapshots, refreshed on store changes and by a polling fallback.
import type { EbsModel, SnapshotView } from '../../emulator/model.ts';

/** A snapshot row with its lineage resolved against the other rows. */
export interface SnapshotRow extends SnapshotView {
  /** Ancestor ids, nearest first; a missing (deleted) ancestor ends the chain. */
  lineage: string[];
  /** True when the nearest ancestor is no longer listed (deleted through EC2). */
  parentGone: boolean;
}

/** Ancestors of each row, nearest first. */
export function withLineage(views: SnapshotView[]): SnapshotRow[] {
  const byId = new Map(views.map((v) => [v.id, v]));
  return views.map((v) => {
    const lineage: string[] = [];
    const seen = new Set([v.id]);
    for (let p = v.parentId; p && !seen.has(p); p = byId.get(p)?.parentId ?? null) {
      lineage.push(p);
      seen.add(p);
      if (!byId.has(p)) break;
    }
    return { ...v, lineage, parentGone: v.parentId !== null && !byId.has(v.parentId) };
  });
}

/** Live list of the emulator's snapshots. */
export class SnapshotListState {
  rows = $state.raw<SnapshotRow[]>([]);
  loaded = $state(false);
  problem = $state<string | null>(null);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly model: EbsModel) {}

  /** Reads the snapshots now (coalescing calls that arrive while a read runs). */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          this.rows = withLineage(await this.model.listSnapshots());
          this.problem = null;
        } catch (e) {
          this.problem = `The emulator's snapshots could not be read (${(e as Error).message}). Reload the page; if it persists, clear the site's storage.`;
        }
        this.loaded = true;
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
    return this.running;
  }

  /** Starts listening: store change notices (other tabs too) plus polling, faster while something is pending. */
  start(): () => void {
    this.stopped = false;
    // A burst of puts notifies per transaction: one read per 250 ms is plenty for a table.
    let soon: ReturnType<typeof setTimeout> | undefined;
    const unsubscribe = this.model.store.subscribe(() => {
      soon ??= setTimeout(() => {
        soon = undefined;
        void this.refresh();
      }, 250);
    });
    const poll = async () => {
      await this.refresh();
      if (this.stopped) return;
      // Pending snapshots complete by the clock, which writes nothing: poll to see it.
      const pending = this.rows.some((r) => r.state === 'pending');
      this.timer = setTimeout(poll, pending ? 1000 : 5000);
    };
    void poll();
    return () => {
      this.stopped = true;
      unsubscribe();
      clearTimeout(this.timer);
      clearTimeout(soon);
    };
  }
}
