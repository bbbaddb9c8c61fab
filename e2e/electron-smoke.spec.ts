// Smoke test of the real desktop app through Playwright's _electron: launch, check the window is
// locked down, restore one photo end to end (dialog -> files.add -> batch.start -> batch.done ->
// result shown through restora://). Runs wherever an Electron binary is installed; elsewhere (these
// CI machines cannot download it) it is skipped with the reason printed.
//   npx playwright test e2e/electron-smoke.spec.ts
import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test';
import { execSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { BatchReport, RestoraApi } from '../app/contract/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

/**
 * The path `require('electron')` would give, worked out the same way (path.txt inside the package,
 * ELECTRON_OVERRIDE_DIST_PATH) but without its side effect: electron's index.js tries to download a
 * missing binary, which hangs on a machine without network.
 */
function findElectron(): { exe?: string; reason?: string } {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve('electron/package.json'));
  } catch {
    return { reason: 'the electron package is not installed' };
  }
  const pathFile = path.join(pkgDir, 'path.txt');
  const rel = fs.existsSync(pathFile) ? fs.readFileSync(pathFile, 'utf8').trim() : '';
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (!rel && !override) return { reason: 'no Electron binary is installed (installed with ELECTRON_SKIP_BINARY_DOWNLOAD or without network); run `npx install-electron` where GitHub is reachable' };
  const exe = override ? path.join(override, rel || 'electron') : path.join(pkgDir, 'dist', rel);
  return fs.existsSync(exe) ? { exe } : { reason: `the Electron binary ${exe} does not exist` };
}

/** A models folder with a denoiser: the bundled one, else the test fixtures. */
function modelsDir(): string | undefined {
  for (const dir of [path.join(root, 'models'), path.join(root, 'test', 'fixtures', 'models')]) {
    if (!fs.existsSync(dir)) continue;
    for (const id of fs.readdirSync(dir)) {
      const card = path.join(dir, id, 'card.json');
      if (fs.existsSync(card) && fs.existsSync(path.join(dir, id, 'model.onnx')) && /"task"\s*:\s*"denoise"/.test(fs.readFileSync(card, 'utf8'))) return dir;
    }
  }
  return undefined;
}

const found = findElectron();
const sha = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');

test.describe('desktop app (Electron)', () => {
  test.skip(!found.exe, found.reason ?? '');
  if (!found.exe) console.log(`electron-smoke skipped: ${found.reason}`);

  let app: ElectronApplication;
  let work: string;

  test.beforeAll(async () => {
    if (!fs.existsSync(path.join(root, 'dist', 'main', 'main.js')) || !fs.existsSync(path.join(root, 'renderer', 'dist', 'index.html'))) {
      execSync('npm run build', { cwd: root, stdio: 'inherit' });
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'restora-e2e-electron-'));
    const models = modelsDir();
    app = await electron.launch({
      executablePath: found.exe,
      args: [root],
      env: { ...process.env, RESTORA_DATA_DIR: path.join(work, 'data'), ...(models ? { RESTORA_MODELS_DIR: models } : {}) } as Record<string, string>,
    });
  });

  test.afterAll(async () => {
    await app?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the window is isolated, sandboxed and exposes only window.api', async () => {
    const page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
    expect(page.url()).toBe('restora://app/index.html');
    // Electron has no getter for a window's web preferences any more: security.test.ts checks what
    // main builds; here we check their effect in the page
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
    const probe = await page.evaluate(() => {
      const w = window as unknown as { require?: unknown; process?: unknown; api: RestoraApi };
      return { require: typeof w.require, process: typeof w.process, api: Object.keys(w.api).sort(), popup: window.open('https://example.com') === null };
    });
    expect(probe).toEqual({ require: 'undefined', process: 'undefined', api: ['call', 'on', 'pathForFile'], popup: true });
    // a file outside the jobs is not served
    const status = await page.evaluate(async () => (await fetch('restora://app/files?path=%2Fetc%2Fpasswd')).status);
    expect(status).toBe(403);
  });

  test('restores one photo', async () => {
    test.setTimeout(180_000);
    const photo = path.join(work, 'photo.png');
    const noise = Buffer.alloc(64 * 64 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = 96 + ((i * 7919) % 61);
    await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(photo);
    const before = sha(photo);

    // the user picks the photo in the native dialog
    await app.evaluate(({ dialog }, p) => {
      dialog.showOpenDialog = (async () => ({ canceled: false, filePaths: [p] })) as typeof dialog.showOpenDialog;
    }, photo);
    const page = await app.firstWindow();
    const report = await page.evaluate(async () => {
      const api = (window as unknown as { api: RestoraApi }).api;
      const { paths } = await api.call('dialog.open', { purpose: 'files' });
      const { files } = await api.call('files.add', { paths });
      const done = new Promise<BatchReport>((resolve) => {
        const off = api.on('batch.done', (r) => {
          off();
          resolve(r);
        });
      });
      const progress: number[] = [];
      api.on('batch.progress', (p) => progress.push(p.progress));
      const { batchId } = await api.call('batch.start', { files: files.map((f) => f.path), recipe: [{ task: 'denoise', sigma: 15 }] });
      const r = await done;
      const out = r.files[0]?.output;
      let width = 0;
      if (out) {
        const img = new Image();
        img.src = `restora://app/files?path=${encodeURIComponent(out)}`;
        await img.decode();
        width = img.naturalWidth;
      }
      return { batchId, report: r, width, progress };
    });
    expect(report.report.batchId).toBe(report.batchId);
    expect(report.report).toMatchObject({ total: 1, done: 1, failed: 0, cancelled: false });
    const out = report.report.files[0].output!;
    expect(fs.existsSync(out)).toBe(true);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    expect(report.width).toBe(64); // shown through restora://
    expect(sha(photo)).toBe(before); // the original is untouched
  });
});
