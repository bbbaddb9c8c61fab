// The engine's public surface. Everything outside app/engine (CLI, host, server, eval, bench,
// tests) uses only what `createEngine` (app/engine/index.ts) returns and the types below.
import type {
  BatchReport,
  EventPayload,
  ExecutionProvider,
  FileEntry,
  Ignored,
  ImageInfo,
  ModelInfo,
  OutputOptions,
  Recipe,
  Region,
  RuntimeInfo,
  RuntimeOptions,
} from '../contract/index.ts';
import type { WriteImageOptions } from './image/writer.ts';

/**
 * An image in the engine: planar float32 RGB, CHW, values in [0,1] (may exceed the range between
 * steps; clipped only when written), sRGB primaries. `alpha` (HW, [0,1]) is carried through
 * untouched (resized with the image when upscaling). `meta` keeps what the writer needs to
 * re-embed: ICC profile, EXIF, XMP, source format and bit depth.
 */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array; // length 3 * width * height, plane order R, G, B
  alpha?: Float32Array; // length width * height
  meta?: ImageMeta;
}

export interface ImageMeta {
  format: string; // sharp's format name: jpeg, png, tiff, webp, heif, avif ...
  bitDepth: 8 | 16;
  icc?: Buffer;
  exif?: Buffer;
  xmp?: Buffer;
  orientation?: number; // as read; pixels are already rotated upright
  density?: number; // resolution in pixels per inch, as read (kept as is when upscaling)
  grey?: boolean; // the source was greyscale (1 channel, or grey + alpha); pixels are RGB in memory
  jpegQuality?: number; // a JPEG source's quality (1-100), estimated from its quantization table
}

export interface EngineOptions {
  modelsDir?: string; // default: <repo>/models (or the packaged resources path)
  userModelsDir?: string; // default: ~/.config/restora/models
  dataDir?: string; // settings, presets, masks, preview caches. default: ~/.config/restora
  runtime?: Partial<RuntimeOptions>;
  maxPixels?: number; // decompression-bomb guard and result-size cap, pixels. default: 200e6
  cacheMaxBytes?: number; // cap on <dataDir>/cache (previews, display copies). default: $RESTORA_CACHE_MB or 2048 MB
}

export interface ProgressInfo {
  done: number; // tiles done over the whole recipe
  total: number;
}

export interface RunOptions {
  signal?: AbortSignal; // checked between tiles; aborts with RestoraError('E_CANCELLED')
  onProgress?: (p: ProgressInfo) => void;
  runtime?: Partial<RuntimeOptions>;
}

export interface BatchOptions extends RunOptions {
  files: string[]; // files and folders; folders are expanded (recursive) and their tree kept in output
  recursive?: boolean;
  /**
   * Folders the files came from (the UI sends expanded files): a file below one gets its path under
   * the nearest as its `rel`, so the output tree mirrors the folder as it does for a named folder.
   */
  roots?: string[];
  recipe: Recipe;
  output: Partial<OutputOptions>;
  resume?: boolean; // default true: reuse the journal beside the outputs
  batchId?: string;
  onEvent?: <N extends 'file.progress' | 'batch.progress'>(name: N, payload: EventPayload<N>) => void;
  /** Photos to leave untouched while the batch runs (batch.skip): not started, or stopped after the current tile; reported cancelled. */
  skips?: SkipList;
}

/**
 * The photos of a running batch the user asked to skip. `add` may come at any time: a photo not started
 * is left out when its turn comes, the running one stops after its current tile (`onAdd`, set by the batch).
 */
export class SkipList {
  readonly paths = new Set<string>();
  onAdd?: (path: string) => void;
  add(path: string): void {
    this.paths.add(path);
    this.onAdd?.(path);
  }
  has(path: string): boolean {
    return this.paths.has(path);
  }
}

export interface Engine {
  /** All registered models (bundled + user), cards validated against models/card.schema.json. */
  models(): ModelInfo[];
  /** The largest image (input or result) it handles, in pixels: bigger results are refused with E_TOO_LARGE. */
  readonly maxPixels: number;
  /** Model folders left out at the last scan, each with why (a card that is not valid, a missing file). */
  skippedModels(): { path: string; reason: string }[];
  /** Inspect a user's .onnx (names, layout, channels, scale by a probe run), write its card, register it. */
  addModel(file: string, opts?: { task?: 'denoise' | 'upscale' | 'inpaint'; id?: string }): Promise<ModelInfo>;
  /** Which execution provider runs, and why a GPU one was not used. Probes on first call. */
  runtimeInfo(opts?: Partial<RuntimeOptions>): Promise<RuntimeInfo>;

  /** Decode with EXIF orientation applied, ICC converted to sRGB. Throws RestoraError with file name. */
  readImage(path: string): Promise<RgbImage>;
  /** Atomic write (temp file, fsync, rename); keeps ICC/EXIF/XMP; returns the final path. */
  writeImage(img: RgbImage, path: string, opts?: WriteImageOptions): Promise<string>;
  /** Run a recipe on pixels in memory (tiled). Used by pipelines, eval, bench and preview alike. */
  run(img: RgbImage, recipe: Recipe, opts?: RunOptions): Promise<RgbImage>;
  /**
   * The noise level (std, 0-255 scale) that `--sigma auto` gives the denoiser `model` (default:
   * the default denoiser) for this image (planar RGB, CHW, [0,1]): the model's CNN estimator when
   * its card declares one, else the PCA estimate (also when no denoiser is installed). A recipe
   * step estimates on the image it receives, so after an earlier step this may differ from the
   * run's value: the run's trace has the one used. Throws E_MODEL for an unknown model id or a
   * missing or damaged estimator file.
   */
  estimateSigma(img: RgbImage, model?: string): Promise<number>;

  /** Expand files and folders into image files (rel = path relative to the dropped root). */
  expand(paths: string[], recursive?: boolean): Promise<{ files: FileEntry[]; errors: { code: string; message: string; file?: string }[]; ignored?: Ignored }>;
  /** Process a batch: journal, resume, atomic writes, per-file errors, never touches an input. */
  runBatch(opts: BatchOptions): Promise<BatchReport>;
  /** Process only a region; returns before/after crops as PNG files in the preview cache. */
  previewRegion(path: string, region: Region, recipe: Recipe, opts?: RunOptions & { noiseReading?: number }): Promise<{ before: string; after: string; region: Region; scale: number; seconds: number }>;
  /** The original's pixels in `region` (clamped to the image), upright and in sRGB, as a PNG in the cache: the mask painter's 100 %. */
  imageRegion(path: string, region: Region): Promise<{ path: string; region: Region }>;
  /** Display copy for the UI (downsized for big photos), cached. */
  imageInfo(path: string, maxSide?: number): Promise<Omit<ImageInfo, 'url'> & { displayPath: string }>;

  close(): Promise<void>;
}

export type { ExecutionProvider };

/**
 * The pieces of the engine that batch, eval, bench and preview build on. `createEngine` builds one
 * EngineCore and hands it to `runBatch(core, opts)` / `expand(...)` in app/engine/batch/index.ts.
 */
export interface EngineCore {
  readImage(path: string): Promise<RgbImage>;
  writeImage(img: RgbImage, path: string, opts?: WriteImageOptions): Promise<string>;
  run(img: RgbImage, recipe: Recipe, opts?: RunOptions): Promise<RgbImage>;
  estimateSigma(img: RgbImage, model?: string): Promise<number>;
}
