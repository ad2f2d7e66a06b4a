// The compare view's state: two snapshot ids, the ListChangedBlocks result, its block map and exports.
import { createClients, type Connection } from '../../aws/clients.ts';
import { compareSnapshots, type Comparison } from '../../engine/api.ts';
import { blockMap, comparisonToCsv, comparisonToJson, type MapCell } from '../../engine/api.ts';

const SNAPSHOT_ID = /^snap-[0-9a-f]{8,60}$/;

/** Cells in the block map. */
export const MAP_CELLS = 512;

/** Two snapshots compared. */
export class CompareState {
  first = $state('');
  second = $state('');
  busy = $state(false);
  found = $state(0);
  problem = $state<string | null>(null);
  result = $state.raw<Comparison | null>(null);
  cells = $derived.by<MapCell[]>(() => (this.result ? blockMap(this.result, MAP_CELLS) : []));

  /** Lists the changed blocks between the two snapshots. */
  async run(connection: Connection): Promise<void> {
    this.problem = null;
    this.result = null;
    const a = this.first.trim();
    const b = this.second.trim();
    for (const [label, v] of [['first', a], ['second', b]] as const) {
      if (!SNAPSHOT_ID.test(v)) {
        this.problem = `The ${label} snapshot id "${v}" is not valid. Enter an id like snap-0123456789abcdef0.`;
        return;
      }
    }
    this.busy = true;
    this.found = 0;
    const clients = await createClients(connection);
    try {
      this.result = await compareSnapshots({
        ebs: clients.ebs,
        firstSnapshotId: a,
        secondSnapshotId: b,
        lagMs: 5000,
        onPage: (n) => (this.found = n),
      });
    } catch (e) {
      this.problem = (e as Error).message;
    } finally {
      clients.close();
      this.busy = false;
    }
  }

  /** The comparison as a JSON file (object URL) and its name. */
  jsonFile(): { url: string; name: string } | null {
    const r = this.result;
    if (!r) return null;
    const blob = new Blob([JSON.stringify(comparisonToJson(r), null, 1)], { type: 'application/json' });
    return { url: URL.createObjectURL(blob), name: `${r.firstSnapshotId}-${r.secondSnapshotId}.json` };
  }

  /** The comparison as a CSV file (object URL) and its name. */
  csvFile(): { url: string; name: string } | null {
    const r = this.result;
    if (!r) return null;
    const blob = new Blob([comparisonToCsv(r)], { type: 'text/csv' });
    return { url: URL.createObjectURL(blob), name: `${r.firstSnapshotId}-${r.secondSnapshotId}.csv` };
  }
}

/** The page's one compare state. */
export const compare = new CompareState();
