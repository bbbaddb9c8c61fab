// Noise level for `--sigma auto`: the denoiser's own CNN estimator when its card declares one
// (card.json `estimator`, an ONNX file beside the model), else the PCA estimate (noise.ts), which
// reads real camera noise (demosaiced, JPEG) far too low but needs no model: old or third-party
// cards and models added with `restora models add` keep it.
//
// With an estimator: crop side c = min(crop, width, height) rounded down to the estimator's size
// multiple (below 16 px: the PCA estimate instead); up to `crops` crops of c x c on a k x k grid
// (k = ceil(sqrt(crops))) whose positions run evenly from one edge to the other
// (x_i = round((width - c) * i / (k - 1)), duplicates dropped); when the grid has more positions
// than `crops`, an evenly spaced subset in reading order. The crops run in batches of up to 8,
// and the estimate is the median of the outputs x 255. It always runs on the CPU: it is small,
// and the same pixels then give the same sigma whatever GPU the denoiser runs on.
import { RestoraError } from '../../contract/index.ts';
import type { RgbImage } from '../api.ts';
import { cropPlanes } from '../image/pixels.ts';
import type { CardEstimator } from '../models/card.ts';
import type { ModelEntry, ModelRegistry } from '../models/registry.ts';
import type { TensorData } from '../runtime/backend.ts';
import type { RunnableModel, Runtime } from '../runtime/runtime.ts';
import { estimateSigmaPca } from './noise.ts';

/** Smallest crop side the estimator is run on; smaller images get the PCA estimate. */
export const MIN_ESTIMATOR_CROP = 16;
/** Crops per inference call (bounded memory whatever `crops` says). */
export const ESTIMATOR_BATCH = 8;

export interface CropBox {
  x: number;
  y: number;
}

/**
 * The crop grid for an image of width x height (pixels): the crop side and the top-left corners,
 * or undefined when the side would be under 16 px (use the PCA estimate).
 */
export function estimatorCrops(width: number, height: number, spec: Pick<CardEstimator, 'crop' | 'crops' | 'size_multiple'>): { side: number; boxes: CropBox[] } | undefined {
  const m = Math.max(1, spec.size_multiple);
  const side = Math.floor(Math.min(spec.crop, width, height) / m) * m;
  if (side < MIN_ESTIMATOR_CROP) return undefined;
  const k = Math.max(1, Math.ceil(Math.sqrt(spec.crops)));
  const at = (span: number) => (k === 1 ? [Math.round(span / 2)] : [...new Set(Array.from({ length: k }, (_, i) => Math.round((span * i) / (k - 1))))]);
  const xs = at(width - side);
  const ys = at(height - side);
  const grid = ys.flatMap((y) => xs.map((x) => ({ x, y })));
  const n = Math.max(1, spec.crops);
  const boxes = grid.length <= n ? grid : Array.from({ length: n }, (_, j) => grid[Math.floor((j * grid.length) / n)]);
  return { side, boxes };
}

/** Median (mean of the two middle values for an even count). */
export function median(values: ArrayLike<number>): number {
  const v = Array.from(values).sort((a, b) => a - b);
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

/** NCHW float32 batch of c x c crops of a planar RGB image (CHW). */
function cropBatch(img: RgbImage, boxes: CropBox[], side: number): Float32Array {
  const n = 3 * side * side;
  const out = new Float32Array(boxes.length * n);
  boxes.forEach((b, i) => out.set(cropPlanes(img.data, 3, img.width, img.height, b.x, b.y, side, side), i * n));
  return out;
}

export interface NoiseContext {
  registry: ModelRegistry;
  runtime: Runtime;
}

export interface SigmaEstimate {
  sigma: number; // 0-255
  by: 'estimator' | 'pca';
}

/**
 * The noise level (std, 0-255 scale) `--sigma auto` uses for the denoiser `entry` on `img`
 * (planar RGB, CHW, nominally [0,1]): its CNN estimator when the card declares one, else PCA.
 * Deterministic for the same pixels. Throws E_MODEL (naming the file) when the estimator file is
 * missing, does not match its sha256, or does not have the declared input/output.
 */
export async function estimateNoise(ctx: NoiseContext, entry: ModelEntry, img: RgbImage, opts: { threads?: number } = {}): Promise<SigmaEstimate> {
  const est = entry.card.estimator;
  const grid = est ? estimatorCrops(img.width, img.height, est) : undefined;
  if (!est || !grid) return { sigma: estimateSigmaPca(img), by: 'pca' };
  await ctx.registry.verifyEstimator(entry);
  const model: RunnableModel = {
    id: `${entry.card.id}/${est.file}`,
    path: ctx.registry.estimatorFile(entry)!,
    scale: 1,
    sizeMultiple: est.size_multiple,
    tile: grid.side,
    overlap: 0,
    inputs: [{ name: est.input, role: 'image', channels: 3 }],
    output: est.output,
  };
  const session = await ctx.runtime.session(model, 'cpu', opts.threads);
  const wrong = (what: string) => new RestoraError('E_MODEL', `model ${entry.card.id}: its noise estimator ${est.file} ${what}`);
  if (!session.inputs.some((i) => i.name === est.input)) throw wrong(`has no input named ${est.input}`);
  if (!session.outputs.some((o) => o.name === est.output)) throw wrong(`has no output named ${est.output}`);
  const values: number[] = [];
  for (let b = 0; b < grid.boxes.length; b += ESTIMATOR_BATCH) {
    const boxes = grid.boxes.slice(b, b + ESTIMATOR_BATCH);
    let out: TensorData | undefined;
    try {
      out = (await session.run({ [est.input]: { data: cropBatch(img, boxes, grid.side), dims: [boxes.length, 3, grid.side, grid.side] } }))[est.output];
    } catch (e) {
      throw wrong(`failed on ${boxes.length} crops of ${grid.side} px (${e instanceof Error ? e.message.split('\n')[0].slice(0, 200) : e})`);
    }
    if (!out || out.data.length !== boxes.length) throw wrong(`returned ${out?.data.length ?? 0} values for ${boxes.length} crops (expected shape (N,1))`);
    for (const v of out.data) {
      if (!Number.isFinite(v)) throw wrong('produced invalid values (NaN or infinity)');
      values.push(v);
    }
  }
  return { sigma: Math.max(0, median(values)) * 255, by: 'estimator' };
}
