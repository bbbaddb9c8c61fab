import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recipe } from '../../contract/index.ts';
import type { RgbImage, RunOptions } from '../api.ts';
import { contributions, cubic, imresizePlane, imresizeRgb8 } from './imresize.ts';
import { type EvalEngine, evaluate, quantize } from './index.ts';
import { psnr, psnrMasked, rgbToY, shave, ssimPlane } from './metrics.ts';
import { addGaussianNoise, hashString, Rng } from './rng.ts';

const SET5 = path.resolve(__dirname, '../../../../shared/datasets/test/Set5');

describe('MATLAB bicubic imresize', () => {
  it('uses the a = -0.5 cubic kernel', () => {
    expect(cubic(0)).toBe(1);
    expect(cubic(1)).toBe(0);
    expect(cubic(2)).toBe(0);
    expect(cubic(0.5)).toBeCloseTo(0.5625, 12);
    expect(cubic(1.5)).toBeCloseTo(-0.0625, 12);
    expect(cubic(-0.25)).toBeCloseTo(0.8671875, 12);
  });

  it('x2 upscaling weights are the known MATLAB ones, at u = x/2 + 0.25', () => {
    const c = contributions(8, 16, 2);
    expect(c.taps).toBe(6);
    // output pixel 1: u = 0.75, left = -2: taps at 1-based -2..3; mirrored: -2 -> 3, -1 -> 2, 0 -> 1
    const w = Array.from(c.weights.subarray(0, 6));
    const expected = [0, -0.0234375, 0.2265625, 0.8671875, -0.0703125, 0];
    for (let j = 0; j < 6; j++) expect(w[j]).toBeCloseTo(expected[j], 12);
    expect(Array.from(c.indices.subarray(0, 6))).toEqual([2, 1, 0, 0, 1, 2]);
  });

  it('x1/2 downscaling stretches the kernel by 2 (antialiasing) and normalises it', () => {
    const c = contributions(8, 4, 0.5);
    expect(c.taps).toBe(10);
    // output pixel 1: u = 1.5; taps at -3..6 (1-based), distances 4.5 .. -4.5
    const w = Array.from(c.weights.subarray(0, 10));
    const half = [0, -0.01171875, -0.03515625, 0.11328125, 0.43359375];
    const expected = [...half, ...half.slice().reverse()];
    for (let j = 0; j < 10; j++) expect(w[j]).toBeCloseTo(expected[j], 12);
    // symmetric mirror of 1-based -3..6 into 1..8: 4 3 2 1 1 2 3 4 5 6
    expect(Array.from(c.indices.subarray(0, 10))).toEqual([3, 2, 1, 0, 0, 1, 2, 3, 4, 5]);
    for (let x = 0; x < 4; x++) {
      let s = 0;
      for (let j = 0; j < 10; j++) s += c.weights[x * 10 + j];
      expect(s).toBeCloseTo(1, 12);
    }
  });

  it('keeps constants and reproduces a linear ramp away from the borders', () => {
    const w = 16;
    const h = 12;
    const ramp = new Float64Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ramp[y * w + x] = 10 + 3 * x + 2 * y;
    const up = imresizePlane(ramp, w, h, 2);
    expect([up.width, up.height]).toEqual([32, 24]);
    // output (X, Y) 1-based samples the input at u = X/2 + 0.25 (1-based)
    for (let Y = 6; Y <= 18; Y++) {
      for (let X = 6; X <= 26; X++) {
        const ux = X / 2 + 0.25 - 1;
        const uy = Y / 2 + 0.25 - 1;
        expect(up.data[(Y - 1) * 32 + X - 1]).toBeCloseTo(10 + 3 * ux + 2 * uy, 9);
      }
    }
    const flat = new Uint8Array(3 * w * h).fill(77);
    const down = imresizeRgb8(flat, w, h, 1 / 4);
    expect([down.width, down.height]).toEqual([4, 3]);
    expect(Array.from(down.data).every((v) => v === 77)).toBe(true);
  });

  it.skipIf(!existsSync(SET5))('bicubic gives the published Set5 figures: x4 28.42 and x2 33.66 (+/- 0.05 dB)', async () => {
    const x4 = await evaluate(undefined, { task: 'upscale', data: SET5, scale: 4, model: 'bicubic' });
    const x2 = await evaluate(undefined, { task: 'upscale', data: SET5, scale: 2, model: 'bicubic' });
    expect(x4.n).toBe(5);
    expect(Math.abs(x4.psnr - 28.42)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(x2.psnr - 33.66)).toBeLessThanOrEqual(0.05);
    expect(x4.ssim).toBeGreaterThan(0.78);
    expect(x4.ssim).toBeLessThan(0.84);
    console.log(`Set5 bicubic: x4 ${x4.psnr.toFixed(3)} dB / ${x4.ssim.toFixed(4)}, x2 ${x2.psnr.toFixed(3)} dB / ${x2.ssim.toFixed(4)}`);
  });
  if (!existsSync(SET5)) console.log(`skipped the Set5 bicubic check: ${SET5} is absent`);
});

describe('metrics', () => {
  it('PSNR on the 0-255 scale', () => {
    expect(psnr([0, 0, 0, 0], [1, 1, 1, 1])).toBeCloseTo(48.1308, 3);
    expect(psnr([5, 5], [5, 5])).toBe(Infinity);
    // masked: only the counted pixels matter (RGB pooled)
    const a = new Uint8Array([0, 0, 0, 0, 0, 0]);
    const b = new Uint8Array([10, 200, 10, 200, 10, 200]);
    expect(psnrMasked(a, b, new Uint8Array([1, 0]))).toBeCloseTo(20 * Math.log10(255 / 10), 9);
  });

  it('BT.601 Y and shaving', () => {
    const y = rgbToY(new Uint8Array([255, 0, 128]), 1, 1);
    expect(y[0]).toBeCloseTo(16 + 65.481 + (24.966 * 128) / 255, 9);
    const s = shave(Float64Array.from({ length: 25 }, (_, i) => i), 5, 5, 1);
    expect(Array.from(s.data)).toEqual([6, 7, 8, 11, 12, 13, 16, 17, 18]);
  });

  it('SSIM matches a direct (non-separable) computation of Wang et al.', () => {
    const w = 19;
    const h = 15;
    const rng = new Rng(7);
    const a = Float64Array.from({ length: w * h }, () => Math.floor(rng.uniform() * 256));
    const b = a.map((v) => Math.min(255, Math.max(0, v + Math.round((rng.uniform() - 0.5) * 60))));
    // direct: 11x11 Gaussian window, sigma 1.5, valid positions only
    const g: number[] = [];
    let gs = 0;
    for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
      const v = Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / (2 * 1.5 * 1.5));
      g.push(v);
      gs += v;
    }
    const C1 = (0.01 * 255) ** 2;
    const C2 = (0.03 * 255) ** 2;
    let sum = 0;
    let count = 0;
    for (let y = 0; y + 11 <= h; y++) {
      for (let x = 0; x + 11 <= w; x++) {
        let m1 = 0, m2 = 0, s11 = 0, s22 = 0, s12 = 0;
        for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
          const wt = g[i * 11 + j] / gs;
          const p = a[(y + i) * w + x + j];
          const q = b[(y + i) * w + x + j];
          m1 += wt * p; m2 += wt * q; s11 += wt * p * p; s22 += wt * q * q; s12 += wt * p * q;
        }
        const v1 = s11 - m1 * m1, v2 = s22 - m2 * m2, cov = s12 - m1 * m2;
        sum += ((2 * m1 * m2 + C1) * (2 * cov + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
        count++;
      }
    }
    expect(ssimPlane(a, b, w, h)).toBeCloseTo(sum / count, 10);
    expect(ssimPlane(a, a, w, h)).toBeCloseTo(1, 12);
    expect(ssimPlane(a, b, w, h)).toBeLessThan(0.99);
  });
});

describe('seeded noise', () => {
  it('is deterministic per name, differs between names, and is standard normal', () => {
    const a = new Rng(hashString('kodim01.png'));
    const b = new Rng(hashString('kodim01.png'));
    const c = new Rng(hashString('kodim02.png'));
    const xs = Array.from({ length: 100000 }, () => a.normal());
    const ys = Array.from({ length: 100000 }, () => b.normal());
    expect(ys).toEqual(xs);
    expect(c.normal()).not.toBe(xs[0]);
    const m = xs.reduce((s, v) => s + v, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length);
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(sd - 1)).toBeLessThan(0.01);
    const within1 = xs.filter((v) => Math.abs(v) < 1).length / xs.length;
    expect(within1).toBeCloseTo(0.6827, 2);
  });

  it('adds sigma/255 noise without clipping', () => {
    const clean = new Float32Array(30000).fill(0.02);
    const noisy = addGaussianNoise(clean, 25, 'x.png');
    expect(noisy.some((v) => v < 0)).toBe(true);
    let se = 0;
    for (let i = 0; i < noisy.length; i++) se += (noisy[i] - clean[i]) ** 2;
    expect(Math.sqrt(se / noisy.length) * 255).toBeCloseTo(25, 0);
    expect(addGaussianNoise(clean, 25, 'x.png')).toEqual(noisy);
  });
});

describe('evaluate through an engine', () => {
  let dir: string;
  const calls: { recipe: Recipe; img: RgbImage }[] = [];
  // a stand-in engine: reads with sharp, returns its input (identity "model"), or nearest upscaling
  const engine: EvalEngine = {
    async readImage(file: string): Promise<RgbImage> {
      const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const n = info.width * info.height;
      const out = new Float32Array(3 * n);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = data[i * info.channels + c] / 255;
      return { width: info.width, height: info.height, data: out };
    },
    async run(img: RgbImage, recipe: Recipe): Promise<RgbImage> {
      calls.push({ recipe, img });
      const step = recipe[0];
      if (step.task !== 'upscale') return { ...img, data: img.data.slice() };
      const s = step.scale;
      const W = img.width * s;
      const H = img.height * s;
      const out = new Float32Array(3 * W * H);
      for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[c * W * H + y * W + x] = img.data[c * img.width * img.height + Math.floor(y / s) * img.width + Math.floor(x / s)];
      return { width: W, height: H, data: out };
    },
    estimateSigma: async () => 12.5,
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'restora-eval-'));
    const img = async (file: string, seed: number, w = 40, h = 36) => {
      const raw = Buffer.alloc(w * h * 3);
      const rng = new Rng(seed);
      for (let i = 0; i < raw.length; i++) raw[i] = 60 + Math.floor(rng.uniform() * 120);
      await mkdir(path.dirname(file), { recursive: true });
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
    };
    await img(path.join(dir, 'set', 'a.png'), 1);
    await img(path.join(dir, 'set', 'b.png'), 2, 42, 38);
    await img(path.join(dir, 'pairs', 'clean', 'p1.png'), 3);
    await img(path.join(dir, 'pairs', 'noisy', 'p1.png'), 4);
    const mask = Buffer.alloc(40 * 36, 0);
    for (let y = 10; y < 20; y++) for (let x = 5; x < 25; x++) mask[y * 40 + x] = 255;
    await mkdir(path.join(dir, 'masks'));
    await sharp(mask, { raw: { width: 40, height: 36, channels: 1 } }).png().toFile(path.join(dir, 'masks', 'a.png'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('denoise: the engine gets the unclipped noisy image and the true sigma; identity scores the noise PSNR', async () => {
    calls.length = 0;
    const r = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25 });
    expect(r).toMatchObject({ task: 'denoise', n: 2, sigma: 25, mode: 'synthetic' });
    expect(calls).toHaveLength(2);
    expect(calls[0].recipe).toEqual([{ task: 'denoise', sigma: 25 }]);
    // the identity output is the noisy image, clipped and rounded: about 20log10(255/25) dB
    expect(r.psnr).toBeGreaterThan(19.9);
    expect(r.psnr).toBeLessThan(20.8);
    expect(r.ssim).toBeLessThan(0.9);
    const again = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25 });
    expect(again.psnr).toBe(r.psnr); // seeded
  });

  it('denoise with sigma auto on clean images: the same seeded noise as the true sigma, the engine estimates', async () => {
    calls.length = 0;
    const truth = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25 });
    const truthInputs = calls.map((c) => c.img.data);
    calls.length = 0;
    const auto = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 'auto', noise: 25 });
    expect(auto).toMatchObject({ mode: 'synthetic', sigma: 'auto', noise: 25, n: 2, sigmaEstimated: 12.5 });
    expect(calls[0].recipe).toEqual([{ task: 'denoise', sigma: 'auto' }]);
    // the noisy images are bit-identical, so the two runs differ only in what the model is told
    calls.forEach((c, i) => expect(c.img.data).toEqual(truthInputs[i]));
    expect(auto.images.map((r) => r.sigmaEstimated)).toEqual([12.5, 12.5]);
    expect(auto.psnr).toBe(truth.psnr); // the identity stand-in ignores sigma
    // auto without --noise adds the default level; a numeric sigma without --noise adds that level
    expect((await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 'auto' })).noise).toBe(25);
    expect((await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 15 })).noise).toBe(15);
    // noise 15 told 25 differs from noise 25 told 25
    const mismatch = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25, noise: 15 });
    expect(mismatch.psnr).toBeGreaterThan(truth.psnr + 3);
    await expect(evaluate(engine, { task: 'denoise', data: path.join(dir, 'pairs'), noise: 25 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('denoise on noisy/clean pairs: sigma auto unless given', async () => {
    calls.length = 0;
    const r = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'pairs') });
    expect(r).toMatchObject({ n: 1, mode: 'pairs', sigma: 'auto' });
    expect(calls[0].recipe).toEqual([{ task: 'denoise', sigma: 'auto' }]);
    expect(r.images[0].sigmaEstimated).toBe(12.5);
    const clean = await engine.readImage(path.join(dir, 'pairs', 'clean', 'p1.png'));
    const noisy = await engine.readImage(path.join(dir, 'pairs', 'noisy', 'p1.png'));
    expect(r.psnr).toBeCloseTo(psnr(quantize(clean.data), quantize(noisy.data)), 9);
    const given = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'pairs'), sigma: 15 });
    expect(given.sigma).toBe(15);
  });

  it("sigma auto reports the level the run used (its trace), not a separate estimate", async () => {
    const asked: (string | undefined)[] = [];
    const used: number[] = [];
    const traced: EvalEngine = {
      readImage: engine.readImage,
      async run(img: RgbImage, _recipe: Recipe, o?: RunOptions): Promise<RgbImage> {
        // the real engine fills a trace; this one says it used 7 + the first pixel's value
        used.push(7 + img.data[0]);
        (o as { trace?: { model: string; sigma: number }[] }).trace?.push({ model: 'dn', sigma: used[used.length - 1] });
        return { ...img, data: img.data.slice() };
      },
      async estimateSigma(_img: RgbImage, model?: string) {
        asked.push(model);
        return 99;
      },
    };
    const r = await evaluate(traced, { task: 'denoise', data: path.join(dir, 'set'), sigma: 'auto', model: 'dn' });
    expect(asked).toEqual([]);
    expect(r.images.map((i) => i.sigmaEstimated)).toEqual(used);
    expect(used[0]).not.toBe(used[1]);
    expect(r.sigmaEstimated).toBeCloseTo((r.images[0].sigmaEstimated! + r.images[1].sigmaEstimated!) / 2, 12);
    // without a trace the engine is asked, for the model of the run
    const untraced: EvalEngine = { ...traced, run: async (img: RgbImage) => img };
    const u = await evaluate(untraced, { task: 'denoise', data: path.join(dir, 'pairs'), model: 'dn' });
    expect(asked).toEqual(['dn']);
    expect(u.images[0].sigmaEstimated).toBe(99);
    // a numeric sigma reports no estimate
    const given = await evaluate(traced, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25 });
    expect(given.images[0].sigmaEstimated).toBeUndefined();
  });

  it('upscale: LR is the MATLAB bicubic of the cropped HR; PSNR on Y with the scale shaved', async () => {
    calls.length = 0;
    const r = await evaluate(engine, { task: 'upscale', data: path.join(dir, 'set'), scale: 4, model: 'some-id' });
    expect(r).toMatchObject({ n: 2, scale: 4, model: 'some-id' });
    // b.png is 42 x 38: cropped to 40 x 36, LR 10 x 9
    expect([calls[1].img.width, calls[1].img.height]).toEqual([10, 9]);
    expect(calls[1].recipe).toEqual([{ task: 'upscale', scale: 4, model: 'some-id' }]);
    expect(r.images[1]).toMatchObject({ width: 40, height: 36 });
    const bic = await evaluate(undefined, { task: 'upscale', data: path.join(dir, 'set'), scale: 4, model: 'bicubic' });
    expect(Number.isFinite(bic.psnr)).toBe(true);
  });

  it('passes 8 reaches every recipe step and the result; bicubic refuses it', async () => {
    calls.length = 0;
    const d = await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25, passes: 8 });
    const u = await evaluate(engine, { task: 'upscale', data: path.join(dir, 'set'), scale: 2, passes: 8, limit: 1 });
    const i = await evaluate(engine, { task: 'inpaint', data: path.join(dir, 'set'), masks: path.join(dir, 'masks'), passes: 8, limit: 1 });
    expect(calls.map((c) => c.recipe[0].passes)).toEqual([8, 8, 8, 8]);
    expect([d.passes, u.passes, i.passes]).toEqual([8, 8, 8]);
    expect((await evaluate(engine, { task: 'denoise', data: path.join(dir, 'set'), sigma: 25, limit: 1 })).passes).toBe(1);
    expect(calls[4].recipe[0]).not.toHaveProperty('passes');
    await expect(evaluate(undefined, { task: 'upscale', data: path.join(dir, 'set'), model: 'bicubic', passes: 8 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('inpaint: the hole is zeroed for the engine; PSNR over the hole only', async () => {
    calls.length = 0;
    const r = await evaluate(engine, { task: 'inpaint', data: path.join(dir, 'set'), masks: path.join(dir, 'masks'), limit: 1 });
    expect(r.n).toBe(1);
    const seen = calls[0].img;
    const n = seen.width * seen.height;
    expect(seen.data[15 * 40 + 10]).toBe(0);
    expect(seen.data[2 * n + 15 * 40 + 10]).toBe(0);
    expect(seen.data[0]).toBeGreaterThan(0);
    // identity output keeps the zeros: PSNR against the true hole pixels (60..180) is low
    expect(r.psnr).toBeLessThan(10);
    expect(r.ssim).toBeGreaterThan(0.5);
    await expect(evaluate(engine, { task: 'inpaint', data: path.join(dir, 'set'), masks: path.join(dir, 'masks') })).rejects.toMatchObject({ code: 'E_MASK' });
  });
});
