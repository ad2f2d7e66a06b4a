import { defineConfig, type ProxyOptions } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { relayRoutes } from './src/aws/relay-routes.ts';

// The relay target for `/snapshots*`, `/ec2/*`, `/cognito-identity/*` (same-origin relay mode): a URL such as the
// emulator server (`npm run emulator`), or `aws:<region>` for AWS itself; unset means no proxy.
const relayTarget = process.env.BLOCKPORT_RELAY_TARGET;
// Path prefix of the relay on this origin; must match the relay base path in the app's connection settings.
const relayBase = process.env.BLOCKPORT_RELAY_BASE ?? '';

function relayProxy(): Record<string, ProxyOptions> | undefined {
  if (!relayTarget) return undefined;
  return Object.fromEntries(
    relayRoutes(relayTarget, relayBase).map((r) => [
      r.pattern,
      {
        target: r.target,
        changeOrigin: r.changeOrigin,
        secure: r.changeOrigin,
        rewrite: r.rewrite,
        // SigV4 signed the AWS host: the target must see that Host, as CloudFront's AllViewerExceptHostHeader does.
        configure: (proxy) => {
          proxy.on('proxyReq', (proxyReq, req) => {
            const host = r.host(req.headers.authorization);
            if (host) proxyReq.setHeader('host', host);
          });
        },
      } satisfies ProxyOptions,
    ]),
  );
}

export default defineConfig({
  plugins: [svelte()],
  worker: { format: 'es' },
  server: {
    port: Number(process.env.PORT ?? 5173),
    strictPort: false,
    proxy: relayProxy(),
  },
  preview: { proxy: relayProxy() },
  // CommonJS decoders that only workers import: bundled up front, so the dev server does not reload a page mid-test
  // when a worker first asks for them.
  optimizeDeps: { include: ['xz-decompress', 'unbzip2-stream/lib/bzip2.js', 'unbzip2-stream/lib/bit_iterator.js'] },
  // The plugin-timings notice says how long the build's plugins took: not something a user acts on.
  build: { target: 'es2022', sourcemap: true, rolldownOptions: { checks: { pluginTimings: false } } },
});
