import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The relay target for `/snapshots*` (same-origin relay mode); unset means no proxy.
const relayTarget = process.env.BLOCKPORT_RELAY_TARGET;

export default defineConfig({
  plugins: [svelte()],
  worker: { format: 'es' },
  server: {
    port: Number(process.env.PORT ?? 5173),
    strictPort: false,
    proxy: relayTarget
      ? { '/snapshots': { target: relayTarget, changeOrigin: false, secure: false } }
      : undefined,
  },
  build: { target: 'es2022', sourcemap: true },
});
