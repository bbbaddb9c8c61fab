// Pipelines: denoise, upscale and inpaint as steps of a recipe, run in memory one after the other
// (no intermediate files), each through the one tiler and the runtime's provider/OOM handling.
// Images are planar float32 RGB (CHW, R,G,B), sRGB, nominally [0,1]; values are not clipped
// between steps (the writer clips). Alpha (HW) never reaches a model: it is kept for denoise and
// inpaint and resized bilinearly for upscale.
import fs from 'node:fs/promises';
import path from 'node:path';
import { aboveNoiseFrom, RestoraError, type ExecutionProvider, type Recipe, type RuntimeOptions, type Step } from '../../contract/index.ts';
import type { ProgressInfo, RgbImage } from '../api.ts';
import { decodeMask } from '../image/decode.ts';
import { cropPlanes, resizePlaneBilinear } from '../image/pixels.ts';
import { toRunnable, type ModelEntry, type ModelRegistry } from '../models/registry.ts';
import type { Runtime, RunnableModel } from '../runtime/runtime.ts';
import type { PlaneSource } from '../tiling/tiler.ts';
import { effectiveTiling, tileCount } from '../tiling/tiler.ts';
import { estimateNoise } from './estimator.ts';
import { depthAt, distanceToKnown, holeWindows, INPAINT_BAND, INPAINT_REACH, INPAINT_SEAM, isHole, poolDepth, type Box, type PooledDepth } from './holes.ts';
import { copyGrain, GRAIN_BLUR, GRAIN_CELL, GRAIN_MARGIN, grainWeight, highPass } from './grain.ts';

export { estimateSigmaPca, pcaSigma } from './noise.ts';
export { estimateNoise, estimatorCrops, median } from './estimator.ts';
export { GRAIN_MARGIN } from './grain.ts';
export type { SigmaEstimate } from './estimator.ts';

export interface PipelineContext {
  registry: ModelRegistry;
  runtime: Runtime;
  /** Largest image (input or result) in pixels; bigger results are refused with E_TOO_LARGE. */
  maxPixels: number;
  /** Runtime options used when a run does not say (the engine's defaults). */
  runtime_defaults?: Partial<RuntimeOptions>;
}

/** Where the image being processed sits inside a bigger one (region preview): step-1 pixels. */
export interface RegionOrigin {
  x: number;
  y: number;
  fullWidth: number;
  fullHeight: number;
}

export interface RecipeOptions {
  signal?: AbortSignal;
  onProgress?: (p: ProgressInfo) => void;
  runtime?: Partial<RuntimeOptions>;
  /** Set when `img` is a crop (masks are cropped to match). */
  origin?: RegionOrigin;
  /** The photo's path, named in mask errors. */
  source?: string;
  /** Filled in as steps run: provider, tile and any OOM/fallback note per step, sigma used. */
  trace?: StepTrace[];
  /**
   * The estimator's reading of the whole photo (0-255), for a crop of it (a region preview): a first
   * Denoise step with a manual level decides on the net for stronger settings by it, not by the crop's.
   */
  reading?: number;
}

export interface StepTrace {
  task: Step['task'];
  model: string;
  ep: string;
  tile: number;
  passes?: 8; // set when the step ran as a self-ensemble
  sigma?: number; // 0-255, denoise only: the level the model was given
  sigmaBy?: 'estimator' | 'pca' | 'given'; // where it came from (the card's CNN estimator, PCA, or the recipe)
  reading?: number; // denoise, a manual level, a card with an above-noise net: what its estimator read (0-255)
  aboveNoise?: boolean; // ... and that net ran (the level was more than `from_ratio` times the reading)
  grain?: number; // inpaint with grain matching: the strength of the grain copied (RMS per channel, 0-255)
  note?: string;
}

interface PlannedStep {
  step: Step;
  entry: ModelEntry;
  model: RunnableModel;
  width: number; // input size of this step
  height: number;
  scaleBefore: number; // product of the scales of earlier steps
  tiles: number; // model runs: tiles x passes
}

function modelFor(ctx: PipelineContext, step: Step): ModelEntry {
  if (step.task === 'upscale') return ctx.registry.pick('upscale', step.scale, step.model);
  return ctx.registry.pick(step.task, undefined, step.model);
}

/** Resolve models and sizes for every step and count the model runs (for recipe-wide progress). */
export function planRecipe(ctx: PipelineContext, width: number, height: number, recipe: Recipe, runtime?: Partial<RuntimeOptions>): PlannedStep[] {
  if (!recipe.length) throw new RestoraError('E_USAGE', 'the recipe has no steps');
  const out: PlannedStep[] = [];
  let w = width;
  let h = height;
  let scale = 1;
  const tile = runtime?.tile || ctx.runtime_defaults?.tile || 0;
  for (const step of recipe) {
    const entry = modelFor(ctx, step);
    const model = toRunnable(entry);
    const t = effectiveTiling(tile || model.tile, model.overlap, model.sizeMultiple).tile;
    const runs = tileCount(w, h, t, model.overlap, model.sizeMultiple) * (step.passes ?? 1);
    out.push({ step, entry, model, width: w, height: h, scaleBefore: scale, tiles: runs });
    w *= model.scale;
    h *= model.scale;
    scale *= model.scale;
  }
  return out;
}

/**
 * Run a recipe on an image in memory. Progress is model runs (tiles x passes) done / total over all steps (an
 * out-of-memory retry re-counts its step). Throws RestoraError: E_MODEL, E_MASK, E_TOO_LARGE,
 * E_OOM, E_CANCELLED.
 */
export async function runRecipe(ctx: PipelineContext, img: RgbImage, recipe: Recipe, opts: RecipeOptions = {}): Promise<RgbImage> {
  const runtime = { ...ctx.runtime_defaults, ...opts.runtime };
  const plan = planRecipe(ctx, img.width, img.height, recipe, runtime);
  const last = plan[plan.length - 1];
  const outW = last.width * last.model.scale;
  const outH = last.height * last.model.scale;
  const fullScale = (plan.reduce((s, p) => s * p.model.scale, 1));
  const finalPixels = opts.origin ? opts.origin.fullWidth * opts.origin.fullHeight * fullScale * fullScale : outW * outH;
  if (finalPixels > ctx.maxPixels) {
    const fw = opts.origin ? opts.origin.fullWidth * fullScale : outW;
    const fh = opts.origin ? opts.origin.fullHeight * fullScale : outH;
    const who = opts.source ? `${path.basename(opts.source)}: ` : '';
    throw new RestoraError('E_TOO_LARGE', `${who}the result would be ${fw} x ${fh} (${(fw * fh / 1e6).toFixed(0)} MP), over the ${(ctx.maxPixels / 1e6).toFixed(0)} MP limit`, opts.source);
  }
  const totals = plan.map((p) => p.tiles);
  const doneBefore = (k: number) => totals.slice(0, k).reduce((a, b) => a + b, 0);
  const total = () => totals.reduce((a, b) => a + b, 0);
  opts.onProgress?.({ done: 0, total: total() });

  let cur = img;
  for (let k = 0; k < plan.length; k++) {
    if (opts.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
    const p = plan[k];
    await ctx.registry.verify(p.entry);
    // progress within the step, phase by phase: the model's runs, then more passes for a large hole
    // (added once the mask is read, before the first run)
    type Phase = { runs: number };
    const phases: Phase[] = [{ runs: p.tiles }];
    const tick = (ph: Phase) => (done: number, t: number) => {
      ph.runs = t;
      totals[k] = phases.reduce((a, b) => a + b.runs, 0);
      const before = phases.slice(0, phases.indexOf(ph)).reduce((a, b) => a + b.runs, 0);
      opts.onProgress?.({ done: doneBefore(k) + before + done, total: total() });
    };
    const addPhase = (runs: number): Phase => {
      const ph = { runs };
      phases.push(ph);
      return ph;
    };
    // `settled`: the provider and tile an earlier run of this step ended on (after any out-of-memory retry)
    const runOn = (width: number, height: number, inputs: Record<string, PlaneSource>, onTile: (done: number, total: number) => void, settled?: { ep: string; tile: number }, model: RunnableModel = p.model) =>
      ctx.runtime.runTiled(model, { width, height, inputs }, { ep: (settled?.ep as ExecutionProvider | undefined) ?? runtime.ep, threads: runtime.threads, tile: settled?.tile ?? runtime.tile, passes: p.step.passes, signal: opts.signal, onTile });
    const run = (inputs: Record<string, PlaneSource>, model: RunnableModel = p.model) => runOn(cur.width, cur.height, inputs, tick(phases[0]), undefined, model);
    const byRole = (role: 'image' | 'sigma' | 'mask') => p.model.inputs.find((i) => i.role === role)?.name;
    const imageName = byRole('image')!;
    const trace: StepTrace = { task: p.step.task, model: p.model.id, ep: '', tile: 0, ...(p.step.passes === 8 ? { passes: 8 } : {}) };

    if (p.step.task === 'denoise') {
      const requested = (p.step as { sigma?: number | 'auto' }).sigma ?? 'auto';
      // 'auto': estimated on the image this step receives (after earlier steps; for a region
      // preview, the crop with its context), by the step's model's estimator or PCA
      const est = requested === 'auto' ? await estimateNoise(ctx, p.entry, cur, { threads: runtime.threads }) : undefined;
      const sigma255 = est ? est.sigma : (requested as number);
      trace.sigma = sigma255;
      trace.sigmaBy = est ? est.by : 'given';
      if (!est && sigma255 === 0) {
        // strength 0, asked for: the photo as it is (the net is not exactly the identity at sigma 0)
        Object.assign(trace, { ep: 'none', tile: 0, note: 'strength 0 leaves the photo as it is' });
        tick(phases[0])(0, 0);
        opts.trace?.push(trace);
        continue;
      }
      const inputs: Record<string, PlaneSource> = { [imageName]: { channels: 3, data: cur.data } };
      const sigmaName = byRole('sigma');
      // the model's sigma map is the noise std on the [0,1] scale
      if (sigmaName) inputs[sigmaName] = { channels: 1, value: sigma255 / 255 };
      // a manual level well above the noise the image carries: the card's net trained for that, when it
      // has one (the model keeps noise as texture there). What the estimator reads decides.
      let net = p.model;
      const above = p.entry.card.above_noise;
      if (above && !est) {
        try {
          const reading = k === 0 && opts.reading !== undefined ? opts.reading : (await estimateNoise(ctx, p.entry, cur, { threads: runtime.threads })).sigma;
          trace.reading = reading;
          if (sigma255 > aboveNoiseFrom(reading, above.from_ratio)) {
            await ctx.registry.verifyAboveNoise(p.entry);
            net = { ...p.model, id: `${p.model.id}/${above.file}`, path: ctx.registry.aboveNoiseFile(p.entry)! };
            trace.aboveNoise = true;
          }
        } catch (e) {
          // its estimator or the second net missing or damaged: the model still runs, as before the second
          // net existed, and the result says why it was not used
          if (!(e instanceof RestoraError) || e.code !== 'E_MODEL') throw e;
          net = p.model;
          trace.aboveNoise = undefined;
          trace.note = `the second model, for strengths above the noise, was not used: ${e.message}`;
        }
      }
      const r = await run(inputs, net);
      const note = [trace.note, r.note].filter(Boolean).join('; ');
      Object.assign(trace, { ep: r.ep, tile: r.tile, ...(note ? { note } : {}) });
      cur = { width: cur.width, height: cur.height, data: r.data, alpha: cur.alpha, meta: cur.meta };
    } else if (p.step.task === 'upscale') {
      const r = await run({ [imageName]: { channels: 3, data: cur.data } });
      const s = p.model.scale;
      Object.assign(trace, { ep: r.ep, tile: r.tile, scale: s, ...(r.note ? { note: r.note } : {}) });
      const alpha = cur.alpha ? resizePlaneBilinear(cur.alpha, cur.width, cur.height, cur.width * s, cur.height * s) : undefined;
      cur = { width: cur.width * s, height: cur.height * s, data: r.data, alpha, meta: cur.meta };
    } else {
      const soft = await maskFor(p.step.mask, cur, p.scaleBefore, opts);
      const n = cur.width * cur.height;
      const hard = new Float32Array(n);
      for (let i = 0; i < n; i++) hard[i] = isHole(soft[i]) ? 1 : 0;
      // the hole is zeroed in what the model sees (our inpainter does it too; user models may not)
      const fed = new Float32Array(cur.data);
      for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) if (hard[i]) fed[c * n + i] = 0;
      const maskName = byRole('mask');
      if (!maskName) throw new RestoraError('E_MODEL', `model ${p.model.id} has no mask input`);
      // a hole deeper than the model reaches is filled from its edge inward, INPAINT_BAND px a pass: what a
      // pass filled near the photo becomes known, and the next pass fills the rest of the hole from it,
      // in a window around each part of what is left. All passes are planned now, so progress knows them.
      const dist = distanceToKnown(hard, cur.width, cur.height);
      let deepest = 0;
      for (let i = 0; i < n; i++) if (hard[i] && dist[i] > deepest) deepest = dist[i];
      const later: { covered: number; box: Box; phase: { runs: number } }[] = [];
      if (deepest > INPAINT_REACH && Number.isFinite(deepest)) {
        const t = effectiveTiling(runtime.tile || p.model.tile, p.model.overlap, p.model.sizeMultiple).tile;
        for (let covered = INPAINT_BAND; deepest > covered; covered += INPAINT_BAND) {
          const left = hard.map((v, i) => (v > 0 && dist[i] > covered - INPAINT_SEAM ? 1 : 0));
          for (const box of holeWindows(left, cur.width, cur.height, p.model.overlap + INPAINT_BAND)) {
            later.push({ covered, box, phase: addPhase(tileCount(box.w, box.h, t, p.model.overlap, p.model.sizeMultiple) * (p.step.passes ?? 1)) });
          }
        }
      }
      const r = await run({ [imageName]: { channels: 3, data: fed }, [maskName]: { channels: 1, data: hard } });
      Object.assign(trace, { ep: r.ep, tile: r.tile });
      const notes = new Set(r.note ? [r.note] : []);
      const out = r.data;
      for (const { covered, box, phase } of later) {
        if (opts.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
        const bn = box.w * box.h;
        const hole = new Float32Array(bn);
        const data = new Float32Array(3 * bn);
        for (let y = 0; y < box.h; y++) {
          for (let x = 0; x < box.w; x++) {
            const at = (box.y + y) * cur.width + box.x + x;
            const j = y * box.w + x;
            // the photo where it is known, earlier passes' fill where they reached, the rest of the hole zeroed;
            // the last INPAINT_SEAM px of the earlier fill are filled again, to cross-fade the two passes there
            const left = hard[at] > 0 && dist[at] > covered - INPAINT_SEAM;
            if (left) hole[j] = 1;
            const src = hard[at] > 0 ? out : cur.data;
            for (let c = 0; c < 3; c++) data[c * bn + j] = left ? 0 : src[c * n + at];
          }
        }
        const rr = await runOn(box.w, box.h, { [imageName]: { channels: 3, data }, [maskName]: { channels: 1, data: hole } }, tick(phase), r);
        if (rr.note) notes.add(rr.note);
        for (let y = 0; y < box.h; y++) {
          for (let x = 0; x < box.w; x++) {
            if (!hole[y * box.w + x]) continue;
            const at = (box.y + y) * cur.width + box.x + x;
            // 0 at the seam's photo side, 1 where this pass's own band starts: no step between passes
            const t = Math.min(1, (dist[at] - (covered - INPAINT_SEAM)) / INPAINT_SEAM);
            for (let c = 0; c < 3; c++) out[c * n + at] = out[c * n + at] * (1 - t) + rr.data[c * bn + y * box.w + x] * t;
          }
        }
      }
      if (notes.size) trace.note = [...notes].join('; ');
      // a feathered mask blends: white takes the model's fill, grey a mix, black keeps the photo
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < n; i++) {
          const m = soft[i];
          const j = c * n + i;
          out[j] = m >= 1 ? out[j] : m <= 0 ? cur.data[j] : cur.data[j] * (1 - m) + out[j] * m;
        }
      }
      if (p.step.grain) {
        if (opts.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
        const at = opts.origin ? { x: opts.origin.x * p.scaleBefore, y: opts.origin.y * p.scaleBefore } : { x: 0, y: 0 };
        const g = matchGrain(cur, hard, at, p.scaleBefore);
        if (g.level !== undefined) trace.grain = Math.round(g.level * 10) / 10;
        if (g.note) trace.note = trace.note ? `${trace.note}; ${g.note}` : g.note;
        // the photo keeps (1 - m) of its own grain; the copy tops it up to full strength
        for (const { box, grain } of g.windows) {
          const wn = box.w * box.h;
          for (let r2 = 0; r2 < box.h; r2++) {
            for (let i = 0; i < box.w; i++) {
              const at2 = (box.y + r2) * cur.width + box.x + i;
              const m = soft[at2];
              if (!(m > 0)) continue;
              const k = grainWeight(m);
              for (let c = 0; c < 3; c++) out[c * n + at2] += grain[c * wn + r2 * box.w + i] * k;
            }
          }
        }
      }
      cur = { width: cur.width, height: cur.height, data: out, alpha: cur.alpha, meta: cur.meta };
    }
    opts.trace?.push(trace);
  }
  return cur;
}

/**
 * The photo's grain for the hole, window by window (each part of the hole with GRAIN_MARGIN around it,
 * overlapping ones merged): the photo's fine detail there (highPass, GRAIN_BLUR px) is the grain, and
 * copyGrain moves cells of it from around the hole into it. Sizes grow with the scale of earlier
 * upscales. `at` is where `img` sits in the whole photo (region previews). `level`: the typical
 * cell's grain, per channel, in 8-bit levels (the strongest window's).
 */
function matchGrain(img: RgbImage, hard: Float32Array, at: { x: number; y: number }, scale: number): { windows: { box: Box; grain: Float32Array }[]; level?: number; note?: string } {
  const boxes = holeWindows(hard, img.width, img.height, GRAIN_MARGIN * scale);
  const windows: { box: Box; grain: Float32Array }[] = [];
  let cells = 0;
  let filled = 0;
  let level: number | undefined;
  for (const box of boxes) {
    const data = cropPlanes(img.data, 3, img.width, img.height, box.x, box.y, box.w, box.h);
    const hole = cropPlanes(hard, 1, img.width, img.height, box.x, box.y, box.w, box.h);
    const residual = highPass(data, box.w, box.h, GRAIN_BLUR * scale);
    // transparent pixels are no source: their detail is no grain
    const blocked = img.alpha ? cropPlanes(img.alpha, 1, img.width, img.height, box.x, box.y, box.w, box.h).map((a) => (a < 0.5 ? 1 : 0)) : undefined;
    const c = copyGrain(residual, hole, box.w, box.h, { cell: GRAIN_CELL * scale, at: { x: at.x + box.x, y: at.y + box.y }, ...(blocked ? { blocked } : {}) });
    cells += c.cells;
    filled += c.filled;
    if (c.filled) {
      windows.push({ box, grain: c.grain });
      level = Math.max(level ?? 0, c.level * 255);
    }
  }
  if (!filled) return { windows, note: 'grain not matched: the hole leaves no photo around it to read grain from' };
  return { windows, level, ...(filled < cells ? { note: `grain matched in ${filled} of ${cells} cells (the rest have no photo around them)` } : {}) };
}

/**
 * How far a region preview must see around `region` (photo px) for an inpaint step with this mask: as deep as
 * the hole reaches under the region, so the crop holds the hole's edge and fills as the full run does.
 */
export async function previewHoleDepth(maskFile: string, fullWidth: number, fullHeight: number, region: { x: number; y: number; width: number; height: number }, source?: string): Promise<number> {
  const depths = await maskDepths(maskFile, fullWidth, fullHeight, source);
  let depth = depthAt(depths.pooled, region);
  if (!Number.isFinite(depth)) {
    // what is known lies in slivers thinner than the pooled blocks: measure at full size
    depths.exact ??= distanceToKnown(depths.hard, fullWidth, fullHeight);
    depth = 0;
    for (let y = region.y; y < Math.min(fullHeight, region.y + region.height); y++) {
      for (let x = region.x; x < Math.min(fullWidth, region.x + region.width); x++) depth = Math.max(depth, depths.exact[y * fullWidth + x]);
    }
  }
  return Number.isFinite(depth) ? Math.ceil(depth) : 0; // nothing known at all: no edge to reach
}

/** The last masks' depth maps, by file, size and mtime: the compare view previews region after region. */
interface MaskDepths {
  hard: Float32Array;
  pooled: PooledDepth;
  exact?: Float32Array;
}
const depthCache = new Map<string, MaskDepths>();

async function maskDepths(maskFile: string, fullWidth: number, fullHeight: number, source?: string): Promise<MaskDepths> {
  let key = '';
  try {
    const st = await fs.stat(maskFile);
    key = `${path.resolve(maskFile)}:${st.size}:${st.mtimeMs}:${fullWidth}x${fullHeight}`;
  } catch {
    // decodeMask says what is wrong with it
  }
  const hit = key ? depthCache.get(key) : undefined;
  if (hit) return hit;
  const m = await decodeMask(maskFile, fullWidth, fullHeight, source);
  const hard = m.map((v) => (isHole(v) ? 1 : 0));
  const entry: MaskDepths = { hard, pooled: poolDepth(hard, fullWidth, fullHeight) };
  if (key) {
    depthCache.set(key, entry);
    while (depthCache.size > 2) depthCache.delete(depthCache.keys().next().value!);
  }
  return entry;
}

/**
 * The mask for an inpaint step, as a soft plane (HW, [0,1], 1 = fill) at the current image's
 * size. The mask file must match the photo's upright size (or its size after the earlier
 * upscale steps); for a region preview the mask is cropped to the region.
 */
async function maskFor(file: string, cur: RgbImage, scaleBefore: number, opts: RecipeOptions): Promise<Float32Array> {
  const o = opts.origin;
  const fullW = o ? o.fullWidth : cur.width / scaleBefore;
  const fullH = o ? o.fullHeight : cur.height / scaleBefore;
  let m = await decodeMask(file, fullW, fullH, opts.source);
  let w = fullW;
  let h = fullH;
  if (scaleBefore !== 1) {
    m = resizePlaneBilinear(m, w, h, w * scaleBefore, h * scaleBefore);
    w *= scaleBefore;
    h *= scaleBefore;
  }
  if (o) m = cropPlanes(m, 1, w, h, o.x * scaleBefore, o.y * scaleBefore, cur.width, cur.height);
  return m;
}
