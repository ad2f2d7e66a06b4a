import { describe, it } from 'vitest';
import { storeChecks } from '../testing/store-contract.ts';
import { MemoryStore } from './memory-store.ts';

describe('MemoryStore meets the store contract', () => {
  for (const c of storeChecks) it(c.name, () => c.run(new MemoryStore()));
});
