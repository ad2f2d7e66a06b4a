// Whether the command's bundle (scripts/build-cli.mjs) may run: it exists and no source it was built from is newer.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The bundle's path under `root` when it is at least as new as every source it lists, else null. */
export function freshBundle(root, env = process.env) {
  if (env.BLOCKPORT_CLI_SOURCES === '1') return null;
  const bundle = join(root, '.cli-build', 'blockport.mjs');
  try {
    const inputs = JSON.parse(readFileSync(join(root, '.cli-build', 'inputs.json'), 'utf8'));
    if (!Array.isArray(inputs) || !inputs.length) return null;
    const built = statSync(bundle).mtimeMs;
    for (const f of inputs) if (statSync(join(root, f)).mtimeMs > built) return null;
    return bundle;
  } catch {
    // No bundle, no list, or a listed source gone: the sources run.
    return null;
  }
}
