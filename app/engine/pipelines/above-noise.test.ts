// A manual denoise strength above the noise a photo carries: the shipped card's net for strengths above
// the noise (card `above_noise`) runs instead of the model, which keeps noise as texture there.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStepsUsed } from '../../contract/index.ts';
import { gaussian, maxAbsDiff, photoLike, tmpDir } from '../../../test/fixtures/images/make.ts';
import type { RgbImage } from '../api.ts';
import { createEngine, type EngineImpl } from '../index.ts';
import type { StepTrace } from './index.ts';

const REPO = path.resolve(import.meta.dirname, '../../..');
const SHIPPED = path.join(REPO, 'models', 'restora-denoise');
const card = fs.existsSync(path.join(SHIPPED, 'card.json')) ? JSON.parse(fs.readFileSync(path.join(SHIPPED, 'card.json'), 'utf8')) : undefined;
const shipped = card?.above_noise !== undefined && fs.existsSync(path.join(SHIPPED, card.above_noise.file));

function psnr(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.round(Math.min(1, Math.max(0, a[i])) * 255) - Math.round(b[i] * 255);
    s += d * d;
  }
  return 10 * Math.log10((255 * 255) / (s / a.length));
}

/** Fine detail left: the mean absolute difference between horizontal neighbours, 0-255. */
function roughness(d: Float32Array, w: number, h: number): number {
  let s = 0;
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 1; x < w; x++) s += Math.abs(d[c * w * h + y * w + x] - d[c * w * h + y * w + x - 1]);
  return (s * 255) / (3 * h * (w - 1));
}

describe.runIf(shipped)('the shipped denoiser above the noise', () => {
  const { dir, cleanup } = tmpDir();
  const W = 320;
  const H = 240;
  const clean = photoLike(W, H, 31);
  const g = gaussian(5);
  // white noise of sigma 14 (0-255), as a photo with grain of that strength
  const noisy: RgbImage = { width: W, height: H, data: Float32Array.from(clean.data, (v) => v + (14 / 255) * g()) };
  let withNet: EngineImpl;
  let without: EngineImpl;

  beforeAll(async () => {
    // the same models, but a card without the above-noise net: what the engine did before it
    const plain = path.join(dir, 'plain', 'restora-denoise');
    fs.mkdirSync(plain, { recursive: true });
    for (const f of [card.file ?? 'model.onnx', card.estimator.file]) fs.copyFileSync(path.join(SHIPPED, f), path.join(plain, f));
    const { above_noise: _, ...rest } = card;
    fs.writeFileSync(path.join(plain, 'card.json'), JSON.stringify(rest));
    const opts = (d: string) => ({ userModelsDir: path.join(dir, `user-${d}`), dataDir: path.join(dir, `data-${d}`), runtime: { ep: 'cpu' as const, threads: 2 } });
    withNet = await createEngine({ modelsDir: path.join(REPO, 'models'), ...opts('a') });
    without = await createEngine({ modelsDir: path.join(dir, 'plain'), ...opts('b') });
  });
  afterAll(async () => {
    await withNet?.close();
    await without?.close();
    cleanup();
  });

  it('a strength well above what the estimator reads runs the net for stronger settings, which smooths instead of leaving grain', async () => {
    const auto: StepTrace[] = [];
    const atAuto = await withNet.core.run(noisy, [{ task: 'denoise', sigma: 'auto' }], { trace: auto } as never);
    const reading = auto[0].sigma!;
    expect(reading).toBeGreaterThan(10);
    expect(reading).toBeLessThan(18);
    const strong = Math.round(reading * 2);
    const trace: StepTrace[] = [];
    const above = await withNet.core.run(noisy, [{ task: 'denoise', sigma: strong }], { trace } as never);
    expect(trace[0]).toMatchObject({ task: 'denoise', model: 'restora-denoise', sigma: strong, sigmaBy: 'given', aboveNoise: true });
    expect(trace[0].reading).toBeCloseTo(reading, 6); // the same reading Auto took
    expect(describeStepsUsed(trace)[0]).toBe(`denoise σ ${strong.toFixed(1)}, above the noise`);
    const old = await without.core.run(noisy, [{ task: 'denoise', sigma: strong }], {} as never);
    const [pAuto, pAbove, pOld] = [psnr(atAuto.data, clean.data), psnr(above.data, clean.data), psnr(old.data, clean.data)];
    // twice the noise's level: the plain model keeps grain and loses dB for it; the net for stronger settings smooths
    console.log(`sigma ${strong} on white noise sigma 14 (read ${reading.toFixed(1)}): auto ${pAuto.toFixed(2)}, above-noise net ${pAbove.toFixed(2)}, plain model ${pOld.toFixed(2)} dB`);
    expect(pAbove).toBeGreaterThan(pOld + 1);
    // and it is smoother than Auto's result, as a stronger setting should be; the plain model's is rougher
    const [rAuto, rAbove, rOld] = [atAuto, above, old].map((o) => roughness(o.data, W, H));
    expect(rAbove, `roughness: auto ${rAuto.toFixed(2)}, above-noise net ${rAbove.toFixed(2)}, plain model ${rOld.toFixed(2)}`).toBeLessThan(rAuto);
    expect(rOld).toBeGreaterThan(rAuto);
  });

  it('an image that reads no noise at all: a small strength is not "above" it (the reading counts as at least σ 1)', async () => {
    // 8 x 8 and flat: too small for the estimator's crops, so PCA reads it, as exactly 0
    const flat: RgbImage = { width: 8, height: 8, data: new Float32Array(3 * 8 * 8).fill(0.5) };
    const low: StepTrace[] = [];
    await withNet.core.run(flat, [{ task: 'denoise', sigma: 1.2 }], { trace: low } as never);
    expect(low[0].reading).toBe(0);
    expect(low[0].aboveNoise).toBeUndefined();
    const high: StepTrace[] = [];
    await withNet.core.run(flat, [{ task: 'denoise', sigma: 5 }], { trace: high } as never);
    expect(high[0].aboveNoise).toBe(true);
  });

  it("at the noise's own level the model runs as before (the routing does not touch Auto's range)", async () => {
    const auto: StepTrace[] = [];
    await withNet.core.run(noisy, [{ task: 'denoise', sigma: 'auto' }], { trace: auto } as never);
    const level = Math.round(auto[0].sigma! * 1.1);
    const trace: StepTrace[] = [];
    const a = await withNet.core.run(noisy, [{ task: 'denoise', sigma: level }], { trace } as never);
    const b = await without.core.run(noisy, [{ task: 'denoise', sigma: level }], {} as never);
    expect(trace[0].aboveNoise).toBeUndefined();
    expect(maxAbsDiff(a.data, b.data)).toBe(0);
    // Auto itself never reads twice
    expect(auto[0].reading).toBeUndefined();
  });

  it("a region preview decides by the whole photo's reading when it is given, as the whole photo's run does", async () => {
    const file = path.join(dir, 'noisy.png');
    const px = Buffer.alloc(W * H * 3);
    for (let c = 0; c < 3; c++) for (let i = 0; i < W * H; i++) px[i * 3 + c] = Math.round(Math.min(1, Math.max(0, noisy.data[c * W * H + i])) * 255);
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
    const region = { x: 96, y: 64, width: 128, height: 96 };
    const after = async (e: EngineImpl, o: { noiseReading?: number } = {}) => (await sharp((await e.previewRegion(file, region, [{ task: 'denoise', sigma: 24 }], o)).after).raw().toBuffer());
    const plain = await after(without);
    // the crop reads about 14: sigma 24 is above it, so the second net runs, unlike the plain model
    expect(Buffer.compare(await after(withNet), plain)).not.toBe(0);
    // told that the whole photo reads 30, the preview keeps the model, as a run of that photo would
    expect(Buffer.compare(await after(withNet, { noiseReading: 30 }), plain)).toBe(0);
  });

  it('a damaged net for stronger settings: the model runs instead, and the result says why', async () => {
    const broken = path.join(dir, 'broken', 'restora-denoise');
    fs.mkdirSync(broken, { recursive: true });
    for (const f of ['card.json', card.file ?? 'model.onnx', card.estimator.file]) fs.copyFileSync(path.join(SHIPPED, f), path.join(broken, f));
    fs.writeFileSync(path.join(broken, card.above_noise.file), 'not a model');
    const e = await createEngine({ modelsDir: path.join(dir, 'broken'), userModelsDir: path.join(dir, 'user-c'), dataDir: path.join(dir, 'data-c'), runtime: { ep: 'cpu', threads: 2 } });
    try {
      const trace: StepTrace[] = [];
      const out = await e.core.run(noisy, [{ task: 'denoise', sigma: 40 }], { trace } as never);
      expect(trace[0].aboveNoise).toBeUndefined();
      expect(trace[0].note).toContain(`the second model, for strengths above the noise, was not used: model restora-denoise is damaged: its net for strengths above the noise, ${card.above_noise.file}, does not match the sha256`);
      const plain = await without.core.run(noisy, [{ task: 'denoise', sigma: 40 }], {} as never);
      expect(maxAbsDiff(out.data, plain.data)).toBe(0); // what the model alone gives
      const low: StepTrace[] = [];
      await e.core.run(noisy, [{ task: 'denoise', sigma: 14 }], { trace: low } as never);
      expect(low[0].aboveNoise).toBeUndefined();
      expect(low[0].note).toBeUndefined(); // below the threshold the second net is not asked for
    } finally {
      await e.close();
    }
  });
});
