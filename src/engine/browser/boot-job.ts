// How a completed snapshot boots, read in a worker: the connection (credentials as a port to the page) → clients →
// inspectSnapshotBoot over the snapshot's blocks.
import { createClients, type Connection } from '../../aws/clients.ts';
import type { BootInfo } from '../../images/boot/detect-boot.ts';
import type { NitroFinding } from '../../images/boot/nitro-check.ts';
import { inspectSnapshotBoot } from '../snapshot-boot.ts';

/** What the worker needs to read one snapshot's boot. */
export interface SnapshotBootArgs {
  /** The connection with credentials (a port in the worker); the in-browser emulator is opened here. */
  connection: Connection;
  snapshotId: string;
  volumeSizeGiB: number;
}

/** Boot detection and Nitro findings of a snapshot. */
export interface SnapshotBoot {
  boot: BootInfo;
  nitro: NitroFinding[];
}

/** The boot worker's API. */
export const bootJobApi = {
  /** Reads how args.snapshotId boots from its blocks; the clients are closed afterwards. */
  async inspect(args: SnapshotBootArgs): Promise<SnapshotBoot> {
    const clients = await createClients(args.connection);
    try {
      return await inspectSnapshotBoot(clients.ebs, args.snapshotId, args.volumeSizeGiB);
    } finally {
      clients.close();
    }
  },
};
export type BootJobApi = typeof bootJobApi;
