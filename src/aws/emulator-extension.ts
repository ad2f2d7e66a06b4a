// What the in-browser emulator answers beyond the EBS and EC2 APIs, reached like every other call: through the clients.
import type { EbsModel } from '../emulator/index.ts';

/** A snapshot as only the emulator knows it: its parent and the bytes written to it itself. */
export interface EmulatorSnapshotView {
  id: string;
  parentId: string | null;
  ownBytes: number;
}

/** The emulator connection's extension calls (AWS has no such calls: its clients carry none). */
export interface EmulatorExtension {
  /** Lineage and stored bytes of every snapshot (EC2's view carries neither). */
  snapshotViews(): Promise<EmulatorSnapshotView[]>;
  /** Calls onChange after changes to the emulator's store, from any tab or worker; returns the function that stops it. */
  subscribe(onChange: () => void): () => void;
}

/** The extension calls over one emulator model. */
export function emulatorExtension(model: EbsModel): EmulatorExtension {
  return {
    async snapshotViews() {
      return (await model.listSnapshots()).map((v) => ({ id: v.id, parentId: v.parentId, ownBytes: v.ownBytes }));
    },
    subscribe: (onChange) => model.store.subscribe(onChange),
  };
}
