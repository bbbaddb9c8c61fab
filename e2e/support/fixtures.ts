// Playwright fixtures: one `restora serve` per worker (the real CLI, engine and models), a fresh
// work folder per test, and a page that fails the test on any CSP violation or script error.
import { test as base, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export const root = path.resolve(import.meta.dirname, '..', '..');
export const artifacts = path.join(root, 'e2e', 'artifacts');

export interface Served {
  url: string;
  origin: string;
  port: number;
  token: string;
  dataDir: string;
  modelsDir: string;
  /** true when serving the shipped models (models/), false for the tiny test fixtures */
  shipped: boolean;
  log: () => string;
}

function hasModels(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  const tasks = new Set<string>();
  for (const id of fs.readdirSync(dir)) {
    const card = path.join(dir, id, 'card.json');
    if (!fs.existsSync(card) || !fs.existsSync(path.join(dir, id, 'model.onnx'))) continue;
    const m = /"task"\s*:\s*"(\w+)"/.exec(fs.readFileSync(card, 'utf8'));
    if (m) tasks.add(m[1]);
  }
  return tasks.has('denoise') && tasks.has('inpaint') && tasks.has('upscale');
}

/** The shipped models when they are there (all three tasks), else the tiny test fixtures. */
export function chooseModels(): { dir: string; shipped: boolean } {
  const env = process.env.RESTORA_E2E_MODELS_DIR;
  if (env) return { dir: path.resolve(env), shipped: path.resolve(env) === path.join(root, 'models') };
  const shipped = path.join(root, 'models');
  if (hasModels(shipped)) return { dir: shipped, shipped: true };
  return { dir: path.join(root, 'test', 'fixtures', 'models'), shipped: false };
}

async function startServe(dataDir: string, modelsDir: string): Promise<{ child: ChildProcess; url: string; out: string[] }> {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'restora.js'), 'serve', '--port', '0', '--models-dir', modelsDir, '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, RESTORA_DATA_DIR: dataDir, RESTORA_MODELS_DIR: modelsDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`restora serve printed no URL in 60 s:\n${out.join('')}`)), 60_000);
    const onData = (b: Buffer) => {
      out.push(b.toString());
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_%-]+)/.exec(out.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (b: Buffer) => out.push(b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`restora serve exited (${code}) before printing its URL:\n${out.join('')}`));
    });
  });
  return { child, url, out };
}

export interface Problems {
  csp: string[];
  errors: string[];
}

export const test = base.extend<{ work: string; app: Page; problems: Problems }, { served: Served }>({
  served: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restora-e2e-data-'));
      const models = chooseModels();
      const { child, url, out } = await startServe(dataDir, models.dir);
      const u = new URL(url);
      console.log(`e2e: restora serve at ${u.origin} with ${models.shipped ? 'the shipped models' : 'the test fixture models'} (${models.dir})`);
      await use({
        url,
        origin: u.origin,
        port: Number(u.port),
        token: u.searchParams.get('token') ?? '',
        dataDir,
        modelsDir: models.dir,
        shipped: models.shipped,
        log: () => out.join(''),
      });
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 120_000 },
  ],

  // eslint-disable-next-line no-empty-pattern
  work: async ({}, use, info) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `restora-e2e-${info.title.replace(/\W+/g, '-').slice(0, 40)}-`));
    await use(fs.realpathSync(dir));
    fs.rmSync(dir, { recursive: true, force: true });
  },

  problems: async ({ page }, use) => {
    const p: Problems = { csp: [], errors: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) p.csp.push(m.text());
    });
    page.on('pageerror', (e) => p.errors.push(String(e)));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`Refused to load by Content Security Policy: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await use(p);
    expect(p.csp, 'no Content-Security-Policy violations').toEqual([]);
    expect(p.errors, 'no uncaught script errors').toEqual([]);
  },

  app: async ({ page, served, problems }, use) => {
    void problems;
    // the server is shared by the worker's tests: each starts with an empty queue, not the last test's
    fs.rmSync(path.join(served.dataDir, 'work.json'), { force: true });
    await page.goto(served.url);
    await expect(page.getByRole('heading', { name: /^Queue/ })).toBeVisible();
    // the token left the address bar
    expect(page.url()).not.toContain('token=');
    await expect(page.getByRole('status', { name: /Execution provider in use/ })).toBeVisible();
    await use(page);
  },
});

export { expect };

/** Add a path through the web-mode path field, as a user would. */
export async function addPath(page: Page, p: string): Promise<void> {
  await page.getByLabel('Path to a photo or folder').fill(p);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
}

export function row(page: Page, file: string) {
  return page.locator(`li[data-path="${file.replace(/"/g, '\\"')}"]`);
}

/**
 * Keep a screenshot as a test artifact; with RESTORA_DOCS_SCREENSHOTS=1 and a docs name, also
 * refresh docs/screenshots/<name>.png (palette PNG, under 150 KB) for the README.
 */
export async function shot(page: Page, name: string, docs?: string): Promise<void> {
  const dir = path.join(artifacts, 'screens');
  fs.mkdirSync(dir, { recursive: true });
  const forDocs = !!docs && process.env.RESTORA_DOCS_SCREENSHOTS === '1';
  if (forDocs) {
    // passing notifications would only clutter the README's pictures
    const dismiss = page.getByRole('button', { name: 'Dismiss notification' });
    for (let i = 0; i < 10 && (await dismiss.count()) > 0; i++) await dismiss.first().click({ timeout: 2000 }).catch(() => undefined);
  }
  const buf = await page.screenshot({ path: path.join(dir, `${name}.png`) });
  if (forDocs && docs) {
    const outDir = path.join(root, 'docs', 'screenshots');
    fs.mkdirSync(outDir, { recursive: true });
    let width = 1360;
    let png: Buffer;
    do {
      png = await sharp(buf).resize({ width, withoutEnlargement: true }).png({ palette: true, colours: 128, compressionLevel: 9, effort: 10 }).toBuffer();
      width = Math.round(width * 0.85);
    } while (png.length > 150 * 1024 && width > 500);
    expect(png.length, `${docs}.png under 150 KB`).toBeLessThan(150 * 1024);
    fs.writeFileSync(path.join(outDir, `${docs}.png`), png);
  }
}
