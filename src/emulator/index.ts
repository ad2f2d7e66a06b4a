// Entry points: an emulator (model + SDK clients) over IndexedDB (browser default) or memory.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { createEmulatorClients } from './handler.ts';
import { EbsModel, type EbsModelOptions } from './model.ts';
import { MemoryStore } from './stores/memory-store.ts';
import { IdbStore } from './stores/idb-store.ts';

export { EbsModel } from './model.ts';
export type { EbsModelConfig, EbsModelOptions, SnapshotView, SnapshotState, EmulatorDump } from './model.ts';
export type { EmulatorStore, SnapshotRecord, BlockRecord, StoreStats } from './store.ts';
export { BLOCK_SIZE } from './store.ts';
export type { EmuRequest, EmuResponse, EmuTarget } from './http.ts';
export { handleEbsRequest } from './ebs-wire.ts';
export { handleEc2Request } from './ec2-wire.ts';
export { createEmulatorHandler, createEmulatorClients, EMULATOR_CREDENTIALS } from './handler.ts';
export type { EmulatorClientOptions } from './handler.ts';
export type { EbsOperation, InjectedFault } from './model.ts';
export { MemoryStore } from './stores/memory-store.ts';
export { IdbStore } from './stores/idb-store.ts';
export type { IdbStoreOptions } from './stores/idb-store.ts';

/** A running emulator: the model and SDK clients that talk to it. */
export interface Emulator {
  model: EbsModel;
  ebs: EBSClient;
  ec2: EC2Client;
}

/** Model options without the store (the entry point provides it). */
export type EmulatorOptions = Omit<EbsModelOptions, 'store'>;

/** An emulator over IndexedDB: state survives reloads and is shared by every tab and worker of the origin. */
export async function openBrowserEmulator(dbName = 'blockport-emulator', opts: EmulatorOptions = {}): Promise<Emulator> {
  const store = await IdbStore.open(dbName);
  const model = new EbsModel({ ...opts, store });
  return { model, ...createEmulatorClients(model) };
}

/** An emulator in memory (tests, Node). */
export function createMemoryEmulator(opts: EmulatorOptions = {}): Emulator {
  const model = new EbsModel({ ...opts, store: new MemoryStore() });
  return { model, ...createEmulatorClients(model) };
}
