// Injected faults: random errors, throttling, dropped connections and stalls.

import type { RuntimeConfig } from './config.ts';

/** What to do with one request before it reaches the service. */
export type FaultDecision = { kind: 'none' } | { kind: 'error' } | { kind: 'throttle'; pick: number } | { kind: 'drop' };

/** Draws the fault for one request from the configured rates (`random` injectable for tests). */
export function drawFault(c: Pick<RuntimeConfig, 'errorRate' | 'throttleRate' | 'dropRate'>, random: () => number = Math.random): FaultDecision {
  const r = random();
  if (r < c.errorRate) return { kind: 'error' };
  if (r < c.errorRate + c.throttleRate) return { kind: 'throttle', pick: random() };
  if (r < c.errorRate + c.throttleRate + c.dropRate) return { kind: 'drop' };
  return { kind: 'none' };
}

/** Whether one request stalls (is accepted and never answered), drawn from the stall rate. */
export function drawStall(c: Pick<RuntimeConfig, 'stallRate'>, random: () => number = Math.random): boolean {
  return c.stallRate > 0 && random() < c.stallRate;
}
