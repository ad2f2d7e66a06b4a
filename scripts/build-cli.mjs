#!/usr/bin/env node
// Bundles the `blockport` command (cli/main.ts with the engine and the SDK) into one file, .cli-build/blockport.mjs,
// with the list of the sources it was built from. cli/blockport.mjs starts it when no source is newer, else runs the
// TypeScript through tsx as before: a bundle loads in about half the time (no per-module transform, one file to read).
// Run by `npm install` / `npm ci` (prepare) and by `npm run build:cli`; a failure leaves the command on tsx.
import { mkdir, rename, writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// One level under the root, as cli/, src/x and server/ are: code that finds the repository from its own module URL
// (server/spawn-emulator.ts) finds it from the bundle too.
const out = join(root, '.cli-build');

try {
  // Inside the try: an install without esbuild leaves the command on tsx rather than failing.
  const { build } = await import('esbuild');
  await mkdir(out, { recursive: true });
  const tmp = join(out, `blockport.${process.pid}.mjs`);
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['cli/main.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: tmp,
    metafile: true,
    logLevel: 'error',
    // Bundled CommonJS packages (the SDK's) call require for Node's own modules.
    banner: { js: "import { createRequire as __blockportRequire } from 'node:module'; const require = __blockportRequire(import.meta.url);" },
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
  // The lock file stands for the bundled packages: an install that changes them makes the bundle stale.
  inputs.push('package-lock.json');
  await rename(tmp, join(out, 'blockport.mjs'));
  await writeFile(join(out, `inputs.${process.pid}.json`), JSON.stringify(inputs));
  await rename(join(out, `inputs.${process.pid}.json`), join(out, 'inputs.json'));
} catch (err) {
  await rm(join(out, 'inputs.json'), { force: true });
  console.error(`blockport: the command's bundle was not built (${err instanceof Error ? err.message : err}); it runs from its TypeScript sources instead.`);
}
