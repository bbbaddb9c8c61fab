// sigma 'auto' with the denoiser's CNN noise estimator (card.json `estimator`), and the PCA
// fallback. The fixture estimator (test/fixtures/models/tiny-estimator/estimator.onnx, made by
// scripts/make_fixture_models.py) computes, per crop, the mean absolute 3x3 high-pass
// |x - mean3x3(x)| over channels and valid pixels, which these tests recompute in JS.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../api.ts';
import { FIXTURE_MODELS, gaussian, maxAbsDiff, photoLike, tmpDir } from '../../../test/fixtures/images/make.ts';
import { createEngine, type EngineImpl } from '../index.ts';
import { estimatorCrops, median } from './estimator.ts';
import type { StepTrace } from './index.ts';
import { estimateSigmaPca } from './noise.ts';

const ESTIMATOR = path.join(FIXTURE_MODELS, 'tiny-estimator', 'estimator.onnx');
const SHA = crypto.createHash('sha256').update(fs.readFileSync(ESTIMATOR)).digest('hex');
const SPEC = { crop: 32, crops: 16, size_multiple: 2 };

const { dir, cleanup } = tmpDir();
const p = (...n: string[]) => path.join(dir, ...n);

/** A copy of tiny-denoise under `id` in `root`, its card edited; returns the folder. */
function denoiser(root: string, id: string, estimator?: Record<string, unknown>, copyEstimator = true): string {
  const d = path.join(root, id);
  fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(FIXTURE_MODELS, 'tiny-denoise', 'model.onnx'), path.join(d, 'model.onnx'));
  const card = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-denoise', 'card.json'), 'utf8'));
  card.id = id;
  if (estimator) {
    card.estimator = estimator;
    if (copyEstimator) fs.copyFileSync(ESTIMATOR, path.join(d, String(estimator.file)));
  }
  fs.writeFileSync(path.join(d, 'card.json'), JSON.stringify(card, null, 2));
  return d;
}

const goodEstimator = {
  file: 'estimator.onnx',
  sha256: SHA,
  input: 'image',
  output: 'sigma',
  ...SPEC,
  description: 'test fixture: mean absolute 3x3 high-pass',
  params: 27,
  training: { data: 'none', steps: 0, nested: { any: ['thing'] } },
  metrics: { 'CC15/mae': 1.5, note: 'free-form' },
};

/** The fixture estimator's output on one crop, in float64 (sigma on the [0,1] scale). */
function highPass(img: RgbImage, x0: number, y0: number, side: number): number {
  const { width, height, data } = img;
  let s = 0;
  for (let c = 0; c < 3; c++) {
    const base = c * width * height;
    for (let y = y0 + 1; y < y0 + side - 1; y++) {
      for (let x = x0 + 1; x < x0 + side - 1; x++) {
        let m = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) m += data[base + (y + dy) * width + x + dx];
        s += Math.abs(data[base + y * width + x] - m / 9);
      }
    }
  }
  return s / (3 * (side - 2) * (side - 2));
}

/** The estimation procedure written out independently: grid, per-crop value, median, x255. */
function expectedSigma(img: RgbImage, spec = SPEC): number {
  const side = Math.floor(Math.min(spec.crop, img.width, img.height) / spec.size_multiple) * spec.size_multiple;
  const k = Math.ceil(Math.sqrt(spec.crops));
  const pos = (span: number) => [...new Set(Array.from({ length: k }, (_, i) => Math.round((span * i) / (k - 1))))];
  const values: number[] = [];
  for (const y of pos(img.height - side)) for (const x of pos(img.width - side)) values.push(highPass(img, x, y, side));
  values.sort((a, b) => a - b);
  const h = values.length >> 1;
  return (values.length % 2 ? values[h] : (values[h - 1] + values[h]) / 2) * 255;
}

/** photoLike plus AWGN whose level grows from left to right (so the crops disagree). */
function noisy(w: number, h: number, seed: number): RgbImage {
  const img = photoLike(w, h, seed);
  const g = gaussian(seed + 100);
  const n = w * h;
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data[c * n + y * w + x] += (g() * (4 + (20 * x) / w)) / 255;
  return img;
}

let engine: EngineImpl;
const img = noisy(60, 44, 5);

beforeAll(async () => {
  const root = p('bundled');
  denoiser(root, 'a-denoise', goodEstimator); // the default denoiser (first id)
  denoiser(root, 'b-badsha', { ...goodEstimator, sha256: 'f'.repeat(64) });
  denoiser(root, 'c-missing', { ...goodEstimator, file: 'gone.onnx' }, false);
  denoiser(root, 'd-plain'); // no estimator: PCA
  denoiser(root, 'e-names', { ...goodEstimator, output: 'level' });
  denoiser(root, 'f-single', { ...goodEstimator, crops: 1 });
  engine = await createEngine({ modelsDir: root, userModelsDir: p('user'), dataDir: p('data'), runtime: { ep: 'cpu', threads: 1 } });
  expect(engine.registry.skipped).toEqual([]);
});
afterAll(async () => {
  await engine.close();
  cleanup();
});

describe('the crop grid', () => {
  it('spreads k x k crops from edge to edge, drops duplicates, and rounds the side to the multiple', () => {
    const g = estimatorCrops(60, 44, SPEC)!;
    expect(g.side).toBe(32);
    expect(g.boxes).toHaveLength(16);
    expect([...new Set(g.boxes.map((b) => b.x))]).toEqual([0, 9, 19, 28]);
    expect([...new Set(g.boxes.map((b) => b.y))]).toEqual([0, 4, 8, 12]);
    // height 18: side 18, one row (the four y positions are all 0); width 40: x = 0, 7, 15, 22
    expect(estimatorCrops(40, 18, SPEC)).toEqual({ side: 18, boxes: [0, 7, 15, 22].map((x) => ({ x, y: 0 })) });
    // height 19: side rounded down to 18 (multiple 2), y = round(1 * i / 3) = 0, 0, 1, 1 -> two rows
    expect(estimatorCrops(40, 19, SPEC)!.boxes.map((b) => `${b.x},${b.y}`)).toEqual(['0,0', '7,0', '15,0', '22,0', '0,1', '7,1', '15,1', '22,1']);
    // an image the size of one crop has one crop
    expect(estimatorCrops(32, 32, SPEC)).toEqual({ side: 32, boxes: [{ x: 0, y: 0 }] });
    // a single crop sits in the middle
    expect(estimatorCrops(100, 50, { ...SPEC, crops: 1 })).toEqual({ side: 32, boxes: [{ x: 34, y: 9 }] });
    // 10 crops of a 4 x 4 grid: an even subset in reading order
    const ten = estimatorCrops(200, 200, { ...SPEC, crops: 10 })!;
    expect(ten.boxes.map((b) => `${b.x},${b.y}`)).toEqual(['0,0', '56,0', '168,0', '0,56', '112,56', '0,112', '56,112', '168,112', '0,168', '112,168']);
    // under 16 px: none (the PCA estimate is used)
    expect(estimatorCrops(15, 100, SPEC)).toBeUndefined();
    expect(estimatorCrops(100, 19, { ...SPEC, size_multiple: 10 })).toBeUndefined(); // 19 -> 10
    expect(estimatorCrops(100, 17, { ...SPEC, size_multiple: 4 })!.side).toBe(16);
  });

  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe("sigma 'auto' with the card's estimator", () => {
  it('runs the crops through the estimator and gives the model the median x 255', async () => {
    const want = expectedSigma(img);
    const pca = estimateSigmaPca(img);
    expect(Math.abs(want - pca)).toBeGreaterThan(1); // the two estimators disagree here, so the test tells them apart
    const trace: StepTrace[] = [];
    const out = await engine.core.run(img, [{ task: 'denoise', sigma: 'auto', model: 'a-denoise' }], { trace } as never);
    expect(trace[0]).toMatchObject({ model: 'a-denoise', sigmaBy: 'estimator' });
    expect(trace[0].sigma!).toBeCloseTo(want, 3);
    // the model was given exactly that level: the same output as an explicit sigma
    const explicit = await engine.run(img, [{ task: 'denoise', sigma: trace[0].sigma!, model: 'a-denoise' }]);
    expect(maxAbsDiff(out.data, explicit.data)).toBe(0);
    const other = await engine.run(img, [{ task: 'denoise', sigma: pca, model: 'a-denoise' }]);
    expect(maxAbsDiff(out.data, other.data)).toBeGreaterThan(1e-4);
    // engine.estimateSigma says the same, for the model named and for the default denoiser
    expect(await engine.estimateSigma(img, 'a-denoise')).toBe(trace[0].sigma);
    expect(await engine.estimateSigma(img)).toBe(trace[0].sigma);
    // deterministic
    expect(await engine.estimateSigma(img, 'a-denoise')).toBe(trace[0].sigma);
  });

  it('other sizes: one row of crops, a single centred crop, and PCA below 16 px', async () => {
    const wide = noisy(40, 19, 8);
    expect(estimatorCrops(40, 19, SPEC)!.boxes).toHaveLength(8);
    expect(await engine.estimateSigma(wide, 'a-denoise')).toBeCloseTo(expectedSigma(wide), 3);
    const big = noisy(100, 50, 9);
    expect(await engine.estimateSigma(big, 'f-single')).toBeCloseTo(highPass(big, 34, 9, 32) * 255, 3);
    const tiny = noisy(30, 14, 10);
    expect(await engine.estimateSigma(tiny, 'a-denoise')).toBe(estimateSigmaPca(tiny));
    const trace: StepTrace[] = [];
    await engine.core.run(tiny, [{ task: 'denoise', sigma: 'auto', model: 'a-denoise' }], { trace } as never);
    expect(trace[0]).toMatchObject({ sigma: estimateSigmaPca(tiny), sigmaBy: 'pca' });
  });

  it('a card without an estimator keeps the PCA estimate', async () => {
    const trace: StepTrace[] = [];
    await engine.core.run(img, [{ task: 'denoise', sigma: 'auto', model: 'd-plain' }], { trace } as never);
    expect(trace[0]).toMatchObject({ sigma: estimateSigmaPca(img), sigmaBy: 'pca' });
    expect(await engine.estimateSigma(img, 'd-plain')).toBe(estimateSigmaPca(img));
  });

  it('a damaged or missing estimator file is E_MODEL naming the file; an explicit sigma does not need it', async () => {
    const damaged = { code: 'E_MODEL', message: expect.stringMatching(/model b-badsha is damaged: its noise estimator estimator\.onnx does not match the sha256/) };
    await expect(engine.run(img, [{ task: 'denoise', sigma: 'auto', model: 'b-badsha' }])).rejects.toMatchObject(damaged);
    await expect(engine.estimateSigma(img, 'b-badsha')).rejects.toMatchObject(damaged);
    const missing = { code: 'E_MODEL', message: expect.stringMatching(/model c-missing: its noise estimator gone\.onnx is missing/) };
    await expect(engine.run(img, [{ task: 'denoise', sigma: 'auto', model: 'c-missing' }])).rejects.toMatchObject(missing);
    await expect(engine.estimateSigma(img, 'c-missing')).rejects.toMatchObject(missing);
    await expect(engine.run(img, [{ task: 'denoise', sigma: 10, model: 'b-badsha' }])).resolves.toMatchObject({ width: 60 });
    // tiny images never reach the estimator file
    await expect(engine.estimateSigma(noisy(30, 14, 1), 'c-missing')).resolves.toBeGreaterThanOrEqual(0);
  });

  it('an estimator without the declared output is E_MODEL naming the file', async () => {
    await expect(engine.estimateSigma(img, 'e-names')).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/estimator\.onnx has no output named level/) });
  });

  it('a file changed after it was verified is checked again', async () => {
    const root = p('changing');
    const d = denoiser(root, 'x-denoise', goodEstimator);
    const e = await createEngine({ modelsDir: root, userModelsDir: p('user3'), dataDir: p('data3'), runtime: { ep: 'cpu', threads: 1 } });
    try {
      await expect(e.estimateSigma(img)).resolves.toBeCloseTo(expectedSigma(img), 3);
      const f = path.join(d, 'estimator.onnx');
      fs.appendFileSync(f, Buffer.from([0]));
      fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
      await expect(e.estimateSigma(img)).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/estimator\.onnx does not match/) });
    } finally {
      await e.close();
    }
  });
});
