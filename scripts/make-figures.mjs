#!/usr/bin/env node
// The README's before/after figures: 100 % crops, one PNG per task, in docs/figures/.
//
//   node scripts/make-figures.mjs [--threads 2] [--ep cpu] [--only denoise,upscale-x2,upscale-x4,inpaint,inpaint-grain]
//
// Deterministic: fixed images and crop boxes (CROPS below), the eval protocol's seeded noise and
// MATLAB-bicubic LR, the bundled models only. Inference goes through the engine's own path
// (createEngine().run, tiling included) on the whole test image, and the crop is cut out of the
// result afterwards, so the model sees the crop's full context and no border of the crop is an
// image border. Each label carries the RGB PSNR of that crop against the original (for inpaint:
// over the hole's pixels in the crop only), so a reader can tell what the eye sees from what was
// measured. The figures are derived from the evaluation sets (../shared/datasets/test); they are
// shown, never trained on.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(root, '..', 'shared', 'datasets', 'test');
const outDir = path.join(root, 'docs', 'figures');

/** Crop boxes, in pixels of the original (HR) image. Upscale boxes are multiples of the scale. */
export const CROPS = {
  denoise: { file: 'Kodak24/kodim23.png', x: 200, y: 40, w: 256, h: 256, sigma: 25 },
  denoiseReal: { name: 'NikonD800_10_100_6400_planandsofa_2.JPG', x: 128, y: 128, w: 256, h: 256 },
  'upscale-x2': { file: 'Set14/zebra.png', x: 240, y: 96, w: 256, h: 256, scale: 2 },
  'upscale-x4': { file: 'Set14/monarch.png', x: 400, y: 160, w: 256, h: 256, scale: 4 },
  inpaint: { file: 'Kodak24/kodim09.png', mask: 'test/fixtures/masks/medium/kodim09.png', x: 32, y: 128, w: 256, h: 256 },
  // match grain: the sample photo's camera noise, an elliptic hole in its green background (cx, cy, rx, ry)
  'inpaint-grain': { sample: 'samples/parrots-iso6400.jpg', hole: [255, 365, 44, 36], x: 130, y: 230, w: 256, h: 256 },
};

export const GAP = 4; // px between panels (and between rows)
export const LABEL_H = 20; // px of label band above each row of panels
const HOLE_RGB = [255, 0, 255]; // how the inpaint input shows the pixels to fill

/**
 * Where each panel of a figure goes: `rows` x `cols` panels of panelW x panelH, `gap` px apart,
 * each row with a label band of `labelH` px above it. Pure; the unit of every number is pixels.
 */
export function layout({ cols, rows = 1, panelW, panelH, gap = GAP, labelH = LABEL_H }) {
  const width = cols * panelW + (cols - 1) * gap;
  const height = rows * (labelH + panelH) + (rows - 1) * gap;
  const cells = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const left = c * (panelW + gap);
      const labelTop = r * (labelH + panelH + gap);
      cells.push({ row: r, col: c, left, labelTop, top: labelTop + labelH });
    }
  }
  return { width, height, cells };
}

/** A w x h window of a planar CHW 8-bit RGB image (W x H); the window must lie inside. */
export function cropPlanar(src, W, H, x, y, w, h) {
  if (x < 0 || y < 0 || x + w > W || y + h > H) throw new Error(`crop ${w}x${h}+${x}+${y} does not fit in ${W}x${H}`);
  const out = new Uint8Array(3 * w * h);
  for (let c = 0; c < 3; c++) {
    for (let j = 0; j < h; j++) {
      const s = c * W * H + (y + j) * W + x;
      out.set(src.subarray(s, s + w), c * w * h + j * w);
    }
  }
  return out;
}

/** Nearest-neighbour enlargement by an integer factor (planar CHW 8-bit): what the pixels were. */
export function nearestUp(src, w, h, s) {
  const W = w * s;
  const H = h * s;
  const out = new Uint8Array(3 * W * H);
  for (let c = 0; c < 3; c++) {
    for (let j = 0; j < H; j++) {
      const srow = c * w * h + Math.floor(j / s) * w;
      const drow = c * W * H + j * W;
      for (let i = 0; i < W; i++) out[drow + i] = src[srow + Math.floor(i / s)];
    }
  }
  return out;
}

/** [0,1] floats -> 8-bit (clip, round): the protocol's quantisation. */
export function quantize(f) {
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = f[i];
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return out;
}

const toFloat = (u8) => Float32Array.from(u8, (v) => v / 255);

function planarToInterleaved(src, w, h) {
  const n = w * h;
  const out = Buffer.alloc(3 * n);
  for (let i = 0; i < n; i++) {
    out[3 * i] = src[i];
    out[3 * i + 1] = src[n + i];
    out[3 * i + 2] = src[2 * n + i];
  }
  return out;
}

const xmlEscape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** RGB PSNR (dB, 0-255) of two planar 8-bit crops, optionally over the pixels where mask[k] is set. */
function psnr8(a, b, mask) {
  const n = a.length / 3;
  let se = 0;
  let count = 0;
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < n; k++) {
      if (mask && !mask[k]) continue;
      const d = a[c * n + k] - b[c * n + k];
      se += d * d;
      count++;
    }
  }
  return count && se ? 10 * Math.log10((255 * 255 * count) / se) : Infinity;
}
const db = (v) => (Number.isFinite(v) ? `${v.toFixed(2)} dB` : '∞ dB');

/**
 * Compose rows of panels ({ pixels: planar 8-bit, w, h, label }) into one PNG, written atomically
 * (temp file in the same folder, then rename).
 */
async function writeFigure(file, rows) {
  const cols = Math.max(...rows.map((r) => r.length));
  const { w: panelW, h: panelH } = rows[0][0];
  const L = layout({ cols, rows: rows.length, panelW, panelH });
  const composites = [];
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}">`;
  for (const cell of L.cells) {
    const p = rows[cell.row][cell.col];
    if (!p) continue;
    if (p.w !== panelW || p.h !== panelH) throw new Error(`${path.basename(file)}: panel "${p.label}" is ${p.w}x${p.h}, expected ${panelW}x${panelH}`);
    const raw = planarToInterleaved(p.pixels, p.w, p.h);
    composites.push({ input: raw, raw: { width: p.w, height: p.h, channels: 3 }, left: cell.left, top: cell.top });
    svg += `<text x="${cell.left + 2}" y="${cell.labelTop + LABEL_H - 6}" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#222">${xmlEscape(p.label)}</text>`;
  }
  svg += '</svg>';
  composites.push({ input: Buffer.from(svg), left: 0, top: 0 });
  const png = await sharp({ create: { width: L.width, height: L.height, channels: 3, background: '#ffffff' } })
    .composite(composites)
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, png);
  renameSync(tmp, file);
  console.log(`wrote ${path.relative(root, file)} (${L.width}x${L.height}, ${(png.length / 1024).toFixed(0)} KiB)`);
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      ep: { type: 'string', default: 'cpu' },
      only: { type: 'string', default: 'denoise,upscale-x2,upscale-x4,inpaint,inpaint-grain' },
    },
  });
  const only = new Set(opt.only.split(','));
  const { tsImport } = await import('tsx/esm/api');
  const ts = (p) => tsImport(pathToFileURL(path.join(root, p)).href, import.meta.url);
  const { createEngine } = await ts('app/engine/index.ts');
  const { addGaussianNoise } = await ts('app/engine/eval/rng.ts');
  const { imresizeRgb8 } = await ts('app/engine/eval/imresize.ts');
  const { highPassStd } = await ts('app/engine/pipelines/grain.ts');

  // a throwaway data folder: no user models, no caches left behind, the same models on every machine
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'restora-figures-'));
  const runtime = { ep: opt.ep, threads: Number(opt.threads) };
  const engine = await createEngine({ modelsDir: path.join(root, 'models'), dataDir, runtime });
  const run = async (img, recipe) => {
    const trace = [];
    const out = await engine.run(img, recipe, { runtime, trace });
    return { out, trace: trace[0] ?? {} };
  };
  const read8 = async (file) => {
    const img = await engine.readImage(file);
    return { w: img.width, h: img.height, px: quantize(img.data) };
  };
  mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();

  try {
    if (only.has('denoise')) {
      const c = CROPS.denoise;
      const clean = await read8(path.join(data, c.file));
      // exactly as `restora eval denoise`: seeded by the file name and sigma, not clipped
      const noisy = addGaussianNoise(toFloat(clean.px), c.sigma, path.basename(c.file));
      const { out } = await run({ width: clean.w, height: clean.h, data: noisy }, [{ task: 'denoise', sigma: c.sigma, model: 'restora-denoise' }]);
      const crop = (px) => cropPlanar(px, clean.w, clean.h, c.x, c.y, c.w, c.h);
      const [n8, o8, g8] = [crop(quantize(noisy)), crop(quantize(out.data)), crop(clean.px)];
      const rows = [[
        { pixels: n8, w: c.w, h: c.h, label: `noisy σ ${c.sigma} · ${db(psnr8(n8, g8))}` },
        { pixels: o8, w: c.w, h: c.h, label: `Restora σ ${c.sigma} · ${db(psnr8(o8, g8))}` },
        { pixels: g8, w: c.w, h: c.h, label: `original (${path.basename(c.file, '.png')})` },
      ]];
      const r = CROPS.denoiseReal;
      const set = path.join(data, 'PolyU100');
      const rn = await read8(path.join(set, 'noisy', r.name));
      const rc = await read8(path.join(set, 'clean', r.name));
      const img = await engine.readImage(path.join(set, 'noisy', r.name));
      const { out: ro, trace } = await run(img, [{ task: 'denoise', sigma: 'auto', model: 'restora-denoise' }]);
      const rcrop = (px) => cropPlanar(px, rn.w, rn.h, r.x, r.y, r.w, r.h);
      const [rn8, ro8, rc8] = [rcrop(rn.px), rcrop(quantize(ro.data)), rcrop(rc.px)];
      const auto = trace.sigma !== undefined ? ` ${trace.sigma.toFixed(1)}` : '';
      rows.push([
        { pixels: rn8, w: r.w, h: r.h, label: `camera ISO ${r.name.split('_')[3]} · ${db(psnr8(rn8, rc8))}` },
        { pixels: ro8, w: r.w, h: r.h, label: `Restora σ auto${auto} · ${db(psnr8(ro8, rc8))}` },
        { pixels: rc8, w: r.w, h: r.h, label: 'mean of the shots (PolyU)' },
      ]);
      await writeFigure(path.join(outDir, 'denoise.png'), rows);
    }

    for (const key of ['upscale-x2', 'upscale-x4']) {
      if (!only.has(key)) continue;
      const c = CROPS[key];
      const s = c.scale;
      if (c.x % s || c.y % s || c.w % s || c.h % s) throw new Error(`${key}: the crop box must be a multiple of ${s}`);
      const hr0 = await read8(path.join(data, c.file));
      // as `restora eval upscale`: HR cut (top-left) to a multiple of the scale, LR by MATLAB bicubic, rounded
      const W = hr0.w - (hr0.w % s);
      const H = hr0.h - (hr0.h % s);
      const hr = cropPlanar(hr0.px, hr0.w, hr0.h, 0, 0, W, H);
      const lr = imresizeRgb8(hr, W, H, 1 / s);
      const bic = imresizeRgb8(lr.data, lr.width, lr.height, s);
      const { out } = await run({ width: lr.width, height: lr.height, data: toFloat(lr.data) }, [{ task: 'upscale', scale: s, model: `restora-${key}` }]);
      if (out.width !== W || out.height !== H) throw new Error(`${key}: the model returned ${out.width}x${out.height}, expected ${W}x${H}`);
      const crop = (px) => cropPlanar(px, W, H, c.x, c.y, c.w, c.h);
      const lr8 = nearestUp(cropPlanar(lr.data, lr.width, lr.height, c.x / s, c.y / s, c.w / s, c.h / s), c.w / s, c.h / s, s);
      const [b8, o8, g8] = [crop(bic.data), crop(quantize(out.data)), crop(hr)];
      await writeFigure(path.join(outDir, `${key}.png`), [[
        { pixels: lr8, w: c.w, h: c.h, label: `input ${c.w / s}x${c.h / s}, nearest x${s}` },
        { pixels: b8, w: c.w, h: c.h, label: `bicubic · ${db(psnr8(b8, g8))}` },
        { pixels: o8, w: c.w, h: c.h, label: `Restora x${s} · ${db(psnr8(o8, g8))}` },
        { pixels: g8, w: c.w, h: c.h, label: `original (${path.basename(c.file, '.png')})` },
      ]]);
    }

    if (only.has('inpaint')) {
      const c = CROPS.inpaint;
      const file = path.join(data, c.file);
      const maskFile = path.join(root, c.mask);
      const img = await read8(file);
      const n = img.w * img.h;
      const m = await sharp(maskFile).greyscale().raw().toBuffer({ resolveWithObject: true });
      if (m.info.width !== img.w || m.info.height !== img.h) throw new Error(`${c.mask} is ${m.info.width}x${m.info.height}, its image is ${img.w}x${img.h}`);
      const hole = Uint8Array.from(m.data.subarray(0, n), (v) => (v > 127 ? 1 : 0));
      // as `restora eval inpaint`: the engine never sees the pixels it must invent
      const input = toFloat(img.px);
      const shown = Uint8Array.from(img.px);
      for (let k = 0; k < n; k++) {
        if (!hole[k]) continue;
        for (let ch = 0; ch < 3; ch++) {
          input[ch * n + k] = 0;
          shown[ch * n + k] = HOLE_RGB[ch];
        }
      }
      const { out } = await run({ width: img.w, height: img.h, data: input }, [{ task: 'inpaint', mask: maskFile, model: 'restora-inpaint' }]);
      const crop = (px) => cropPlanar(px, img.w, img.h, c.x, c.y, c.w, c.h);
      const holeCrop = new Uint8Array(c.w * c.h);
      for (let j = 0; j < c.h; j++) holeCrop.set(hole.subarray((c.y + j) * img.w + c.x, (c.y + j) * img.w + c.x + c.w), j * c.w);
      const [i8, o8, g8] = [crop(shown), crop(quantize(out.data)), crop(img.px)];
      const panels = [{ pixels: i8, w: c.w, h: c.h, label: 'input, hole in magenta' }];
      const t8 = telea(file, maskFile, img.w, img.h);
      if (t8) {
        const tc = crop(t8);
        panels.push({ pixels: tc, w: c.w, h: c.h, label: `OpenCV Telea r=5 · ${db(psnr8(tc, g8, holeCrop))}` });
      }
      panels.push({ pixels: o8, w: c.w, h: c.h, label: `Restora · ${db(psnr8(o8, g8, holeCrop))}` });
      panels.push({ pixels: g8, w: c.w, h: c.h, label: `original (${path.basename(c.file, '.png')})` });
      await writeFigure(path.join(outDir, 'inpaint.png'), [panels]);
    }

    if (only.has('inpaint-grain')) {
      const c = CROPS['inpaint-grain'];
      const img = await read8(path.join(root, c.sample));
      const n = img.w * img.h;
      const [hx, hy, rx, ry] = c.hole;
      const inHole = (x, y) => ((x - hx) / rx) ** 2 + ((y - hy) / ry) ** 2 <= 1;
      // the ring the grain is compared with: up to 24 px around the hole's box, outside the hole
      const inRing = (x, y) => !inHole(x, y) && Math.abs(x - hx) <= rx + 24 && Math.abs(y - hy) <= ry + 24;
      const maskFile = path.join(dataDir, 'grain-hole.png');
      const m = Buffer.alloc(n);
      for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) m[y * img.w + x] = inHole(x, y) ? 255 : 0;
      await sharp(m, { raw: { width: img.w, height: img.h, channels: 1 } }).png().toFile(maskFile);
      const input = toFloat(img.px);
      const shown = Uint8Array.from(img.px);
      for (let k = 0; k < n; k++) if (m[k]) for (let ch = 0; ch < 3; ch++) shown[ch * n + k] = HOLE_RGB[ch];
      const plain = quantize((await run({ width: img.w, height: img.h, data: input }, [{ task: 'inpaint', mask: maskFile, model: 'restora-inpaint' }])).out.data);
      const grained = await run({ width: img.w, height: img.h, data: input }, [{ task: 'inpaint', mask: maskFile, model: 'restora-inpaint', grain: true }]);
      const matched = quantize(grained.out.data);
      const grain = (px, where) => highPassStd(px, img.w, img.h, where).toFixed(1);
      const around = grain(img.px, inRing);
      const crop = (px) => cropPlanar(px, img.w, img.h, c.x, c.y, c.w, c.h);
      await writeFigure(path.join(outDir, 'inpaint-grain.png'), [[
        { pixels: crop(shown), w: c.w, h: c.h, label: `hole in magenta · grain ${around} around` },
        { pixels: crop(plain), w: c.w, h: c.h, label: `Restora · grain ${grain(plain, inHole)}` },
        { pixels: crop(matched), w: c.w, h: c.h, label: `Restora, match grain · ${grain(matched, inHole)}` },
        { pixels: crop(img.px), w: c.w, h: c.h, label: `original (${path.basename(c.sample)})` },
      ]]);
      console.log(`inpaint-grain: grain (8-bit high-pass std) around the hole ${around}, in the fill ${grain(plain, inHole)} plain and ${grain(matched, inHole)} matched (grain strength ${grained.trace.grain?.toFixed(1)} by the engine's measure)`);
    }
  } finally {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * The Telea baseline of scripts/baselines/telea.py (radius 5, hole zeroed first), through Debian's
 * Python with OpenCV; planar 8-bit RGB, or null (panel left out) where cv2 is not available.
 */
function telea(imageFile, maskFile, w, h) {
  const code = [
    'import sys, cv2',
    'from scripts.baselines.telea import telea, read_mask',
    'img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)',
    'out = telea(img, read_mask(sys.argv[2], img.shape), 5)',
    'sys.stdout.buffer.write(cv2.cvtColor(out, cv2.COLOR_BGR2RGB).tobytes())',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', code, imageFile, maskFile], { cwd: root, maxBuffer: 64 << 20 });
  if (r.status !== 0 || !r.stdout || r.stdout.length !== 3 * w * h) {
    console.warn(`make-figures: no Telea panel (${r.error?.message ?? String(r.stderr || '').trim().split('\n').pop() ?? 'no output'})`);
    return null;
  }
  const px = new Uint8Array(3 * w * h);
  const n = w * h;
  for (let k = 0; k < n; k++) for (let ch = 0; ch < 3; ch++) px[ch * n + k] = r.stdout[3 * k + ch];
  return px;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(`make-figures: ${e?.stack ?? e}`);
    process.exit(1);
  });
}
