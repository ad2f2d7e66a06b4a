import { describe, it } from 'vitest';
import { scenarios, type ConformanceContext } from './testing/conformance/index.ts';
import { createEmulatorClients, createMemoryEmulator, EbsModel } from './index.ts';

/** A fresh in-memory emulator with a clock the scenario moves. */
function memoryContext(): ConformanceContext {
  let now = Date.UTC(2026, 0, 1);
  const emu = createMemoryEmulator({ clock: () => now, completionDelayMs: 3000 });
  return {
    ebs: emu.ebs,
    ec2: emu.ec2,
    completionDelayMs: emu.model.config.completionDelayMs,
    advanceTime: (ms) => {
      now += ms;
    },
    configure: (patch) => {
      Object.assign(emu.model.config, patch);
    },
    stats: () => emu.model.store.stats(),
    failNext: (op, fault) => emu.model.failNext(op as never, fault),
    otherAccount: async () => createEmulatorClients(new EbsModel({ store: emu.model.store, clock: () => now, accountId: '444455556666' })),
  };
}

describe('EBS direct API conformance through @aws-sdk/client-ebs and client-ec2 (memory store)', () => {
  for (const s of scenarios) it(s.name, () => s.run(memoryContext()));
});
