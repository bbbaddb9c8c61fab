// The engine's one entry: createEngine() builds the pieces (registry, runtime, pipelines, the
// image I/O) and returns the Engine every front end uses (CLI, Electron host, web mode, eval,
// bench). Pure Node: nothing here may import electron.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Recipe as RecipeSchema, RestoraError, type Recipe, type Region, type RuntimeOptions } from '../contract/index.ts';
import type { Engine, EngineCore, EngineOptions, RgbImage, RunOptions } from './api.ts';
import { CacheKeeper, cacheMaxBytesFromEnv } from './cache.ts';
import { expand as expandPaths, runBatch as runBatchWith } from './batch/index.ts';
import { decode, DEFAULT_MAX_PIXELS, displayCopy, probeImage } from './image/decode.ts';
import { cropPlanes } from './image/pixels.ts';
import { writeFileAtomic, writeImage as writeImageFile, type WriteImageOptions } from './image/writer.ts';
import { inspectModel, installModel } from './models/inspect.ts';
import { ModelRegistry, toModelInfo, toRunnable } from './models/registry.ts';
import { estimateNoise, estimateSigmaPca, GRAIN_MARGIN, planRecipe, previewHoleDepth, runRecipe, type PipelineContext, type StepTrace } from './pipelines/index.ts';
import type { InferenceBackend } from './runtime/backend.ts';
import { OrtBackend } from './runtime/ort-backend.ts';
import { Runtime } from './runtime/runtime.ts';

export type { Engine, EngineCore, EngineOptions, RgbImage } from './api.ts';

/** Extra knobs for tests and tools (not part of the contract). */
export interface EngineInternals {
  /** Inference backend (default: onnxruntime-node). Tests pass fakes. */
  backend?: InferenceBackend;
}

/** The Engine plus the EngineCore it hands to the batch runner, and a trace of the last run. */
export interface EngineImpl extends Engine {
  readonly core: EngineCore;
  readonly registry: ModelRegistry;
  readonly runtime: Runtime;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Per-user config folder: $RESTORA_DATA_DIR, else the platform's (XDG on Linux). */
export function defaultDataDir(): string {
  const env = process.env;
  if (env.RESTORA_DATA_DIR) return path.resolve(env.RESTORA_DATA_DIR);
  if (process.platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'restora');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'restora');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'restora');
}

/** Bundled models: packaged resources (electron-builder extraResources) or <repo>/models. */
export function defaultModelsDir(): string {
  const res = (process as { resourcesPath?: string }).resourcesPath;
  if (res && fs.existsSync(path.join(res, 'models'))) return path.join(res, 'models');
  return path.resolve(here, '..', '..', 'models');
}

function key(...parts: unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

const alignDown = (v: number, m: number) => Math.floor(v / m) * m;

/**
 * Build the engine. Folders: `modelsDir` (bundled, read-only), `userModelsDir` (models added with
 * addModel), `dataDir` (caches under <dataDir>/cache). `runtime` sets the default provider,
 * threads and tile for every run (each call may override them).
 */
/** `region` cut to the image's size (`h`); one that starts outside it is E_USAGE naming the file. */
function clampRegion(region: Region, h: { width: number; height: number }, file: string): Region {
  if (region.x >= h.width || region.y >= h.height) {
    throw new RestoraError('E_USAGE', `region ${region.x},${region.y} is outside ${path.basename(file)} (${h.width} x ${h.height})`, file);
  }
  return { x: region.x, y: region.y, width: Math.min(region.width, h.width - region.x), height: Math.min(region.height, h.height - region.y) };
}

export async function createEngine(opts: EngineOptions & EngineInternals = {}): Promise<EngineImpl> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const userModelsDir = opts.userModelsDir ?? path.join(dataDir, 'models');
  const cacheDir = path.join(dataDir, 'cache');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const cacheMax = opts.cacheMaxBytes ?? cacheMaxBytesFromEnv();
  if (!(cacheMax > 0)) throw new RestoraError('E_USAGE', `cacheMaxBytes must be a positive number of bytes (got ${cacheMax})`);
  // pruned on first use, then as it grows; the CLI never touches it
  const cache = new CacheKeeper(cacheDir, cacheMax, (e) => console.warn(`restora: pruning ${cacheDir} failed: ${(e as Error).message}`));
  const defaults: Partial<RuntimeOptions> = { ...opts.runtime };
  const backend = opts.backend ?? new OrtBackend();
  const registry = new ModelRegistry({ bundled: modelsDir, user: userModelsDir });
  const runtime = new Runtime(backend, { ep: defaults.ep, threads: defaults.threads, tile: defaults.tile });
  const ctx: PipelineContext = { registry, runtime, maxPixels, runtime_defaults: defaults };

  const parseRecipe = (recipe: Recipe): Recipe => {
    const r = RecipeSchema.safeParse(recipe);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new RestoraError('E_USAGE', `recipe: ${i?.path.join('.') || 'steps'}: ${i?.message ?? 'invalid'}`);
    }
    return r.data;
  };

  const readImage = (p: string): Promise<RgbImage> => decode(p, { maxPixels });
  const writeImage = (img: RgbImage, p: string, o?: WriteImageOptions) => writeImageFile(img, p, o);
  const run = async (img: RgbImage, recipe: Recipe, o: RunOptions & { source?: string; trace?: StepTrace[] } = {}) =>
    runRecipe(ctx, img, parseRecipe(recipe), { signal: o.signal, onProgress: o.onProgress, runtime: o.runtime, source: o.source, trace: o.trace });
  const estimateSigma = async (img: RgbImage, model?: string): Promise<number> => {
    let entry;
    try {
      entry = registry.pick('denoise', undefined, model);
    } catch (e) {
      if (model) throw e;
      return estimateSigmaPca(img); // no denoiser installed: nothing declares an estimator
    }
    return (await estimateNoise(ctx, entry, img, { threads: defaults.threads })).sigma;
  };
  const core: EngineCore = { readImage, writeImage, run, estimateSigma };

  /** The model runtimeInfo probes GPU providers with: the default denoiser, else any model. */
  const probeModel = () => {
    registry.reload();
    const all = registry.all();
    if (!all.length) return undefined;
    try {
      return toRunnable(registry.pick('denoise'));
    } catch {
      return toRunnable(all[0]);
    }
  };

  const engine: EngineImpl = {
    core,
    registry,
    runtime,

    models() {
      registry.reload();
      return registry.list();
    },

    maxPixels,

    skippedModels() {
      return registry.skipped.map((k) => ({ path: k.path, reason: k.reason }));
    },

    async addModel(file, o = {}) {
      registry.reload();
      let id = o.id;
      if (id && registry.get(id)) throw new RestoraError('E_MODEL_INVALID', `a model with the id ${id} already exists; choose another id`, file);
      const res = await inspectModel(file, backend, { ...(o.task ? { task: o.task } : {}), ...(id ? { id } : {}) });
      if (!id) {
        // generated ids never collide with an existing model (or folder)
        const base = res.card.id;
        id = base;
        for (let n = 2; registry.get(id) || fs.existsSync(path.join(userModelsDir, id)); n++) id = `${base}-${n}`;
        res.card.id = id;
      } else if (fs.existsSync(path.join(userModelsDir, id))) {
        throw new RestoraError('E_MODEL_INVALID', `the folder for ${id} already exists in ${userModelsDir}`, file);
      }
      await installModel(res, userModelsDir);
      registry.reload();
      const e = registry.get(id);
      if (!e) {
        const why = registry.skipped.find((s) => s.path.includes(id!))?.reason ?? 'unknown reason';
        throw new RestoraError('E_MODEL_INVALID', `${path.basename(file)} was copied but could not be registered (${why})`, file);
      }
      return toModelInfo(e);
    },

    async runtimeInfo(o = {}) {
      const r = { ...defaults, ...o };
      return runtime.info(probeModel(), r.ep, r.threads);
    },

    readImage,
    writeImage,
    run,
    estimateSigma,

    expand: (paths, recursive) => expandPaths(paths, recursive),
    runBatch: (o) => runBatchWith(core, o),

    async previewRegion(file, region, recipe, o = {}) {
      const t0 = performance.now();
      const steps = parseRecipe(recipe);
      const h = await probeImage(file, { maxPixels });
      const clamped = clampRegion(region, h, file);
      const { x, y, width: w, height: hh } = clamped;
      // context around the region so that the crop's result matches the full run's, and an origin
      // aligned to every model's size multiple (tiles of the full run start on those multiples)
      const plan = planRecipe(ctx, w, hh, steps, { ...defaults, ...o.runtime });
      let align = 1;
      let margin = 16;
      for (const p of plan) {
        align = Math.max(align, p.model.sizeMultiple);
        margin += Math.ceil(Math.max(p.model.overlap, 8) / p.scaleBefore);
        if (p.step.task === 'inpaint') {
          // a region inside a hole must see past the hole's edge: the inpainter fills from it (a deep hole
          // from the edge inward), and matching grain reads the grain around it
          const depth = await previewHoleDepth(p.step.mask, h.width, h.height, clamped, file);
          margin += depth + (p.step.grain ? GRAIN_MARGIN : 0);
        }
      }
      const x0 = alignDown(Math.max(0, x - margin), align);
      const y0 = alignDown(Math.max(0, y - margin), align);
      const x1 = Math.min(h.width, x + w + margin);
      const y1 = Math.min(h.height, y + hh + margin);
      const crop = await decode(file, { maxPixels, region: { left: x0, top: y0, width: x1 - x0, height: y1 - y0 } });
      // sigma 'auto' is estimated on this crop (region plus context) only, as runRecipe does for
      // any image it is given, so a preview's level can differ from the whole photo's. Estimating
      // on the whole photo would mean decoding all of it, which would make the fast preview slow.
      const out = await runRecipe(ctx, crop, steps, {
        signal: o.signal,
        onProgress: o.onProgress,
        runtime: o.runtime,
        origin: { x: x0, y: y0, fullWidth: h.width, fullHeight: h.height },
        source: file,
        // the whole photo's reading, when the caller knows it: a manual level above it picks the same net here as in the full run
        ...(o.noiseReading !== undefined ? { reading: o.noiseReading } : {}),
      });
      const scale = out.width / crop.width;
      const before: RgbImage = { width: w, height: hh, data: cropPlanes(crop.data, 3, crop.width, crop.height, x - x0, y - y0, w, hh) };
      if (crop.alpha) before.alpha = cropPlanes(crop.alpha, 1, crop.width, crop.height, x - x0, y - y0, w, hh);
      const after: RgbImage = { width: w * scale, height: hh * scale, data: cropPlanes(out.data, 3, out.width, out.height, (x - x0) * scale, (y - y0) * scale, w * scale, hh * scale) };
      if (out.alpha) after.alpha = cropPlanes(out.alpha, 1, out.width, out.height, (x - x0) * scale, (y - y0) * scale, w * scale, hh * scale);
      const k = key(path.resolve(file), h.mtimeMs, h.size, clamped, steps, o.runtime ?? {});
      const dir = path.join(cacheDir, 'preview');
      const beforePath = await writeImageFile(before, path.join(dir, `${k}-before.png`), { format: 'png', bitDepth: 8 });
      const afterPath = await writeImageFile(after, path.join(dir, `${k}-after.png`), { format: 'png', bitDepth: 8 });
      const sizes = await Promise.all([beforePath, afterPath].map((p) => fsp.stat(p).then((st) => st.size, () => 0)));
      cache.used(sizes[0]! + sizes[1]!);
      return { before: beforePath, after: afterPath, region: clamped, scale, seconds: (performance.now() - t0) / 1000 };
    },

    async imageRegion(file, region) {
      const h = await probeImage(file, { maxPixels });
      const clamped = clampRegion(region, h, file);
      const k = key(path.resolve(file), h.mtimeMs, h.size, clamped, 'original');
      const out = path.join(cacheDir, 'region', `${k}.png`);
      if (await fsp.stat(out).catch(() => undefined)) {
        await cache.touch(out);
        cache.used();
        return { path: out, region: clamped };
      }
      const crop = await decode(file, { maxPixels, region: { left: clamped.x, top: clamped.y, width: clamped.width, height: clamped.height } });
      // the pixels as decoded (sRGB), without the photo's profile, EXIF or XMP: a picture for the screen, as the previews' crops are
      await writeImageFile({ width: crop.width, height: crop.height, data: crop.data, ...(crop.alpha ? { alpha: crop.alpha } : {}) }, out, { format: 'png', bitDepth: 8 });
      cache.used(await fsp.stat(out).then((st) => st.size, () => 0));
      return { path: out, region: clamped };
    },

    async imageInfo(file, maxSide = 2048) {
      const h = await probeImage(file, { maxPixels });
      const ext = h.hasAlpha ? 'png' : 'jpg';
      const k = key(fs.realpathSync(file), h.mtimeMs, h.size, maxSide);
      const displayPath = path.join(cacheDir, 'display', `${k}.${ext}`);
      let dw: number;
      const cached = await fsp.stat(displayPath).catch(() => undefined);
      if (cached) {
        await cache.touch(displayPath); // recently used: pruned last
        cache.used();
        const scale = Math.min(1, maxSide / Math.max(h.width, h.height));
        dw = Math.max(1, Math.round(h.width * scale));
      } else {
        const d = await displayCopy(file, maxSide, { maxPixels });
        await writeFileAtomic(displayPath, d.bytes);
        cache.used(d.bytes.byteLength);
        dw = d.width;
      }
      return { path: file, width: h.width, height: h.height, format: h.format, bitDepth: h.bitDepth, hasAlpha: h.hasAlpha, displayScale: dw / h.width, displayPath };
    },

    async close() {
      await cache.idle();
      await runtime.close();
    },
  };
  return engine;
}
