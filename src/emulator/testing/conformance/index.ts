// Conformance scenarios for the EBS direct API emulator, driven only through the SDK clients, one file per section of
// the reference (wire protocol, errors, semantics of writes, reads and snapshots, quotas).
// Shared by the Vitest suite (memory store), the Playwright page (IndexedDB store) and the HTTP server's tests.
import type { ConformanceContext, Scenario } from './kit.ts';
import { wireScenarios } from './wire.ts';
import { errorScenarios } from './errors.ts';
import { writeScenarios } from './writes.ts';
import { readScenarios } from './reads.ts';
import { snapshotScenarios } from './snapshots.ts';
import { quotaScenarios } from './quotas.ts';

export { BLOCK, ConformanceError, checksumOf, linearOf, makeBlock, type ConformanceContext, type Scenario } from './kit.ts';

/** Every scenario, in a stable order. */
export const scenarios: Scenario[] = [...wireScenarios, ...errorScenarios, ...writeScenarios, ...readScenarios, ...snapshotScenarios, ...quotaScenarios];

/** Outcome of one scenario when run outside a test framework. */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  skipped?: boolean;
  error?: string;
}

/** Runs scenarios one after the other with a fresh context from `makeContext`, collecting results. */
export async function runScenarios(makeContext: (name: string) => Promise<ConformanceContext>, only?: (s: Scenario) => boolean): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const s of scenarios) {
    if (only && !only(s)) continue;
    const ctx = await makeContext(s.name);
    if (s.needs?.some((n) => !ctx[n])) {
      out.push({ name: s.name, ok: true, skipped: true });
      continue;
    }
    try {
      await s.run(ctx);
      out.push({ name: s.name, ok: true });
    } catch (e) {
      out.push({ name: s.name, ok: false, error: (e as Error).stack ?? String(e) });
    }
  }
  return out;
}
