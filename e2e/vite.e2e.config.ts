// The site the browser tests run against: the production build of the app (as deploy.sh ships it), plus the test
// pages and the modules the specs import into a page (probes, harnesses, test workers) as extra entries of the same
// build. They share its chunks, so a probe that imports `src/app/shared/connection.svelte.ts` gets the app's own
// instance, as it does on the dev server. `vite preview` serves it; a request for `/e2e/…/x.ts` or `/src/…/x.ts` is
// answered with the built `x.js`, so the specs name modules by their source path either way.
//
// Why a build: on the dev server each page load fetches about 190 modules (12 MB with the SDK's prebundles), which cost
// Chromium and the runner about 2.5 s of CPU a load more than the build's seven requests; the suite loads pages about
// 150 times on a 2-core machine.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeConfig, type Plugin, type UserConfig } from 'vite';
import base from '../vite.config.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every page and module the specs name by its source path (`'/e2e/helpers/jobs-probe.ts'`, `'/src/aws/clients.ts'`,
 * `'/e2e/pages/images.html'`), found in their text, so a spec that names a new one needs no list kept in step.
 */
function namedBySpecs(): string[] {
  const found = new Set<string>();
  for (const f of readdirSync(join(root, 'e2e'), { recursive: true, encoding: 'utf8' })) {
    if (!/\.ts$/.test(f) || f.endsWith('vite.e2e.config.ts')) continue;
    for (const m of readFileSync(join(root, 'e2e', f), 'utf8').matchAll(/['"`]\/((?:e2e|src)\/[\w./-]+\.(?:ts|html))['"`]/g)) found.add(m[1]!);
  }
  for (const f of readdirSync(join(root, 'e2e', 'pages'))) if (f.endsWith('.html')) found.add(`e2e/pages/${f}`);
  return [...found].sort();
}

const input = Object.fromEntries([['index', 'index.html'], ...namedBySpecs().map((p) => [p, p])].map(([k, v]) => [k, join(root, v!)]));

/** `/e2e/…/x.ts` and `/src/…/x.ts` → the entry's built `x.js`. */
function sourcePathUrls(): Plugin {
  return {
    name: 'blockport-e2e-source-paths',
    configurePreviewServer(server) {
      server.middlewares.use((req, _res, next) => {
        if (req.url && /^\/(e2e|src)\/[^?#]*\.ts([?#]|$)/.test(req.url)) req.url = req.url.replace(/\.ts([?#]|$)/, '.js$1');
        next();
      });
    },
  };
}

export default mergeConfig(base, {
  root,
  plugins: [sourcePathUrls()],
  build: {
    outDir: process.env.BLOCKPORT_E2E_DIST ?? join(root, 'node_modules', '.blockport-e2e-dist'),
    emptyOutDir: true,
    // Readable stacks in a failed test's output; no minifier pass to pay for on every run.
    minify: false,
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input,
      preserveEntrySignatures: 'exports-only',
      output: {
        entryFileNames: (chunk) => {
          const id = chunk.facadeModuleId;
          if (id && /\.tsx?$/.test(id) && !id.endsWith('/src/main.ts')) {
            const rel = relative(root, id);
            if (rel.startsWith('e2e/') || rel.startsWith('src/')) return rel.replace(/\.ts$/, '.js');
          }
          return 'assets/[name]-[hash].js';
        },
      },
    },
  },
} satisfies UserConfig);
