import { describe, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeChecks } from '../testing/store-contract.ts';
import { FsStore } from './fs-store.ts';

describe('FsStore meets the store contract', () => {
  for (const c of storeChecks) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'blockport-fs-contract-'));
      const store = await FsStore.open(dir);
      try {
        await c.run(store);
      } finally {
        store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
