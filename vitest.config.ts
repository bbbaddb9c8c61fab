import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  // the window's state classes (*.svelte.ts) use runes: compiled as the renderer's build does, so they are unit-tested too
  plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
  test: {
    include: ['app/**/*.test.ts', 'renderer/src/**/*.test.ts', 'scripts/**/*.test.ts', 'test/unit/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
