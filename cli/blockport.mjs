#!/usr/bin/env node
// The `blockport` command: registers the TypeScript loader, then runs cli/main.ts.
import { register } from 'tsx/esm/api';

// Node 20.19+ is supported with the SDK versions this package locks; the SDK's notice about its future releases
// is not something a user of this command can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
