import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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

// The files that take longest (they start servers, CLIs, boto3 and cfn-lint, and wait on them) start first, so none of
// them is left running alone at the end. Vitest orders by the durations of the last run when it has them; on a clean
// checkout (CI) it has none, and this list stands in for them. Longest first, as measured in CI.
const SLOW_FIRST = [
  'server/sdk-conformance.test.ts',
  'cli/commands/download.test.ts',
  'cli/commands/upload-outage.test.ts',
  'cli/commands/upload.test.ts',
  'src/aws/deploy-validate.test.ts',
  'server/data-dir.test.ts',
  'server/images-conformance.test.ts',
  'server/conformance.test.ts',
  'src/engine/upload/upload-image.test.ts',
  'src/images/formats.test.ts',
  'src/aws/credential-skew.test.ts',
  'cli/commands/inspect.test.ts',
  'server/presign.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((s) => f.moduleId.endsWith(`/${s}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Within each project (Vitest runs the isolated files before the shared ones), the known slow files first; the
    // others keep Vitest's order.
    const projects = [...new Set(sorted.map((f) => f.project.name))];
    return projects.flatMap((p) => sorted.filter((f) => f.project.name === p).sort((a, b) => rank(a) - rank(b)));
  }
}

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
    sequence: { sequencer: SlowFirst },
    projects: [
      {
        extends: true,
        test: { name: 'isolated', include: ['src/**/*.test.ts', 'server/**/*.test.ts', 'cli/**/*.test.ts', 'bench/**/*.test.ts'], exclude: shared },
      },
      { extends: true, test: { name: 'shared', include: shared, isolate: false } },
    ],
  },
});
