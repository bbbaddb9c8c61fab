// Browser end-to-end tests: Debian's Chromium (never a downloaded browser) against `restora serve`
// started by the tests themselves (e2e/support/fixtures.ts), with the real engine and models.
//   npm run test:e2e                              build the renderer, run everything
//   RESTORA_DOCS_SCREENSHOTS=1 npm run test:e2e   also refresh docs/screenshots/*.png
//   RESTORA_E2E_MODELS_DIR=dir                    models to serve (default: models/, else test/fixtures/models)
import { defineConfig } from '@playwright/test';

export const CHROMIUM = process.env.RESTORA_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  testMatch: /.*\.spec\.ts$/,
  outputDir: 'e2e/artifacts/test-results',
  // 2 cores: one browser and one engine at a time, so timings (region preview, cancel) mean something
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [['list'], ['html', { outputFolder: 'e2e/artifacts/report', open: 'never' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1360, height: 820 },
    deviceScaleFactor: 1,
    colorScheme: 'dark',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    },
  },
});
