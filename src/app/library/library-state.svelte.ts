// The snapshot library: snapshots (EC2 DescribeSnapshots) as a lineage tree, storage, delete, import, export.
import { createClients, type Connection } from '../../aws/clients.ts';
import { deleteSnapshot, listSnapshots } from '../../aws/snapshots.ts';
import { startUpload } from '../../engine/api.ts';
import { idbManifestStore } from '../../engine/api.ts';
import { lineageTree, type Placed } from './lineage-tree.ts';

/** One snapshot as the library shows it. */
export interface LibraryItem {
  id: string;
  parentId: string | null;
  startTime: number;
  state: string;
  stateMessage?: string;
  /** The service's progress of a pending snapshot ("60%"). */
  progress?: string;
  volumeSizeGiB?: number;
  /** Bytes written to this snapshot itself (emulator only; AWS does not say). */
  storedBytes?: number;
  description?: string;
  tags: Record<string, string>;
  /** Size of the image Blockport uploaded, when it recorded a manifest. */
  imageSize?: number;
}

/** Storage of this origin (emulator data, manifests, downloads in OPFS). */
export interface StorageInfo {
  usage: number;
  quota: number;
  persisted: boolean;
}

/** The library view's state. */
export class LibraryState {
  items = $state.raw<Placed<LibraryItem>[]>([]);
  loaded = $state(false);
  busy = $state(false);
  problem = $state<string | null>(null);
  notice = $state<string | null>(null);
  storage = $state.raw<StorageInfo | null>(null);
  /** Progress of an import, 0–1, while one runs. */
  importing = $state<number | null>(null);
  #running: Promise<void> | undefined;
  #again = false;
  #connection: Connection | undefined;

  /**
   * Keeps the list live while the view shows: the emulator's change notices (every tab writing to it) and polling,
   * every second while a snapshot is pending (completion happens by the clock and writes nothing), else every
   * 5 s for the emulator and 30 s for AWS. Returns the function that stops it.
   */
  watch(connection: Connection): () => void {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let soon: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe: (() => void) | undefined;
    const poll = async () => {
      await this.refresh(connection);
      if (stopped) return;
      const pending = this.items.some((i) => i.state === 'pending');
      timer = setTimeout(poll, pending ? 1000 : connection.kind === 'emulator' ? 5000 : 30_000);
    };
    if (connection.kind === 'emulator') {
      void createClients(connection)
        .then((clients) => {
          if (stopped || !clients.emulator) return clients.close();
          // A burst of puts notifies once per transaction: one read per 250 ms is plenty for a table.
          const off = clients.emulator.subscribe(() => {
            soon ??= setTimeout(() => {
              soon = undefined;
              void this.refresh(connection);
            }, 250);
          });
          unsubscribe = () => {
            off();
            clients.close();
          };
        })
        .catch(() => undefined); // refresh() says what is wrong with the database
    }
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(soon);
      unsubscribe?.();
    };
  }

  /** Reads the snapshots of the connection: all of the emulator's, or the account's that Blockport made. Calls that arrive while a read runs share one more read. */
  refresh(connection: Connection): Promise<void> {
    this.#connection = connection;
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#read(this.#connection!);
      } while (this.#again);
      this.#running = undefined;
    })();
    return this.#running;
  }

  async #read(connection: Connection): Promise<void> {
    this.busy = true;
    const clients = await createClients(connection);
    try {
      const emulator = connection.kind === 'emulator';
      const summaries = await listSnapshots(clients.ec2, { onlyBlockport: !emulator });
      const manifests = new Map((await idbManifestStore().list().catch(() => [])).map((m) => [m.snapshotId, m]));
      const views = new Map<string, { parentId: string | null; ownBytes: number }>();
      if (clients.emulator) {
        // The emulator knows lineage and stored bytes; EC2's view carries neither.
        for (const v of await clients.emulator.snapshotViews()) views.set(v.id, { parentId: v.parentId, ownBytes: v.ownBytes });
      }
      const items: LibraryItem[] = summaries.map((s) => {
        const v = views.get(s.snapshotId);
        const m = manifests.get(s.snapshotId);
        return {
          id: s.snapshotId,
          parentId: v?.parentId ?? m?.parentSnapshotId ?? null,
          startTime: s.startTime?.getTime() ?? 0,
          state: s.state,
          ...(s.stateMessage ? { stateMessage: s.stateMessage } : {}),
          ...(s.progress ? { progress: s.progress } : {}),
          ...(s.volumeSizeGiB !== undefined ? { volumeSizeGiB: s.volumeSizeGiB } : {}),
          ...(v ? { storedBytes: v.ownBytes } : {}),
          ...(s.description ? { description: s.description } : {}),
          tags: s.tags,
          ...(m?.imageSize ? { imageSize: m.imageSize } : {}),
        };
      });
      this.items = lineageTree(items);
      this.problem = null;
    } catch (e) {
      this.problem = `The snapshots could not be listed (${(e as Error).message}). Check the connection, then refresh.`;
    } finally {
      clients.close();
      this.busy = false;
      this.loaded = true;
    }
    await this.refreshStorage();
  }

  /** Reads the origin's storage use and whether it is persistent. */
  async refreshStorage(): Promise<void> {
    if (typeof navigator === 'undefined' || !navigator.storage?.estimate) return;
    const e = await navigator.storage.estimate();
    this.storage = { usage: e.usage ?? 0, quota: e.quota ?? 0, persisted: (await navigator.storage.persisted?.()) ?? false };
  }

  /** Asks the browser to keep this origin's data under storage pressure. */
  async requestPersistence(): Promise<void> {
    const granted = (await navigator.storage.persist?.()) ?? false;
    this.notice = granted
      ? 'The browser will keep the emulator’s snapshots even when storage runs low.'
      : 'The browser declined persistent storage (it decides by site engagement); the snapshots stay until storage runs low or site data is cleared.';
    await this.refreshStorage();
  }

  /** Deletes a snapshot (EC2 DeleteSnapshot) and its recorded manifest. */
  async remove(id: string, connection: Connection): Promise<void> {
    this.problem = null;
    const clients = await createClients(connection);
    try {
      await deleteSnapshot(clients.ec2, id);
      await idbManifestStore().delete(id).catch(() => undefined);
      this.notice = `Deleted ${id}.`;
    } catch (e) {
      this.problem = `${id} could not be deleted: ${(e as Error).message}`;
    } finally {
      clients.close();
    }
    await this.refresh(connection);
  }

  /** Imports a raw (or any supported) image file as a new snapshot through the upload engine. */
  async importFile(file: File, connection: Connection): Promise<string | undefined> {
    this.problem = null;
    this.importing = 0;
    try {
      const run = await startUpload({ file, connection, options: { description: `Imported ${file.name}`.slice(0, 255) } });
      const off = run.onProgress((p) => (this.importing = p.totalBlocks ? p.ackedBlocks / p.totalBlocks : 0));
      const report = await run.done.finally(off);
      if (report.state !== 'completed') throw new Error(report.stateMessage ?? 'the snapshot ended in error');
      this.notice = `Imported ${file.name} as ${report.snapshotId}.`;
      return report.snapshotId;
    } catch (e) {
      this.problem = `${file.name} could not be imported: ${(e as Error).message}`;
      return undefined;
    } finally {
      this.importing = null;
      await this.refresh(connection);
    }
  }
}

/** The page's one library state. */
export const library = new LibraryState();
