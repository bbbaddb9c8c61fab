// electron-builder.yml, the fuses hook and the bundles, checked without packaging or Electron.
import { Ajv } from 'ajv';
import { build } from 'esbuild';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
// js-yaml comes with electron-builder (no types of its own)
const yaml = require('js-yaml') as { load(text: string): unknown };
const cfg = yaml.load(fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const hook = require(path.join(root, 'build', 'after-pack.cjs')) as {
  fuseSettings(platform: string): Record<string, boolean>;
  electronBinary(ctx: unknown): string;
};

describe('electron-builder.yml', () => {
  it("is valid by electron-builder's own schema", () => {
    const schema = JSON.parse(fs.readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate(cfg), JSON.stringify(validate.errors)).toBe(true);
  });

  it('builds AppImage + deb, NSIS x64, dmg for arm64 and x64', () => {
    expect(cfg.linux.target.map((t: { target: string }) => t.target)).toEqual(['AppImage', 'deb']);
    expect(cfg.win.target).toEqual([{ target: 'nsis', arch: ['x64'] }]);
    expect(cfg.mac.target).toEqual([{ target: 'dmg', arch: ['arm64', 'x64'] }]);
  });

  it('has an app id, an icon that exists, and image file associations', () => {
    expect(cfg.appId).toMatch(/^[a-z]+(\.[a-z]+)+$/);
    for (const p of ['linux', 'win', 'mac']) expect(fs.existsSync(path.join(root, cfg[p].icon)), p).toBe(true);
    const png = fs.readFileSync(path.join(root, 'build', 'icon.png'));
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(512); // macOS needs 512x512
    expect(png.length).toBeLessThan(64 * 1024);
    const exts = cfg.fileAssociations.flatMap((a: { ext: string | string[] }) => a.ext);
    expect(exts).toEqual(expect.arrayContaining(['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp']));
  });

  it('ships the models as extra resources and keeps native modules out of the asar', () => {
    expect(cfg.extraResources).toEqual([expect.objectContaining({ from: 'models', to: 'models' })]);
    expect(cfg.extraResources[0].filter).toEqual(expect.arrayContaining(['*/model.onnx', '*/card.json', '*/estimator.onnx']));
    expect(cfg.asar).toBe(true);
    for (const m of ['onnxruntime-node', 'sharp', '@img']) expect(cfg.asarUnpack, m).toContain(`**/node_modules/${m}/**`);
    expect(cfg.files).toEqual(expect.arrayContaining(['dist/**/*', 'renderer/dist/**/*']));
    expect(cfg.files.some((f: string) => /^app\b|\bapp\/\*\*/.test(f))).toBe(false); // sources stay out
    expect(cfg.afterPack).toBe('build/after-pack.cjs');
  });

  it('points package.json main at the bundled main', () => {
    expect(pkg.main).toBe('dist/main/main.js');
    expect(pkg.scripts['build:electron']).toBe('node scripts/build-electron.mjs');
  });
});

describe('fuses (afterPack)', () => {
  for (const platform of ['linux', 'win32', 'darwin']) {
    it(`turn off RunAsNode, NODE_OPTIONS, --inspect and file:// privileges; turn on cookie encryption and asar-only (${platform})`, () => {
      const f = hook.fuseSettings(platform);
      expect(f).toMatchObject({
        RunAsNode: false,
        EnableNodeOptionsEnvironmentVariable: false,
        EnableNodeCliInspectArguments: false,
        GrantFileProtocolExtraPrivileges: false,
        EnableCookieEncryption: true,
        OnlyLoadAppFromAsar: true,
      });
      expect(f.EnableEmbeddedAsarIntegrityValidation).toBe(platform !== 'linux');
    });
  }

  it('names every fuse @electron/fuses knows (strict), and finds the binary per platform', () => {
    const { FuseV1Options } = require('@electron/fuses') as { FuseV1Options: Record<string, number | string> };
    const known = Object.keys(FuseV1Options).filter((k) => Number.isNaN(Number(k)));
    expect(Object.keys(hook.fuseSettings('linux')).sort()).toEqual(known.sort());
    const packager = { appInfo: { productFilename: 'Restora' }, executableName: 'restora' };
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'linux', packager })).toBe(path.join('/o', 'restora'));
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'win32', packager })).toBe(path.join('/o', 'Restora.exe'));
    expect(hook.electronBinary({ appOutDir: '/o', electronPlatformName: 'darwin', packager })).toBe(path.join('/o', 'Restora.app'));
  });
});

describe('bundles', () => {
  it('the preload bundle requires nothing but electron and exposes no ipcRenderer; main carries no engine', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'restora-bundle-'));
    const common = { bundle: true, platform: 'node' as const, absWorkingDir: root, logLevel: 'silent' as const, external: ['electron'] };
    await build({ ...common, entryPoints: ['app/preload/preload.ts'], outfile: path.join(out, 'preload.cjs'), format: 'cjs' });
    await build({ ...common, entryPoints: ['app/main/main.ts'], outfile: path.join(out, 'main.js'), format: 'esm' });
    const preload = fs.readFileSync(path.join(out, 'preload.cjs'), 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(preload).toContain('exposeInMainWorld("api"');
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
    const main = fs.readFileSync(path.join(out, 'main.js'), 'utf8');
    expect(main).not.toMatch(/onnxruntime|sharp|app\/engine\//);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
