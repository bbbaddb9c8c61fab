// Builds the Svelte UI into renderer/dist, served by the Electron app:// protocol and by web mode.
// No inline scripts or styles end up in the output: both hosts send a strict CSP.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// the renderer folder (vite runs the config under Node; no node: import needed here)
const root = import.meta.dirname;

export default defineConfig({
  root,
  base: './',
  plugins: [svelte({ compilerOptions: { runes: true } })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // the module-preload polyfill is an inline script: not needed in Chromium, and the CSP forbids it
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: { port: 5173, strictPort: false },
});
