import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStepsUsed } from '../../contract/index.ts';
import { FIXTURE_MODELS, gaussian, maxAbsDiff, photoLike, tmpDir } from '../../../test/fixtures/images/make.ts';
import type { RgbImage } from '../api.ts';
import { createEngine, type EngineImpl } from '../index.ts';
import { copyGrain, grainWeight, highPassStd } from './grain.ts';
import { holeWindows } from './holes.ts';
import type { StepTrace } from './index.ts';

const REPO = path.resolve(import.meta.dirname, '../../..');

describe('copyGrain', () => {
  const w = 100;
  const h = 80;
  const hole = new Float32Array(w * h);
  const inHole = (x: number, y: number) => x >= 30 && x < 70 && y >= 25 && y < 55;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) hole[y * w + x] = inHole(x, y) ? 1 : 0;
  const g = gaussian(3);
  // grain outside the hole; inside, a value no source may carry
  const residual = Float32Array.from({ length: 3 * w * h }, (_, i) => (hole[i % (w * h)] ? 9 : 0.04 * g()));

  it('fills every hole pixel from outside the hole, with the same spread (cell seams included), and nothing outside it', () => {
    const r = copyGrain(residual, hole, w, h, { seed: 7 });
    expect(r.filled).toBe(r.cells);
    expect(r.cells).toBeGreaterThan(0);
    expect(r.level).toBeCloseTo(0.04, 2);
    let s2 = 0;
    let k = 0;
    const seam: number[] = []; // the columns where neighbouring cells cross-fade (cells start at multiples of 16)
    for (let i = 0; i < 3 * w * h; i++) {
      if (!hole[i % (w * h)]) {
        expect(r.grain[i]).toBe(0);
        continue;
      }
      expect(Math.abs(r.grain[i])).toBeLessThan(0.5); // never the hole's own content (9)
      s2 += r.grain[i] ** 2;
      k++;
      if ((i % (w * h)) % w === 48) seam.push(r.grain[i]);
    }
    expect(Math.sqrt(s2 / k)).toBeGreaterThan(0.04 * 0.9);
    expect(Math.sqrt(s2 / k)).toBeLessThan(0.04 * 1.1);
    const seamRms = Math.sqrt(seam.reduce((a, v) => a + v * v, 0) / seam.length);
    expect(seamRms).toBeGreaterThan(0.04 * 0.75); // the cross-fade keeps the strength on a seam
    expect(seamRms).toBeLessThan(0.04 * 1.25);
  });

  it('keeps the grain in the same channel and place within a cell (colour correlation and grain size survive)', () => {
    // residual with a pattern: channel 1 = 2 x channel 0, channel 2 = 0; each pixel differs from its right neighbour
    const res = new Float32Array(3 * w * h);
    for (let i = 0; i < w * h; i++) {
      res[i] = hole[i] ? 0 : 0.01 * g();
      res[w * h + i] = 2 * res[i];
    }
    const r = copyGrain(res, hole, w, h, { seed: 2 });
    expect(r.filled).toBe(r.cells);
    for (let i = 0; i < w * h; i++) {
      if (!hole[i]) continue;
      expect(r.grain[w * h + i]).toBeCloseTo(2 * r.grain[i], 7);
      expect(r.grain[2 * w * h + i]).toBe(0);
    }
  });

  it("passes over cells where the residual holds an edge's trace, not grain", () => {
    // a strip outside the hole with 20x the grain (what a softened edge leaves in the residual)
    const edge = (x: number) => x >= 76 && x < 84;
    const res = Float32Array.from(residual, (v, i) => (hole[i % (w * h)] ? 9 : edge((i % (w * h)) % w) ? 0.8 * Math.sign(v || 1) : v));
    const r = copyGrain(res, hole, w, h, { seed: 3 });
    expect(r.filled).toBe(r.cells);
    for (let i = 0; i < 3 * w * h; i++) expect(Math.abs(r.grain[i])).toBeLessThan(0.5);
  });

  it('is the same for the same seed, and differs for another', () => {
    const a = copyGrain(residual, hole, w, h, { seed: 5 }).grain;
    expect(maxAbsDiff(a, copyGrain(residual, hole, w, h, { seed: 5 }).grain)).toBe(0);
    expect(maxAbsDiff(a, copyGrain(residual, hole, w, h, { seed: 6 }).grain)).toBeGreaterThan(0);
  });

  it('leaves a cell without grain when no source outside the hole fits (a hole over everything)', () => {
    const all = new Float32Array(w * h).fill(1);
    const r = copyGrain(residual, all, w, h);
    expect(r.filled).toBe(0);
    expect(r.grain.every((v) => v === 0)).toBe(true);
  });

  it('holeWindows: each part of the hole with the margin around it, overlapping windows merged; none without a hole', () => {
    expect(holeWindows(hole, w, h, 10)).toEqual([{ x: 20, y: 15, w: 60, h: 50 }]);
    expect(holeWindows(hole, w, h, 50)).toEqual([{ x: 0, y: 0, w, h }]);
    expect(holeWindows(new Float32Array(w * h), w, h, 96)).toEqual([]);
    // two specks far apart: two small windows, not the box around both
    const specks = new Float32Array(w * h);
    specks[5 * w + 5] = 1;
    specks[70 * w + 90] = 1;
    expect(holeWindows(specks, w, h, 4)).toEqual([{ x: 1, y: 1, w: 9, h: 9 }, { x: 86, y: 66, w: 9, h: 9 }]);
    // closer than twice the margin: one window
    const near = new Float32Array(w * h);
    near[10 * w + 10] = 1;
    near[10 * w + 20] = 1;
    expect(holeWindows(near, w, h, 6)).toEqual([{ x: 4, y: 4, w: 23, h: 13 }]);
  });

  it('a cell deep inside a big hole still finds grain when the window has any outside the hole', () => {
    const big = new Float32Array(w * h).fill(1);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (x < 30 && y < 30) big[y * w + x] = 0; // one corner left
    const r = copyGrain(residual.map((v, i) => (big[i % (w * h)] ? 9 : v)), big, w, h, { seed: 4 });
    expect(r.filled).toBe(r.cells);
  });

  it('grainWeight tops a feathered edge up to the full grain: (1 - m)^2 + w^2 = 1', () => {
    for (const m of [0, 0.1, 0.5, 0.9, 1]) expect((1 - m) ** 2 + grainWeight(m) ** 2).toBeCloseTo(1, 10);
    expect(grainWeight(2)).toBe(1);
    expect(grainWeight(-1)).toBe(0);
  });
});

describe('inpaint with grain matching', () => {
  const { dir, cleanup } = tmpDir();
  const W = 96;
  const H = 72;
  let engine: EngineImpl;
  const base = photoLike(W, H, 4);
  const g = gaussian(11);
  const grainy: RgbImage = { width: W, height: H, data: base.data.map((v) => v + 0.05 * g()) };
  const mask = path.join(dir, 'mask.png');
  const inMask = (x: number, y: number) => x >= 30 && x < 60 && y >= 20 && y < 44;

  beforeAll(async () => {
    engine = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: path.join(dir, 'user'), dataDir: path.join(dir, 'data'), runtime: { ep: 'cpu', threads: 1 } });
    const m = Buffer.alloc(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) m[y * W + x] = inMask(x, y) ? 255 : 0;
    await sharp(m, { raw: { width: W, height: H, channels: 1 } }).png().toFile(mask);
  });
  afterAll(async () => {
    await engine.close();
    cleanup();
  });

  it('changes only the masked pixels, says the strength it copied, and runs the same twice', async () => {
    const plain = await engine.run(grainy, [{ task: 'inpaint', mask }]);
    const trace: StepTrace[] = [];
    const seen: { done: number; total: number }[] = [];
    const matched = await engine.core.run(grainy, [{ task: 'inpaint', mask, grain: true }], { trace, onProgress: (p: { done: number; total: number }) => seen.push(p) } as never);
    let inside = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const d = Math.abs(matched.data[c * W * H + y * W + x] - plain.data[c * W * H + y * W + x]);
          if (inMask(x, y)) inside = Math.max(inside, d);
          else expect(d).toBe(0);
        }
      }
    }
    expect(inside).toBeGreaterThan(0.02);
    expect(trace[0]).toMatchObject({ task: 'inpaint', model: 'tiny-inpaint' });
    expect(trace[0].grain).toBeGreaterThan(0);
    expect(describeStepsUsed([trace[0]])[0]).toBe('inpaint, grain matched');
    const last = seen[seen.length - 1];
    expect(last.done).toBe(last.total);
    const again = await engine.run(grainy, [{ task: 'inpaint', mask, grain: true }]);
    expect(maxAbsDiff(again.data, matched.data)).toBe(0);
  });

  it('needs no model besides the inpainter', async () => {
    const only = path.join(dir, 'only-inpaint');
    fs.cpSync(path.join(FIXTURE_MODELS, 'tiny-inpaint'), path.join(only, 'tiny-inpaint'), { recursive: true });
    const e2 = await createEngine({ modelsDir: only, userModelsDir: path.join(dir, 'user2'), dataDir: path.join(dir, 'data2'), runtime: { ep: 'cpu', threads: 1 } });
    try {
      const trace: StepTrace[] = [];
      await e2.core.run(grainy, [{ task: 'inpaint', mask, grain: true }], { trace } as never);
      expect(trace[0].grain).toBeGreaterThan(0);
    } finally {
      await e2.close();
    }
  });

  // the shipped models on a smooth scene (the sample photo, blurred) with white noise of sigma 12: the fill's
  // grain matches the photo's around it (the scene is smooth, so what the high-pass sees there is grain)
  const shipped = ['restora-inpaint', 'restora-denoise'].every((id) => fs.existsSync(path.join(REPO, 'models', id, 'model.onnx')));
  it.runIf(shipped)('shipped models: a fill in a noisy photo is smooth without it and as grainy as its surroundings with it', async () => {
    const e3 = await createEngine({ modelsDir: path.join(REPO, 'models'), userModelsDir: path.join(dir, 'user3'), dataDir: path.join(dir, 'data3'), runtime: { ep: 'cpu', threads: 2 } });
    try {
      const w = 256;
      const h = 192;
      const smooth = await sharp(path.join(REPO, 'samples', 'parrots-iso6400.jpg')).resize(w, h, { fit: 'cover' }).blur(6).removeAlpha().raw().toBuffer();
      const noise = gaussian(5);
      const data = new Float32Array(3 * w * h);
      for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) data[c * w * h + i] = smooth[i * 3 + c] / 255 + (12 / 255) * noise();
      const crop: RgbImage = { width: w, height: h, data };
      const hole = (x: number, y: number) => x >= 96 && x < 160 && y >= 64 && y < 128;
      const ring = (x: number, y: number) => !hole(x, y) && x >= 64 && x < 192 && y >= 32 && y < 160;
      const m = Buffer.alloc(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = hole(x, y) ? 255 : 0;
      const mf = path.join(dir, 'hole.png');
      await sharp(m, { raw: { width: w, height: h, channels: 1 } }).png().toFile(mf);
      const around = highPassStd(crop.data, w, h, ring);
      const plain = highPassStd((await e3.run(crop, [{ task: 'inpaint', mask: mf }])).data, w, h, hole);
      const matched = highPassStd((await e3.run(crop, [{ task: 'inpaint', mask: mf, grain: true }])).data, w, h, hole);
      expect(plain / around).toBeLessThan(0.3); // 0.11 when written
      expect(matched / around).toBeGreaterThan(0.85); // 0.98 when written
      expect(matched / around).toBeLessThan(1.15);

      // monochrome film-like grain (the same in every channel, in clumps of 2-3 px), which the denoiser
      // keeps: the first version, reading grain as what the denoiser removes, left this fill smooth
      const clumps = await sharp(Buffer.from(Array.from({ length: w * h }, () => Math.max(0, Math.min(255, Math.round(128 + 90 * noise()))))), { raw: { width: w, height: h, channels: 1 } }).blur(1).raw().toBuffer();
      const mono = new Float32Array(3 * w * h);
      for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) mono[c * w * h + i] = smooth[i * 3 + c] / 255 + ((clumps[i] - 128) / 255) * 0.5;
      const film: RgbImage = { width: w, height: h, data: mono };
      const filmAround = highPassStd(mono, w, h, ring);
      const filmMatched = highPassStd((await e3.run(film, [{ task: 'inpaint', mask: mf, grain: true }])).data, w, h, hole);
      expect(filmMatched / filmAround).toBeGreaterThan(0.85);
      expect(filmMatched / filmAround).toBeLessThan(1.15);

      // a region preview deep inside a big hole shows grain like the full run's there (the compare view's
      // promise): its context must reach past the hole's edge, further than the models' overlaps alone
      const W2 = 512;
      const H2 = 448;
      const scene = await sharp(path.join(REPO, 'samples', 'parrots-iso6400.jpg')).resize(W2, H2, { fit: 'cover' }).blur(6).removeAlpha().raw().toBuffer();
      const n2 = gaussian(6);
      for (let i = 0; i < scene.length; i++) scene[i] = Math.max(0, Math.min(255, Math.round(scene[i] + 12 * n2())));
      const file = path.join(dir, 'scene.png');
      await sharp(scene, { raw: { width: W2, height: H2, channels: 3 } }).png().toFile(file);
      const bigHole = Buffer.alloc(W2 * H2);
      for (let y = 40; y < 408; y++) for (let x = 40; x < 472; x++) bigHole[y * W2 + x] = 255;
      const bigMask = path.join(dir, 'big-hole.png');
      await sharp(bigHole, { raw: { width: W2, height: H2, channels: 1 } }).png().toFile(bigMask);
      const region = { x: 232, y: 200, width: 48, height: 48 };
      const inRegion = (x: number, y: number) => x >= 2 && y >= 2 && x < 46 && y < 46;
      const full = await e3.run(await e3.readImage(file), [{ task: 'inpaint', mask: bigMask, grain: true }]);
      const fullCrop = Float32Array.from({ length: 3 * 48 * 48 }, (_, k) => {
        const c = Math.floor(k / 2304);
        const j = k % 2304;
        return full.data[c * W2 * H2 + (region.y + Math.floor(j / 48)) * W2 + region.x + (j % 48)];
      });
      const pv = await e3.previewRegion(file, region, [{ task: 'inpaint', mask: bigMask, grain: true }]);
      const shown = await e3.readImage(pv.after);
      const inFull = highPassStd(fullCrop, 48, 48, inRegion);
      const inPreview = highPassStd(shown.data, 48, 48, inRegion);
      expect(inFull).toBeGreaterThan(0.02); // the full run has grain there (8-bit noise of sigma 12 is about 0.045)
      expect(inPreview / inFull).toBeGreaterThan(0.75);
      expect(inPreview / inFull).toBeLessThan(1.33);
    } finally {
      await e3.close();
    }
  });
});
