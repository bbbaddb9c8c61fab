// Bundle the three Electron entry points with esbuild (`npm run build:electron`):
//   dist/main/main.js        Electron main (ESM). electron stays external; main never bundles the engine.
//   dist/preload/preload.cjs the sandboxed preload (CommonJS: a sandboxed preload may only require 'electron').
//   dist/host/host.js        the utility process (ESM): the engine; native packages stay external
//                            (loaded from node_modules, unpacked from the asar when packaged).
// Usage: node scripts/build-electron.mjs [--watch] [--check]   (--check: also fail if a bundle breaks a boundary)
import { build, context } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const NATIVE = ['onnxruntime-node', 'sharp', 'electron'];

// ESM bundles that inline CommonJS code need a real `require` (and __dirname) at run time
const esmBanner = [
  "import { createRequire as __restoraCreateRequire } from 'node:module';",
  "import { fileURLToPath as __restoraFileURLToPath } from 'node:url';",
  "import { dirname as __restoraDirname } from 'node:path';",
  'const require = __restoraCreateRequire(import.meta.url);',
  'const __filename = __restoraFileURLToPath(import.meta.url);',
  'const __dirname = __restoraDirname(__filename);',
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22', // Electron 45's Node
  sourcemap: 'linked',
  logLevel: 'info',
  absWorkingDir: root,
  legalComments: 'none',
};

const targets = [
  { ...common, entryPoints: ['app/main/main.ts'], outfile: 'dist/main/main.js', format: 'esm', external: ['electron'], banner: { js: esmBanner } },
  { ...common, entryPoints: ['app/preload/preload.ts'], outfile: 'dist/preload/preload.cjs', format: 'cjs', external: ['electron'], sourcemap: false },
  { ...common, entryPoints: ['app/host/host.ts'], outfile: 'dist/host/host.js', format: 'esm', external: NATIVE, banner: { js: esmBanner } },
];

/** What each bundle must not contain: the process boundaries, checked on the output. */
function checkBoundaries() {
  const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');
  const problems = [];
  const main = read('dist/main/main.js');
  if (/onnxruntime-node|from "sharp"|require\("sharp"\)/.test(main)) problems.push('dist/main/main.js pulls in the engine (onnxruntime-node or sharp)');
  const preload = read('dist/preload/preload.cjs');
  const requires = [...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => m !== 'electron');
  if (requires.length) problems.push(`dist/preload/preload.cjs requires ${requires.join(', ')} (a sandboxed preload may only require electron)`);
  if (/exposeInMainWorld\([^)]*ipcRenderer\s*\)/.test(preload)) problems.push('the preload exposes ipcRenderer');
  const host = read('dist/host/host.js');
  if (/from "electron"|require\("electron"\)/.test(host)) problems.push('dist/host/host.js imports electron');
  return problems;
}

if (watch) {
  for (const t of targets) await (await context(t)).watch();
} else {
  await Promise.all(targets.map((t) => build(t)));
  const problems = checkBoundaries();
  if (problems.length) {
    for (const p of problems) console.error(`build-electron: ${p}`);
    process.exit(1);
  }
}
