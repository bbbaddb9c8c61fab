// Process boundaries from DESIGN.md are errors, not warnings.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const electronBan = { name: 'electron', message: 'The engine is pure Node: it never imports electron.' };

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'renderer/dist/', 'test-results/', 'playwright-report/', '**/*.svelte', 'scripts/training/', 'e2e/artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['app/contract/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['*', '!zod'], message: 'app/contract imports nothing but its schema library.' }] }],
    },
  },
  {
    files: ['app/engine/**', 'app/cli/**', 'app/server/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [electronBan], patterns: [{ group: ['electron/*'], message: electronBan.message }] }] },
  },
  {
    files: ['app/main/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/engine', '**/engine/**'], message: 'main never imports the engine: it talks to the host.' }] }],
    },
  },
  {
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electronBan],
        patterns: [
          { group: ['**/app/*', '!**/app/contract', '!**/app/contract/**'], message: 'The renderer imports only app/contract.' },
          { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'sharp', 'onnxruntime-node'], message: 'The renderer uses browser APIs only.' },
        ],
      }],
    },
  },
);
