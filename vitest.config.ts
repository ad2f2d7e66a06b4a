import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Files of pure computation share their worker's loaded modules (the SDK, the readers, the emulator model): loading
// them again for each file costs about a second of CPU a file. Files that mock a module stay isolated, as do the
// servers', CLIs' and connections' tests (they set process-wide state: the service clock, the environment).
const SHARED_DIRS = ['src/images', 'src/engine', 'src/emulator'];
const ISOLATED_ANYWAY = new Set(['src/emulator/stores/fs-store-durability.test.ts']);
const shared = SHARED_DIRS.flatMap((dir) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => `${dir}/${f}`)
    .filter((f) => f.endsWith('.test.ts') && !ISOLATED_ANYWAY.has(f)),
);

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one fork per core less one: a single fork on a 2-core machine. Most of these tests wait on
    // servers, CLIs, boto3 and qemu-img they start, so three forks finish in about half the time.
    maxWorkers: Number(process.env.VITEST_WORKERS ?? 3),
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: { name: 'isolated', include: ['src/**/*.test.ts', 'server/**/*.test.ts', 'cli/**/*.test.ts', 'bench/**/*.test.ts'], exclude: shared },
      },
      { extends: true, test: { name: 'shared', include: shared, isolate: false } },
    ],
  },
});
