import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoraError, type Recipe } from '../../contract/index.ts';
import type { RgbImage } from '../api.ts';
import { FIXTURE_MODELS, maxAbsDiff, photoLike, tmpDir } from '../../../test/fixtures/images/make.ts';
import { createEngine, type EngineImpl } from '../index.ts';
import type { StepTrace } from './index.ts';
import { estimateSigmaPca } from './noise.ts';

const { dir, cleanup } = tmpDir();
let engine: EngineImpl;
const W = 60;
const H = 44;
const img = photoLike(W, H, 21);
img.alpha = Float32Array.from({ length: W * H }, (_, i) => (i % W) / (W - 1));
const p = (n: string) => path.join(dir, n);

beforeAll(async () => {
  engine = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: p('user'), dataDir: p('data'), runtime: { ep: 'cpu', threads: 1 } });
  const mask = Buffer.alloc(W * H);
  for (let y = 10; y < 20; y++) for (let x = 15; x < 35; x++) mask[y * W + x] = 255;
  await sharp(mask, { raw: { width: W, height: H, channels: 1 } }).png().toFile(p('mask.png'));
  await sharp(Buffer.alloc(W * H), { raw: { width: W, height: H, channels: 1 } }).png().toFile(p('empty.png'));
  await sharp(Buffer.alloc(64 * 64, 255), { raw: { width: 64, height: 64, channels: 1 } }).png().toFile(p('wrong.png'));
});
afterAll(async () => {
  await engine.close();
  cleanup();
});

async function direct(id: string, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path.join(FIXTURE_MODELS, id, 'model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
  const r = await s.run(f);
  await s.release();
  return r.output.data as Float32Array;
}

/** Pad planar data on the right/bottom by reflection to (pw, ph), like the tiler. */
function padReflect(src: Float32Array, c: number, w: number, h: number, pw: number, ph: number): Float32Array {
  const out = new Float32Array(c * pw * ph);
  const r = (i: number, n: number) => (i < n ? i : 2 * n - 2 - i);
  for (let k = 0; k < c; k++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) out[k * pw * ph + y * pw + x] = src[k * w * h + r(y, h) * w + r(x, w)];
  return out;
}
function cropTo(src: Float32Array, c: number, pw: number, ph: number, w: number, h: number): Float32Array {
  const out = new Float32Array(c * w * h);
  for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[k * w * h + y * w + x] = src[k * pw * ph + y * pw + x];
  return out;
}

describe('denoise', () => {
  it('feeds the sigma map as sigma255/255 and matches a direct ONNX Runtime run', async () => {
    const out = await engine.run(img, [{ task: 'denoise', sigma: 25 }], { runtime: { tile: 4096 } });
    // direct run on the reflect-padded image (multiple 4: 60x44 is already aligned)
    const want = await direct('tiny-denoise', { image: { data: img.data, dims: [1, 3, H, W] }, sigma: { data: new Float32Array(W * H).fill(25 / 255), dims: [1, 1, H, W] } });
    expect(maxAbsDiff(out.data, want)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.data, img.data)).toBeGreaterThan(0.02);
    expect(out.alpha).toBe(img.alpha); // untouched
  });

  it('strength 0 (sigma 0, asked for) leaves the photo exactly as it is, without running the model, and says so', async () => {
    const trace: StepTrace[] = [];
    const seen: { done: number; total: number }[] = [];
    const out = await engine.core.run(img, [{ task: 'denoise', sigma: 0 }, { task: 'upscale', scale: 2 }], { trace, onProgress: (p: { done: number; total: number }) => seen.push(p) } as never);
    expect(out.width).toBe(2 * W);
    expect(trace[0]).toMatchObject({ task: 'denoise', sigma: 0, sigmaBy: 'given', ep: 'none', note: 'strength 0 leaves the photo as it is' });
    const last = seen[seen.length - 1];
    expect(last.done).toBe(last.total); // the skipped step's runs are not waited for
    const alone = await engine.run(img, [{ task: 'denoise', sigma: 0 }]);
    expect(maxAbsDiff(alone.data, img.data)).toBe(0);
    // the shipped net is not the identity at sigma 0: it would have changed the photo
    const shipped = path.join(path.dirname(FIXTURE_MODELS), '..', '..', 'models', 'restora-denoise', 'model.onnx');
    if (fs.existsSync(shipped)) {
      const im = photoLike(64, 48, 5); // the shipped net takes multiples of 16
      const raw = await direct('../../../models/restora-denoise', { image: { data: im.data, dims: [1, 3, 48, 64] }, sigma: { data: new Float32Array(64 * 48), dims: [1, 1, 48, 64] } });
      expect(maxAbsDiff(raw, im.data)).toBeGreaterThan(0.001);
    }
  });

  it("sigma 'auto' without an estimator in the card uses the PCA estimate", async () => {
    const trace: StepTrace[] = [];
    await engine.core.run(img, [{ task: 'denoise', sigma: 'auto' }], { trace } as never);
    expect(trace[0].sigma).toBe(estimateSigmaPca(img));
    expect(trace[0].sigma).toBeCloseTo(await engine.estimateSigma(img), 6);
    expect(await engine.estimateSigma(img, 'tiny-denoise')).toBe(trace[0].sigma);
    expect(trace[0]).toMatchObject({ task: 'denoise', model: 'tiny-denoise', ep: 'cpu', sigmaBy: 'pca' });
    const given: StepTrace[] = [];
    await engine.core.run(img, [{ task: 'denoise', sigma: 12 }], { trace: given } as never);
    expect(given[0]).toMatchObject({ sigma: 12, sigmaBy: 'given' });
    await expect(engine.estimateSigma(img, 'tiny-upscale-x2')).rejects.toMatchObject({ code: 'E_MODEL' });
  });
});

describe('upscale', () => {
  it('x2 and x4 give the right size, match a direct run, and resize alpha bilinearly', async () => {
    for (const scale of [2, 4] as const) {
      const out = await engine.run(img, [{ task: 'upscale', scale }], { runtime: { tile: 4096 } });
      expect([out.width, out.height]).toEqual([W * scale, H * scale]);
      const want = await direct(`tiny-upscale-x${scale}`, { image: { data: img.data, dims: [1, 3, H, W] } });
      expect(maxAbsDiff(out.data, want)).toBeLessThan(1e-5);
      expect(out.alpha!.length).toBe(W * H * scale * scale);
      // a horizontal alpha ramp stays a ramp, from 0 to 1
      expect(out.alpha![0]).toBeCloseTo(0, 5);
      expect(out.alpha![W * scale - 1]).toBeCloseTo(1, 5);
    }
  });
});

describe('inpaint', () => {
  it('fills white mask pixels, keeps the others exactly', async () => {
    const out = await engine.run(img, [{ task: 'inpaint', mask: p('mask.png') }], { runtime: { tile: 4096 } });
    const n = W * H;
    let changed = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const inHole = y >= 10 && y < 20 && x >= 15 && x < 35;
      for (let c = 0; c < 3; c++) {
        if (!inHole) expect(out.data[c * n + i]).toBe(img.data[c * n + i]);
        else if (Math.abs(out.data[c * n + i] - img.data[c * n + i]) > 1e-4) changed++;
      }
    }
    expect(changed).toBeGreaterThan(100);
    // the model saw the hole zeroed: compare with a direct run on the zeroed image (padded to 64 by reflection? multiple 1)
    const fed = new Float32Array(img.data);
    const m = new Float32Array(n);
    for (let y = 10; y < 20; y++) for (let x = 15; x < 35; x++) m[y * W + x] = 1;
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) if (m[i]) fed[c * n + i] = 0;
    const want = await direct('tiny-inpaint', { image: { data: fed, dims: [1, 3, H, W] }, mask: { data: m, dims: [1, 1, H, W] } });
    expect(maxAbsDiff(out.data, want)).toBeLessThan(1e-5);
  });

  it('a mask of the wrong size, an empty mask and a missing mask are E_MASK', async () => {
    await expect(engine.run(img, [{ task: 'inpaint', mask: p('wrong.png') }])).rejects.toMatchObject({ code: 'E_MASK', message: expect.stringMatching(/64 x 64 but the image is 60 x 44/) });
    await expect(engine.run(img, [{ task: 'inpaint', mask: p('empty.png') }])).rejects.toMatchObject({ code: 'E_MASK', message: expect.stringMatching(/empty/) });
    await expect(engine.run(img, [{ task: 'inpaint', mask: p('none.png') }])).rejects.toMatchObject({ code: 'E_MASK', message: expect.stringMatching(/does not exist/) });
  });
});

describe('recipes', () => {
  it('chains steps in memory: denoise then x2 equals the two runs one after the other; progress covers all tiles', async () => {
    const seen: { done: number; total: number }[] = [];
    const recipe: Recipe = [{ task: 'denoise', sigma: 15 }, { task: 'upscale', scale: 2 }];
    const chained = await engine.run(img, recipe, { onProgress: (q) => seen.push(q) });
    const a = await engine.run(img, [recipe[0]]);
    const b = await engine.run(a, [recipe[1]]);
    expect(maxAbsDiff(chained.data, b.data)).toBe(0);
    const last = seen[seen.length - 1];
    expect(last.done).toBe(last.total);
    expect(last.total).toBeGreaterThan(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i].done).toBeGreaterThanOrEqual(seen[i - 1].done);
  });

  it('passes 8 runs a step as a self-ensemble: planned progress counts 8 runs a tile, the trace says so, known pixels stay', async () => {
    const seen: { done: number; total: number }[] = [];
    const trace: StepTrace[] = [];
    const recipe: Recipe = [{ task: 'denoise', sigma: 15, passes: 8 }, { task: 'upscale', scale: 2 }];
    const runtime = { tile: 32 };
    const onProgress = (q: { done: number; total: number }) => seen.push(q);
    const out = await engine.core.run(img, recipe, { onProgress, trace, runtime } as never);
    const plain = await engine.run(img, [{ task: 'denoise', sigma: 15 }, { task: 'upscale', scale: 2 }], { runtime });
    expect(maxAbsDiff(out.data, plain.data)).toBeGreaterThan(0.1 / 255);
    // the total announced before the first tile is the one reached at the end
    expect(seen[0]).toEqual({ done: 0, total: seen[seen.length - 1].total });
    expect(seen[seen.length - 1].done).toBe(seen[0].total);
    const single: { done: number; total: number }[] = [];
    await engine.run(img, [{ task: 'denoise', sigma: 15 }], { runtime, onProgress: (q) => single.push(q) });
    const up: { done: number; total: number }[] = [];
    await engine.run(img, [{ task: 'upscale', scale: 2 }], { runtime, onProgress: (q) => up.push(q) });
    expect(single[0].total).toBeGreaterThan(1);
    expect(seen[0].total).toBe(single[0].total * 8 + up[0].total);
    expect(trace.map((t) => t.passes)).toEqual([8, undefined]);
    const filled = await engine.run(img, [{ task: 'inpaint', mask: p('mask.png'), passes: 8 }]);
    let kept = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const inHole = y >= 10 && y < 20 && x >= 15 && x < 35;
      const i = c * W * H + y * W + x;
      if (!inHole) kept = Math.max(kept, Math.abs(filled.data[i] - img.data[i]));
    }
    expect(kept).toBe(0);
  });

  it('uses step.model, checks it, and says when no model fits', async () => {
    await expect(engine.run(img, [{ task: 'upscale', scale: 2, model: 'tiny-upscale-x4' }])).rejects.toMatchObject({ code: 'E_MODEL' });
    await expect(engine.run(img, [{ task: 'denoise', sigma: 5, model: 'nope' }])).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/no model named nope/) });
    await expect(engine.run(img, [] as unknown as Recipe)).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('refuses results over the pixel limit before running', async () => {
    const small = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: p('user2'), dataDir: p('data2'), maxPixels: 30_000, runtime: { ep: 'cpu' } });
    await expect(small.run(img, [{ task: 'upscale', scale: 4 }])).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/240 x 176/) });
    await small.close();
  });

  it('cancels between tiles', async () => {
    const ac = new AbortController();
    const big: RgbImage = photoLike(200, 150, 3);
    const run = engine.run(big, [{ task: 'denoise', sigma: 10 }], { signal: ac.signal, runtime: { tile: 32 }, onProgress: (q) => q.done === 2 && ac.abort() });
    await expect(run).rejects.toBeInstanceOf(RestoraError);
    await expect(run).rejects.toMatchObject({ code: 'E_CANCELLED' });
  });

  it('odd sizes (smaller than a tile, not multiples of the model) work', async () => {
    const tiny = photoLike(7, 5, 1);
    const out = await engine.run(tiny, [{ task: 'denoise', sigma: 20 }, { task: 'upscale', scale: 2 }]);
    expect([out.width, out.height]).toEqual([14, 10]);
    expect(out.data.every(Number.isFinite)).toBe(true);
    const padded = padReflect(tiny.data, 3, 7, 5, 8, 8);
    const want = cropTo(await direct('tiny-denoise', { image: { data: padded, dims: [1, 3, 8, 8] }, sigma: { data: new Float32Array(64).fill(20 / 255), dims: [1, 1, 8, 8] } }), 3, 8, 8, 7, 5);
    const d = await engine.run(tiny, [{ task: 'denoise', sigma: 20 }]);
    expect(maxAbsDiff(d.data, want)).toBeLessThan(1e-5);
  });
});
