// Exposes the worker bridge and what its spec needs around it to e2e/worker-bridge.spec.ts.
import { transfer } from 'comlink';
import * as bridge from '../../src/engine/browser/worker-bridge.ts';
import { openCredentialPorts } from '../../src/aws/credential-bridge.ts';
import type { BridgeTestApi } from './bridge-worker.ts';

/** Starts the spec's test worker. */
const spawnTestWorker = () => bridge.comlinkWorker<BridgeTestApi>(new Worker('/e2e/pages/bridge-worker.ts', { type: 'module' }));

Object.assign(window, { __bridge: { ...bridge, transfer, openCredentialPorts, spawnTestWorker } });
document.getElementById('status')!.textContent = 'ready';
