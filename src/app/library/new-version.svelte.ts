// Hand-over from the library to the upload form: "upload as a new version of snapshot X".
import { idbManifestStore } from '../../engine/api.ts';

/** What the upload form should prefill as the parent, set by the library's "New version" button. */
class NewVersion {
  parent = $state('');

  /** Asks the upload view to start a new version of snapshotId. */
  request(snapshotId: string): void {
    this.parent = snapshotId;
  }

  /** Takes the pending request (once). */
  take(): string {
    const p = this.parent;
    this.parent = '';
    return p;
  }
}

/** The page's one hand-over. */
export const newVersion = new NewVersion();

/** Whether Blockport recorded the per-block digests of snapshotId when it uploaded it. */
export async function hasManifest(snapshotId: string): Promise<boolean> {
  return !!(await idbManifestStore().get(snapshotId).catch(() => undefined));
}
