// Test support for the file-system store: a fresh directory per test, and blocks told apart by their first bytes.
import { afterEach, beforeEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK_SIZE } from '../store.ts';

/** Makes a new temporary directory before each test (handed to `made`) and removes it after the test. */
export function tempDirEachTest(prefix: string, made: (dir: string) => void): void {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    made(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
}

/** A whole block whose first 64 bytes are `fill`, the rest zeros. */
export function markedBlock(fill: number): Uint8Array {
  const b = new Uint8Array(BLOCK_SIZE);
  b.fill(fill, 0, 64);
  return b;
}
