#!/usr/bin/env node
// The `blockport` command: runs the bundle scripts/build-cli.mjs made when no source it was built from is newer,
// else registers the TypeScript loader and runs cli/main.ts (BLOCKPORT_CLI_SOURCES=1 always does).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from './bundle-check.mjs';

// Node 20.19+ is supported with the SDK versions this package locks; the SDK's notice about its future releases
// is not something a user of this command can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const bundle = freshBundle(join(dirname(fileURLToPath(import.meta.url)), '..'));
let main;
if (bundle) ({ main } = await import(pathToFileURL(bundle).href));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
