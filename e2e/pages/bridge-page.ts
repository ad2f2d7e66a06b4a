// Exposes the worker bridge and what its spec needs around it to e2e/worker-bridge.spec.ts.
import { transfer } from 'comlink';
import * as bridge from '../../src/engine/browser/worker-bridge.ts';
import { openCredentialPorts } from '../../src/aws/credential-bridge.ts';

Object.assign(window, { __bridge: { ...bridge, transfer, openCredentialPorts } });
document.getElementById('status')!.textContent = 'ready';
