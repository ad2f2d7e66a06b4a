import { databaseOpener } from './idb-open.ts';
import type { Manifest, ManifestStore } from '../manifest.ts';

/** IndexedDB database that keeps one manifest per snapshot Blockport uploaded. */
export const MANIFEST_DB = 'blockport-manifests';

const db = databaseOpener((d) => {
  d.createObjectStore('manifests', { keyPath: 'snapshotId' });
});

/** The browser's ManifestStore (IndexedDB; works in pages and workers). */
export function idbManifestStore(name = MANIFEST_DB): ManifestStore {
  return {
    async get(id) {
      return (await (await db(name)).get('manifests', id)) as Manifest | undefined;
    },
    async put(m) {
      await (await db(name)).put('manifests', m);
    },
    async delete(id) {
      await (await db(name)).delete('manifests', id);
    },
    async list() {
      return (await (await db(name)).getAll('manifests')) as Manifest[];
    },
  };
}

/** Records the manifest of a completed upload (what the upload engine calls when a snapshot completes). */
export async function saveManifest(m: Manifest, store: ManifestStore = idbManifestStore()): Promise<void> {
  await store.put(m);
}
