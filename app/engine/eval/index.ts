// `restora eval`: the evaluation protocol of DESIGN.md, through the engine's own path (engine.run,
// tiling included), so that every figure we publish is what users get.
//
// Denoise (synthetic): clean image in float [0,1]; white Gaussian noise of `noise`/255 (default:
//   the sigma given, or 25) from a generator seeded by the image's file name and level; the noisy
//   image is NOT clipped; the model is told the true level, or with sigma 'auto' whatever the
//   engine estimates from the noisy image (the loss of auto against the truth); its output is clipped to [0,1] and rounded to 8-bit; PSNR over all RGB
//   samples on the 0-255 scale; SSIM per RGB channel (Gaussian 11x11, sigma 1.5), averaged.
// Denoise (real pairs: DATA/noisy + DATA/clean, matched by base name): the noisy file goes in as
//   decoded; sigma 'auto' (estimated) unless --sigma is given; metrics as above.
// Upscale: HR cropped (top-left) to a multiple of the scale; LR = MATLAB bicubic imresize of HR,
//   rounded to 8-bit; SR = engine.run(LR) (or MATLAB bicubic for --model bicubic), clipped and
//   rounded to 8-bit; PSNR and SSIM on BT.601 Y (float, 0-255), `scale` pixels shaved per border.
//   Grey images are decoded to three equal channels.
// Inpaint: the image with its mask (DATA image base name + .png in --masks, white = fill; default
//   test/fixtures/masks/medium); pixels to fill are zeroed before the engine sees them; output
//   clipped and rounded to 8-bit; PSNR over the masked pixels only (RGB pooled), SSIM over the
//   whole image (RGB mean).
// Per-set figures are means of per-image figures.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RestoraError, type Passes, type Recipe, type RuntimeOptions, type Task } from '../../contract/index.ts';
import type { Engine, RgbImage, RunOptions } from '../api.ts';
import { isImagePath } from '../batch/expand.ts';
import { decode, decodeMask } from '../image/decode.ts';
import { imresizeRgb8 } from './imresize.ts';
import { psnr, psnrMasked, rgbToY, shave, ssimPlanar, ssimPlane } from './metrics.ts';
import { addGaussianNoise } from './rng.ts';

export { imresizePlane, imresizeRgb8, contributions, cubic, toUint8 } from './imresize.ts';
export { psnr, psnrMasked, rgbToY, shave, ssimPlane, ssimPlanar } from './metrics.ts';
export { Rng, addGaussianNoise, hashString } from './rng.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_MASKS_DIR = path.join(repoRoot, 'test', 'fixtures', 'masks', 'medium');
export const DEFAULT_SIGMA = 25;

/** What eval needs of the engine (the real one, or a test double). */
export type EvalEngine = Pick<Engine, 'readImage' | 'run'> & Partial<Pick<Engine, 'estimateSigma'>>;

export interface EvalOptions {
  task: Task;
  data: string;
  sigma?: number | 'auto';
  noise?: number; // synthetic denoise: the noise level added (default: sigma, or DEFAULT_SIGMA)
  scale?: 2 | 4;
  masks?: string;
  model?: string; // model id; 'bicubic' = MATLAB bicubic (upscale only, no engine needed)
  passes?: Passes; // 8: the model runs as a self-ensemble (the recipe step's `passes`)
  grain?: boolean; // inpaint: match the photo's grain in the fill (the step's `grain`)
  limit?: number;
  runtime?: Partial<RuntimeOptions>;
  onImage?: (r: ImageResult, index: number, total: number) => void;
}

export interface ImageResult {
  name: string;
  width: number; // of the image compared (HR crop for upscale)
  height: number;
  psnr: number;
  ssim: number;
  seconds: number; // engine.run time
  sigmaEstimated?: number; // sigma auto: the level the engine used (its estimator's, or PCA's)
}

export interface EvalResult {
  task: Task;
  data: string;
  n: number;
  psnr: number;
  ssim: number;
  model: string;
  passes: Passes; // model runs per tile (8: self-ensemble)
  grain?: boolean; // inpaint: the fill got the photo's grain
  mode: 'synthetic' | 'pairs';
  sigma?: number | 'auto';
  noise?: number; // synthetic denoise: the Gaussian noise level that was added
  sigmaEstimated?: number; // sigma auto: mean of the per-image estimates
  scale?: number;
  masks?: string;
  psnrOn: string;
  ssimOn: string;
  seconds: number;
  images: ImageResult[];
}

function listImages(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new RestoraError('E_NOT_FOUND', `the evaluation folder ${dir} does not exist or cannot be read`, dir);
  }
  return names.filter((n) => !n.startsWith('.') && isImagePath(n) && statSync(path.join(dir, n)).isFile()).sort();
}

function stem(name: string): string {
  return name.slice(0, name.length - path.extname(name).length);
}

/** [0,1] floats -> 8-bit values: clip, then round (the protocol's output quantisation). */
export function quantize(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return out;
}

function toFloat(planes8: Uint8Array): Float32Array {
  const out = new Float32Array(planes8.length);
  for (let i = 0; i < planes8.length; i++) out[i] = planes8[i] / 255;
  return out;
}

function cropPlanar8(src: Uint8Array, width: number, height: number, w: number, h: number): Uint8Array {
  if (w === width && h === height) return src;
  const out = new Uint8Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) out.set(src.subarray(c * width * height + y * width, c * width * height + y * width + w), c * w * h + y * w);
  return out;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Run the protocol over a folder; resolves to per-image and mean figures. */
export async function evaluate(engine: EvalEngine | undefined, opts: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const read = (f: string): Promise<RgbImage> => (engine ? engine.readImage(f) : decode(f));
  const needEngine = () => {
    if (!engine) throw new RestoraError('E_MODEL', 'this evaluation needs the engine (a model); only --model bicubic runs without one');
    return engine;
  };
  const model = opts.model;
  if (opts.passes === 8 && model === 'bicubic') throw new RestoraError('E_USAGE', '--passes 8 runs a model; bicubic has none');
  // what every recipe step below carries besides its task's own parameters
  const modelOpts = { ...(model ? { model } : {}), ...(opts.passes === 8 ? { passes: 8 as const } : {}) };
  const images: ImageResult[] = [];
  const pairs = opts.task === 'denoise' && existsSync(path.join(opts.data, 'noisy')) && existsSync(path.join(opts.data, 'clean'));
  // the engine fills `trace` (not part of the Engine interface): the model it picked, the sigma used
  let usedModel: string | undefined;
  const runWith = async (img: RgbImage, recipe: Recipe): Promise<{ out: RgbImage; seconds: number; sigma?: number }> => {
    const trace: { model?: string; sigma?: number }[] = [];
    const o: RunOptions = { ...(opts.runtime ? { runtime: opts.runtime } : {}) };
    Object.assign(o, { trace });
    const t = performance.now();
    const out = await needEngine().run(img, recipe, o);
    const seconds = (performance.now() - t) / 1000;
    if (trace[0]?.model) usedModel = trace[0].model;
    return { out, seconds, ...(trace[0]?.sigma !== undefined ? { sigma: trace[0].sigma } : {}) };
  };
  let sigma = opts.sigma;
  let noise: number | undefined;
  let masksDir: string | undefined;

  let names: string[];
  if (pairs) {
    const clean = new Map(listImages(path.join(opts.data, 'clean')).map((n) => [stem(n), n]));
    names = listImages(path.join(opts.data, 'noisy')).filter((n) => clean.has(stem(n)));
    if (sigma === undefined) sigma = 'auto';
    const lookup = clean;
    names = names.map((n) => `${n}\u0000${lookup.get(stem(n))}`);
  } else {
    names = listImages(opts.data);
  }
  if (opts.limit) names = names.slice(0, opts.limit);
  if (names.length === 0) throw new RestoraError('E_NOT_FOUND', `no images to evaluate in ${opts.data}`, opts.data);

  if (opts.task === 'denoise' && !pairs) {
    noise = opts.noise ?? (typeof sigma === 'number' ? sigma : DEFAULT_SIGMA);
    if (sigma === undefined) sigma = noise;
  } else if (opts.noise !== undefined) {
    throw new RestoraError('E_USAGE', `--noise adds noise to clean images; ${opts.data} holds noisy/clean pairs (or this is not a denoise evaluation)`);
  }
  if (opts.task === 'inpaint') {
    masksDir = opts.masks ?? DEFAULT_MASKS_DIR;
    if (!existsSync(masksDir)) throw new RestoraError('E_MASK', `the masks folder ${masksDir} does not exist`, masksDir);
  }
  const scale = opts.scale ?? 4;

  for (let i = 0; i < names.length; i++) {
    const entry = names[i];
    let result: ImageResult;
    if (opts.task === 'denoise') {
      const [noisyName, cleanName] = pairs ? entry.split('\u0000') : [entry, entry];
      const cleanFile = path.join(opts.data, pairs ? 'clean' : '', cleanName);
      const clean = await read(cleanFile);
      const clean8 = quantize(clean.data);
      let input: RgbImage;
      let estimated: number | undefined;
      if (pairs) {
        input = await read(path.join(opts.data, 'noisy', noisyName));
        if (input.width !== clean.width || input.height !== clean.height) {
          throw new RestoraError('E_DECODE', `${noisyName} is ${input.width} x ${input.height} but its clean reference is ${clean.width} x ${clean.height}`);
        }
      } else {
        input = { width: clean.width, height: clean.height, data: addGaussianNoise(toFloat(clean8), noise as number, cleanName) };
      }
      const recipe: Recipe = [{ task: 'denoise', sigma: sigma as number | 'auto', ...modelOpts }];
      const { out, seconds, sigma: used } = await runWith({ width: input.width, height: input.height, data: input.data }, recipe);
      // the level the run actually used (its trace); an engine without a trace is asked after
      if (sigma === 'auto') estimated = used ?? (engine?.estimateSigma ? await engine.estimateSigma(input, model) : undefined);
      if (Number.isNaN(estimated)) estimated = undefined;
      const out8 = quantize(out.data);
      result = {
        name: pairs ? noisyName : cleanName,
        width: clean.width,
        height: clean.height,
        psnr: psnr(clean8, out8),
        ssim: ssimPlanar(clean8, out8, clean.width, clean.height),
        seconds,
        ...(estimated !== undefined ? { sigmaEstimated: estimated } : {}),
      };
    } else if (opts.task === 'upscale') {
      const hr = await read(path.join(opts.data, entry));
      const W = hr.width - (hr.width % scale);
      const H = hr.height - (hr.height % scale);
      const hr8 = cropPlanar8(quantize(hr.data), hr.width, hr.height, W, H);
      const lr = imresizeRgb8(hr8, W, H, 1 / scale);
      let sr8: Uint8Array;
      let seconds: number;
      if (model === 'bicubic') {
        const t = performance.now();
        sr8 = imresizeRgb8(lr.data, lr.width, lr.height, scale).data;
        seconds = (performance.now() - t) / 1000;
      } else {
        const r = await runWith({ width: lr.width, height: lr.height, data: toFloat(lr.data) }, [{ task: 'upscale', scale, ...modelOpts }]);
        if (r.out.width !== W || r.out.height !== H) throw new RestoraError('E_MODEL', `the upscaler returned ${r.out.width} x ${r.out.height} for ${entry}, expected ${W} x ${H}`);
        sr8 = quantize(r.out.data);
        seconds = r.seconds;
      }
      const y1 = shave(rgbToY(hr8, W, H), W, H, scale);
      const y2 = shave(rgbToY(sr8, W, H), W, H, scale);
      result = { name: entry, width: W, height: H, psnr: psnr(y1.data, y2.data), ssim: ssimPlane(y1.data, y2.data, y1.width, y1.height), seconds };
    } else {
      const img = await read(path.join(opts.data, entry));
      const maskFile = path.join(masksDir!, `${stem(entry)}.png`);
      if (!existsSync(maskFile)) throw new RestoraError('E_MASK', `no mask for ${entry}: ${maskFile} does not exist`, maskFile);
      const m = await decodeMask(maskFile, img.width, img.height, entry);
      const n = img.width * img.height;
      const hole = new Uint8Array(n);
      for (let k = 0; k < n; k++) hole[k] = m[k] >= 0.5 ? 1 : 0;
      const gt8 = quantize(img.data);
      // the engine never sees the pixels it must invent
      const input = toFloat(gt8);
      for (let c = 0; c < 3; c++) for (let k = 0; k < n; k++) if (hole[k]) input[c * n + k] = 0;
      const { out, seconds } = await runWith({ width: img.width, height: img.height, data: input }, [{ task: 'inpaint', mask: maskFile, ...modelOpts, ...(opts.grain ? { grain: true } : {}) }]);
      const out8 = quantize(out.data);
      result = { name: entry, width: img.width, height: img.height, psnr: psnrMasked(gt8, out8, hole), ssim: ssimPlanar(gt8, out8, img.width, img.height), seconds };
    }
    images.push(result);
    opts.onImage?.(result, i, names.length);
  }

  return {
    task: opts.task,
    data: opts.data,
    n: images.length,
    psnr: mean(images.map((r) => r.psnr)),
    ssim: mean(images.map((r) => r.ssim)),
    model: model ?? usedModel ?? 'default',
    passes: opts.passes ?? 1,
    ...(opts.task === 'inpaint' && opts.grain ? { grain: true } : {}),
    mode: pairs ? 'pairs' : 'synthetic',
    ...(opts.task === 'denoise' ? { sigma } : {}),
    ...(noise !== undefined ? { noise } : {}),
    ...(images.some((r) => r.sigmaEstimated !== undefined) ? { sigmaEstimated: mean(images.flatMap((r) => (r.sigmaEstimated !== undefined ? [r.sigmaEstimated] : []))) } : {}),
    ...(opts.task === 'upscale' ? { scale } : {}),
    ...(masksDir ? { masks: masksDir } : {}),
    psnrOn: opts.task === 'upscale' ? `Y (BT.601), ${scale} px shaved` : opts.task === 'inpaint' ? 'RGB, masked pixels only' : 'RGB',
    ssimOn: opts.task === 'upscale' ? `Y (BT.601), ${scale} px shaved` : 'RGB, mean of channels',
    seconds: (performance.now() - t0) / 1000,
    images,
  };
}

export interface EvalCliOptions {
  task: Task;
  data: string;
  sigma?: number | 'auto';
  noise?: number;
  scale?: 2 | 4;
  masks?: string;
  model?: string;
  passes?: Passes;
  grain?: boolean;
  limit?: number;
  runtime?: Partial<RuntimeOptions>;
  json: boolean;
}

/** `restora eval ...`: a table (or, with --json, one JSON object as the last line); exit status. */
export async function evaluateCommand(engine: EvalEngine | undefined, cmd: EvalCliOptions, io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const row = (name: string, size: string, p: string, s: string, t: string) => `${size.padStart(10)} ${p.padStart(8)} ${s.padStart(7)} ${t.padStart(8)}  ${name}\n`;
  if (!cmd.json) io.out(row('image', 'size', 'PSNR', 'SSIM', 'seconds'));
  const result = await evaluate(engine, {
    task: cmd.task,
    data: cmd.data,
    ...(cmd.sigma !== undefined ? { sigma: cmd.sigma } : {}),
    ...(cmd.noise !== undefined ? { noise: cmd.noise } : {}),
    ...(cmd.scale !== undefined ? { scale: cmd.scale } : {}),
    ...(cmd.masks ? { masks: cmd.masks } : {}),
    ...(cmd.model ? { model: cmd.model } : {}),
    ...(cmd.passes ? { passes: cmd.passes } : {}),
    ...(cmd.grain ? { grain: true } : {}),
    ...(cmd.limit ? { limit: cmd.limit } : {}),
    ...(cmd.runtime ? { runtime: cmd.runtime } : {}),
    onImage: (r, i, total) => {
      const line = row(r.sigmaEstimated !== undefined ? `${r.name} (sigma ${r.sigmaEstimated.toFixed(1)})` : r.name, `${r.width}x${r.height}`, r.psnr.toFixed(2), r.ssim.toFixed(4), r.seconds.toFixed(2));
      if (cmd.json) io.err(`[${i + 1}/${total}] ${line}`);
      else io.out(line);
    },
  });
  const params = [
    result.noise !== undefined ? `noise ${result.noise}` : '',
    result.sigma !== undefined ? `sigma ${result.sigma}${result.sigmaEstimated !== undefined ? ` (mean estimate ${result.sigmaEstimated.toFixed(2)})` : ''}` : '',
    result.scale !== undefined ? `x${result.scale}` : '',
    `model ${result.model}`,
    result.passes === 8 ? '8 passes (self-ensemble)' : '',
    result.grain ? 'grain matched' : '',
    result.masks ? `masks ${result.masks}` : '',
    result.mode === 'pairs' ? 'noisy/clean pairs' : '',
  ].filter(Boolean);
  const summary = `${result.task} on ${result.data} (${params.join(', ')}): n=${result.n}  PSNR ${result.psnr.toFixed(2)} dB  SSIM ${result.ssim.toFixed(4)}  (PSNR on ${result.psnrOn}; SSIM on ${result.ssimOn})\n`;
  if (cmd.json) {
    io.err(summary);
    io.out(JSON.stringify(result) + '\n');
  } else {
    io.out(row(`mean (${result.n})`, '', result.psnr.toFixed(2), result.ssim.toFixed(4), result.seconds.toFixed(1)));
    io.out(summary);
  }
  return 0;
}
