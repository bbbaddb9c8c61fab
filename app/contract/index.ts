// The one typed API shared by every front end (Electron host, web-mode server, renderer, tests).
// Every call and event is declared once here, with a runtime schema (zod) that main, host and
// server use to validate what enters them. Pixels never travel as JSON: jobs carry file paths,
// previews are fetched by URL (custom protocol in Electron, HTTP in web mode).
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// error codes a user can meet; `message` is a sentence a photographer understands, naming the file
export const ErrorCode = z.enum([
  'E_USAGE', // bad arguments (CLI exit 2)
  'E_NOT_FOUND', // input file or folder does not exist
  'E_DECODE', // not a readable image (truncated, corrupt, zero bytes)
  'E_UNSUPPORTED', // a format we do not process (RAW, SVG, animated ...)
  'E_TOO_LARGE', // pixel limit (decompression bomb guard)
  'E_MASK', // the inpaint mask is missing, unreadable or empty
  'E_WRITE', // output could not be written
  'E_READ_ONLY', // output folder is read-only
  'E_NO_SPACE', // disk full
  'E_MODEL', // model missing or failed to run
  'E_MODEL_INVALID', // a custom model failed inspection
  'E_OOM', // out of memory even on the smallest tile
  'E_CANCELLED',
  'E_FORBIDDEN', // web mode: path not chosen by the user, bad token/origin/host
  'E_INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorInfo = z.object({ code: ErrorCode, message: z.string(), file: z.string().optional() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/** An error that crosses every boundary intact (code + sentence + file). */
export class RestoraError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  constructor(code: ErrorCode, message: string, file?: string) {
    super(message);
    this.name = 'RestoraError';
    this.code = code;
    this.file = file;
  }
  toJSON(): ErrorInfo {
    return { code: this.code, message: this.message, ...(this.file ? { file: this.file } : {}) };
  }
  static from(e: unknown): RestoraError {
    if (e instanceof RestoraError) return e;
    const maybe = e as { code?: unknown; message?: unknown; file?: unknown } | null;
    if (maybe && typeof maybe.code === 'string' && ErrorCode.safeParse(maybe.code).success && typeof maybe.message === 'string') {
      return new RestoraError(maybe.code as ErrorCode, maybe.message, typeof maybe.file === 'string' ? maybe.file : undefined);
    }
    return new RestoraError('E_INTERNAL', e instanceof Error ? e.message : String(e));
  }
}

// ---------------------------------------------------------------------------------------------
// data shapes

export const ExecutionProvider = z.enum(['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProvider>;

export const Task = z.enum(['denoise', 'upscale', 'inpaint']);
export type Task = z.infer<typeof Task>;

/**
 * Model runs per tile: 1, or 8 for self-ensemble (the model sees each tile in its 8 rotations and
 * mirrors and the 8 results are averaged: about 8x the time, a little cleaner). Absent = 1.
 */
export const Passes = z.union([z.literal(1), z.literal(8)]);
export type Passes = z.infer<typeof Passes>;

/** One step of a recipe. Sigma is on the 0-255 scale; 'auto' estimates it from the image. */
export const Step = z.discriminatedUnion('task', [
  z.object({ task: z.literal('denoise'), sigma: z.union([z.number().min(0).max(100), z.literal('auto')]).default('auto'), model: z.string().optional(), passes: Passes.optional() }),
  z.object({ task: z.literal('upscale'), scale: z.union([z.literal(2), z.literal(4)]), model: z.string().optional(), passes: Passes.optional() }),
  // grain: copy the photo's own grain (its fine detail around the hole) into the fill, so the fill is not
  // smooth in a grainy photo; off by default
  z.object({ task: z.literal('inpaint'), mask: z.string().min(1), model: z.string().optional(), passes: Passes.optional(), grain: z.boolean().optional() }),
]);
export type Step = z.infer<typeof Step>;

/** A chain of steps run in one pass over each image (no intermediate files). */
export const Recipe = z.array(Step).min(1).max(8);
export type Recipe = z.infer<typeof Recipe>;

export const OutputFormat = z.enum(['keep', 'png', 'jpeg', 'tiff', 'webp']);
export type OutputFormat = z.infer<typeof OutputFormat>;

export const OutputOptions = z.object({
  dir: z.string().optional(), // default: "<input folder>/restored"
  suffix: z.string().max(64).default(''),
  format: OutputFormat.default('keep'),
  quality: z.number().int().min(1).max(100).optional(), // JPEG/WebP/AVIF; default 92 (JPEG from a JPEG source saved higher: its own)
  overwrite: z.boolean().default(false), // false: name collisions get -1, -2 ...
});
export type OutputOptions = z.infer<typeof OutputOptions>;

export const RuntimeOptions = z.object({
  ep: ExecutionProvider.default('auto'),
  threads: z.number().int().min(0).max(256).default(0), // 0 = let the runtime choose
  tile: z.number().int().min(0).max(8192).default(0), // 0 = the model card's advice
});
export type RuntimeOptions = z.infer<typeof RuntimeOptions>;

export const ModelInfo = z.object({
  id: z.string(),
  task: Task,
  name: z.string(),
  scale: z.number().int().min(1),
  source: z.enum(['bundled', 'user']),
  architecture: z.string(),
  params: z.number().int().nonnegative().optional(),
  macsPerPixel: z.number().nonnegative().optional(),
  license: z.string(),
  metrics: z.record(z.string(), z.number()).default({}),
  description: z.string().optional(),
  /** a denoiser with a net for strengths above the noise: used from this many times Auto's reading */
  aboveNoiseFrom: z.number().optional(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const RuntimeInfo = z.object({
  requested: ExecutionProvider,
  active: ExecutionProvider, // what actually runs (never 'auto')
  available: z.array(ExecutionProvider),
  fallbackReason: z.string().optional(), // why a GPU provider was not used, in words
  threads: z.number().int(),
});
export type RuntimeInfo = z.infer<typeof RuntimeInfo>;

export const FileStatus = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'skipped']);
export type FileStatus = z.infer<typeof FileStatus>;

export const FileEntry = z.object({ path: z.string(), size: z.number().int().nonnegative(), rel: z.string() });
export type FileEntry = z.infer<typeof FileEntry>;

/** What one step of the recipe used on a file: the model, the provider, and for denoise the level. */
export const StepUsed = z.object({
  task: Task,
  model: z.string(),
  ep: z.string(),
  sigma: z.number().optional(), // denoise: the noise level given to the model (0-255 scale)
  sigmaBy: z.enum(['estimator', 'pca', 'given']).optional(), // auto (the model's estimator, or PCA) or given
  /** denoise, a manual level: what the estimator read on the image, and whether the net for strengths above the noise ran */
  reading: z.number().optional(),
  aboveNoise: z.boolean().optional(),
  passes: z.literal(8).optional(), // the step ran as a self-ensemble (Best quality)
  scale: z.number().int().optional(), // upscale: the factor
  grain: z.number().optional(), // inpaint with grain matching: the strength of the grain copied (RMS per channel of the photo's fine detail around the hole, 0-255 scale)
  note: z.string().optional(), // e.g. an out-of-memory retry with smaller tiles
});
export type StepUsed = z.infer<typeof StepUsed>;

/**
 * The σ above which a denoiser's second model (card `above_noise`) runs instead of the model: `fromRatio`
 * times what the estimator reads, the reading counted as at least σ 1 (the second net was trained with
 * maps 1-3x a crop's noise, not for any strength over nothing). One rule for the engine, the Denoise
 * step's note and Compare strengths.
 */
export function aboveNoiseFrom(reading: number, fromRatio: number): number {
  return Math.max(1, reading) * fromRatio;
}

/**
 * What a done file's steps used, in words, one entry per step: `denoise σ 3.4, estimated` (the level
 * Auto chose, so it is visible), `denoise σ 30.0, above the noise` (a manual level above the
 * photo's noise: the card's above-noise net ran), `upscale ×2, 8 passes` (Best quality), `inpaint`.
 * The one wording for every front end: the CLI's done lines and the queue rows.
 */
export function describeStepsUsed(steps: readonly Pick<StepUsed, 'task' | 'sigma' | 'sigmaBy' | 'passes' | 'scale' | 'grain' | 'aboveNoise'>[] | undefined): string[] {
  return (steps ?? []).map((s) => {
    let head: string = s.task;
    if (s.task === 'denoise' && s.sigma !== undefined) head += ` σ ${s.sigma.toFixed(1)}${s.sigmaBy && s.sigmaBy !== 'given' ? ', estimated' : ''}`;
    if (s.task === 'denoise' && s.aboveNoise) head += ', above the noise';
    if (s.task === 'upscale' && s.scale) head += ` ×${s.scale}`;
    if (s.task === 'inpaint' && s.grain !== undefined) head += ', grain matched';
    return s.passes === 8 ? `${head}, 8 passes` : head;
  });
}

export const FileReport = z.object({
  input: z.string(),
  output: z.string().optional(),
  status: FileStatus,
  error: ErrorInfo.optional(),
  seconds: z.number().optional(),
  steps: z.array(StepUsed).optional(), // done files: what each step used
  renamed: z.boolean().optional(), // its natural output name was taken, so a number was added (-1, -2 ...)
  notes: z.array(z.string()).optional(), // done: what the output could not keep, in words (e.g. transparency in a JPEG)
});
export type FileReport = z.infer<typeof FileReport>;

export const Ignored = z.object({ files: z.number().int(), byExtension: z.record(z.string(), z.number().int()), folders: z.number().int() });
export type Ignored = z.infer<typeof Ignored>;

export const BatchReport = z.object({
  batchId: z.string(),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(), // already finished in an earlier run (resume)
  cancelled: z.boolean(),
  seconds: z.number(),
  files: z.array(FileReport),
  journal: z.string().optional(), // path of the batch journal
  report: z.string().optional(), // path of the JSON report written beside the journal
  /** What the folder walk left out on purpose: files that are not images it reads, and (without recursion) sub-folders. */
  ignored: Ignored.optional(),
});
export type BatchReport = z.infer<typeof BatchReport>;

/**
 * What a folder walk left out, in words, for every front end (the CLI's summary, the window's
 * notice): `howToAddFolders` is the front end's own way to include sub-folders. [] when nothing was.
 */
export function describeIgnored(ignored: Ignored | undefined, howToAddFolders: string): string[] {
  if (!ignored) return [];
  const out: string[] = [];
  if (ignored.files) {
    const kinds = Object.entries(ignored.byExtension).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const list = kinds.slice(0, 5).map(([ext, n]) => `${ext} ${n}`).join(', ') + (kinds.length > 5 ? ', …' : '');
    out.push(`${ignored.files} file${ignored.files === 1 ? ' that is not an image' : 's that are not images'} Restora reads (${list})`);
  }
  if (ignored.folders) out.push(`${ignored.folders} sub-folder${ignored.folders === 1 ? '' : 's'} (${howToAddFolders.replace('{them}', ignored.folders === 1 ? 'it' : 'them')})`);
  return out;
}

export const Region = z.object({ x: z.number().int().min(0), y: z.number().int().min(0), width: z.number().int().min(1).max(4096), height: z.number().int().min(1).max(4096) });
export type Region = z.infer<typeof Region>;

export const ImageInfo = z.object({
  path: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  bitDepth: z.number().int(),
  hasAlpha: z.boolean(),
  url: z.string(), // display copy (downsized for large photos) through the read-only protocol / HTTP
  displayScale: z.number(), // display width / true width (<= 1)
});
export type ImageInfo = z.infer<typeof ImageInfo>;

export const Settings = z.object({
  outputDir: z.string().default(''),
  suffix: z.string().default('-restored'),
  format: OutputFormat.default('keep'),
  quality: z.number().int().min(1).max(100).default(92),
  ep: ExecutionProvider.default('auto'),
  threads: z.number().int().min(0).max(256).default(0),
  tile: z.number().int().min(0).max(8192).default(0),
  recursive: z.boolean().default(true),
  theme: z.enum(['dark', 'light']).default('dark'),
  /** shortcuts that are one letter or sign without Ctrl/Cmd (B, S, P, E, X, O, [ ], ?): off for speech input (WCAG 2.1.4) */
  singleKeys: z.boolean().default(true),
  /** the compare view previews what is visible by itself (its Auto checkbox) */
  autoPreview: z.boolean().default(true),
});
export type Settings = z.infer<typeof Settings>;

/**
 * What settings.set takes: any subset of the fields, with no defaults (zod 4 applies defaults even
 * inside .partial(), which would reset every field the caller did not name).
 */
const settingsShape = Settings.shape;
export const SettingsPatch = z.object({
  outputDir: settingsShape.outputDir.unwrap().optional(),
  suffix: settingsShape.suffix.unwrap().optional(),
  format: settingsShape.format.unwrap().optional(),
  quality: settingsShape.quality.unwrap().optional(),
  ep: settingsShape.ep.unwrap().optional(),
  threads: settingsShape.threads.unwrap().optional(),
  tile: settingsShape.tile.unwrap().optional(),
  recursive: settingsShape.recursive.unwrap().optional(),
  theme: settingsShape.theme.unwrap().optional(),
  singleKeys: settingsShape.singleKeys.unwrap().optional(),
  autoPreview: settingsShape.autoPreview.unwrap().optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatch>;
// a Settings field missing from SettingsPatch is a type error here
const _settingsPatchCovers: Record<keyof Settings, unknown> = SettingsPatch.shape;
void _settingsPatchCovers;

/**
 * A named recipe; `output`, when saved with it, the output settings that go with it (a "web export" preset:
 * JPEG at 85 with "-web"); the output folder is a place, not a way of working, so it is not part of one.
 */
export const Preset = z.object({
  name: z.string().min(1).max(80),
  recipe: Recipe,
  output: z.object({ format: OutputFormat, quality: z.number().int().min(1).max(100), suffix: z.string().max(64) }).optional(),
});
export type Preset = z.infer<typeof Preset>;

/**
 * The window's work, kept in the data folder so that a restart, a crash or a page reload loses
 * nothing: the queue (each photo's status and result), the photo shown, the recipe being edited and
 * the painted masks. A photo counts as done or failed only as a batch left it; anything a batch had
 * not finished comes back ready to run (the batch journal then skips what was done).
 */
export const SavedItem = z.object({
  path: z.string().min(1),
  rel: z.string(),
  size: z.number().int().nonnegative(),
  status: z.enum(['ready', 'done', 'failed']),
  output: z.string().min(1).optional(),
  /** where the UI fetches `output` (set by work.load, never kept) */
  outputUrl: z.string().optional(),
  /** the recipe that made `output` (what the compare names it by), and its key (what a new run is compared against) */
  outputRecipe: Recipe.optional(),
  outputKey: z.string().max(20000).optional(),
  steps: z.array(StepUsed).optional(),
  notes: z.array(z.string()).optional(),
  error: ErrorInfo.optional(),
  /** a missing photo's place in the queue when it went missing, where it comes back (kept by the host) */
  at: z.number().int().nonnegative().optional(),
});
export type SavedItem = z.infer<typeof SavedItem>;

/** A recipe step as edited: an Inpaint step may have no mask yet. */
export const DraftStep = z.discriminatedUnion('task', [
  Step.options[0],
  Step.options[1],
  Step.options[2].extend({ mask: z.string().optional() }),
]);
export type DraftStep = z.infer<typeof DraftStep>;

/**
 * A painted mask saved by mask.save: the photo it was painted on and its file. `draft`: the painter's
 * latest strokes, saved on their own a moment after painting (not a file a recipe or batch uses).
 */
export const SavedMask = z.object({ forPath: z.string().min(1), path: z.string().min(1), url: z.string().optional(), draft: z.boolean().optional() });
export type SavedMask = z.infer<typeof SavedMask>;

export const SavedWork = z.object({
  items: z.array(SavedItem).max(100000),
  selected: z.string().optional(),
  steps: z.array(DraftStep).max(8).optional(),
  /** the mask the recipe's Inpaint step uses; `version` tells repaintings of one file apart */
  recipeMask: z.object({ path: z.string().min(1), forPath: z.string(), version: z.number(), sha256: z.string().optional() }).optional(),
  masks: z.array(SavedMask).max(100000).default([]),
  /** photos a running batch had not finished when this was saved */
  unfinished: z.number().int().nonnegative().default(0),
  /**
   * That batch: its photos and recipe key. Run with the same recipe sends exactly these photos again,
   * so the batch journal (keyed by them) skips those that finished after this was saved.
   */
  batch: z.object({ paths: z.array(z.string().min(1)).max(100000), key: z.string().max(20000) }).optional(),
  /**
   * Kept by the host, never sent by a window: photos of the queue that were not there at the last
   * load (an unplugged drive), so that they come back with it; Clear all forgets them.
   */
  missing: z.array(SavedItem).max(100000).default([]),
});
export type SavedWork = z.infer<typeof SavedWork>;

/** One photo of a batch: its status and progress (the 'file.progress' event). */
export const FileProgress = z.object({
    batchId: z.string(),
    index: z.number().int(),
    input: z.string(),
    status: FileStatus,
    progress: z.number().min(0).max(1), // tiles done / tiles total over the whole recipe
    output: z.string().optional(),
    outputUrl: z.string().optional(),
    error: ErrorInfo.optional(),
    steps: z.array(StepUsed).optional(), // done: what each step used (model, provider, noise level)
    notes: z.array(z.string()).optional(), // done: what the output could not keep, in words
    renamed: z.boolean().optional(), // done: the natural output name was taken, so a number was added (output names the file)
  });
export type FileProgress = z.infer<typeof FileProgress>;

/** A batch's overall progress (the 'batch.progress' event). */
export const BatchProgress = z.object({
    batchId: z.string(),
    total: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    progress: z.number().min(0).max(1),
    etaSeconds: z.number().nullable(),
  });
export type BatchProgress = z.infer<typeof BatchProgress>;

// ---------------------------------------------------------------------------------------------
// calls: name -> { args, result }. Every front end routes these names to the one handler table.

export const calls = {
  /** maxPixels: the largest result the engine makes (a recipe over it is refused with E_TOO_LARGE; the window says so before Run) */
  'app.info': { args: z.object({}), result: z.object({ version: z.string(), runtime: RuntimeInfo, mode: z.enum(['electron', 'web']), maxPixels: z.number().int().positive().optional() }) },
  'models.list': { args: z.object({}), result: z.array(ModelInfo) },
  /** The model folders left out at the last scan, with why (the window says so: a model that vanished otherwise looks uninstalled). */
  'models.skipped': { args: z.object({}), result: z.array(z.object({ path: z.string(), reason: z.string() })) },
  /** Expand dropped/picked files and folders into image files; also grants the UI read access to them. */
  'files.add': {
    args: z.object({ paths: z.array(z.string().min(1)).min(1).max(10000), recursive: z.boolean().default(true) }),
    result: z.object({ files: z.array(FileEntry), errors: z.array(ErrorInfo), ignored: Ignored.optional() }),
  },
  'image.info': { args: z.object({ path: z.string().min(1) }), result: ImageInfo },
  /**
   * The noise level (σ, 0-255 scale) Auto gives the denoiser `model` (default: the default denoiser)
   * for this whole photo, as a Run would: what the compare's strengths are centred on.
   */
  'image.noise': { args: z.object({ path: z.string().min(1), model: z.string().optional() }), result: z.object({ sigma: z.number() }) },
  /**
   * Process only a crop (in true-image pixels) and return URLs of the before and after crops. `id`
   * (the window's own name for it) lets preview.cancel stop it.
   */
  'preview.region': {
    args: z.object({
      path: z.string().min(1),
      region: Region,
      recipe: Recipe,
      runtime: RuntimeOptions.optional(),
      id: z.string().min(1).max(100).optional(),
      /** what the whole photo reads (image.noise): a first Denoise step with a manual level picks its net by it, as the whole photo's run does, not by the crop's own reading */
      noiseReading: z.number().min(0).max(255).optional(),
    }),
    result: z.object({ beforeUrl: z.string(), afterUrl: z.string(), region: Region, scale: z.number(), seconds: z.number() }),
  },
  /** The original's true pixels in a region (a crop of at most 4096 px a side): what the mask painter shows zoomed past the display copy. */
  'image.region': {
    args: z.object({ path: z.string().min(1), region: Region.refine((r) => r.width <= 4096 && r.height <= 4096, 'a region is at most 4096 px a side') }),
    result: z.object({ url: z.string(), region: Region }),
  },
  /** Stop a running preview.region named `id` between tiles (it fails with E_CANCELLED); ok: false when none runs. */
  'preview.cancel': { args: z.object({ id: z.string().min(1).max(100) }), result: z.object({ ok: z.boolean() }) },
  /**
   * Store a painted mask (PNG bytes, white = fill) next to the app's data; returns its path. One file per
   * photo; `draft` writes the photo's draft file instead (the painter's strokes kept as they are painted),
   * so the file a recipe or a running batch reads changes only when the mask is used.
   */
  'mask.save': {
    args: z.object({ forPath: z.string().min(1), png: z.instanceof(Uint8Array), draft: z.boolean().optional() }),
    /** `url`: where the UI reads it back (the painter after its copy in memory is gone); `sha256`: of the PNG written */
    result: z.object({ path: z.string(), url: z.string(), sha256: z.string() }),
  },
  'batch.start': {
    args: z.object({
      files: z.array(z.string().min(1)).min(1).max(100000),
      /** Folders the files were added from: a file below one keeps its path under it in the output tree. */
      roots: z.array(z.string().min(1)).max(10000).optional(),
      recipe: Recipe,
      output: OutputOptions.default({ suffix: '', format: 'keep', overwrite: false }),
      runtime: RuntimeOptions.optional(),
      resume: z.boolean().default(true),
    }),
    result: z.object({ batchId: z.string() }),
  },
  /**
   * Leave one photo of a running batch untouched and go on with the others: a photo not started yet is
   * not started, the running one stops after its current tile. It is reported cancelled (a later Run
   * does it). ok: false when no such batch runs or the photo is not in it.
   */
  'batch.skip': { args: z.object({ batchId: z.string(), path: z.string().min(1) }), result: z.object({ ok: z.boolean() }) },
  /** Soft cancel stops between tiles; hard kills the worker (Electron host restarts it). */
  'batch.cancel': { args: z.object({ batchId: z.string(), hard: z.boolean().default(false) }), result: z.object({ ok: z.boolean() }) },
  'settings.get': { args: z.object({}), result: Settings },
  'settings.set': { args: SettingsPatch, result: Settings },
  'presets.list': { args: z.object({}), result: z.array(Preset) },
  'presets.save': { args: Preset, result: z.array(Preset) },
  'presets.delete': { args: z.object({ name: z.string() }), result: z.array(Preset) },
  /** Keep the window's work (queue, recipe, masks) in the data folder; paths Restora was not given are left out. */
  'work.save': {
    /**
     * `forgetMissing`: the user emptied the queue, so the photos missing at the last load go too.
     * `writer`: what work.load gave this window. The window that loaded last keeps the queue: a save
     * from one that loaded before it (a second tab) writes nothing and answers `superseded`.
     */
    args: SavedWork.extend({ forgetMissing: z.boolean().optional(), writer: z.string().max(100).optional() }),
    result: z.object({ items: z.number().int(), superseded: z.boolean().optional() }),
  },
  /**
   * The work saved last, as it stands now: photos that are gone are left out (counted in `missing`,
   * and kept in the file until the queue is emptied, so an unplugged drive's photos come back),
   * results that are gone make their photo ready again; what is kept is granted again. `work` is
   * null when nothing was saved.
   */
  'work.load': {
    args: z.object({}),
    result: z.object({
      work: SavedWork.nullable(),
      missing: z.number().int(),
      /** batches still running in this engine (a reloaded page): their events keep coming, and one batch.done each */
      running: z
        .array(
          z.object({
            batchId: z.string(),
            files: z.array(z.string()),
            recipe: Recipe,
            /** its photos finished so far (their last file.progress), and its last batch.progress */
            finished: z.array(FileProgress).default([]),
            progress: BatchProgress.optional(),
          }),
        )
        .default([]),
      /** the first few photos left out as missing, to name them */
      missingFiles: z.array(z.string()).default([]),
      /** work.json could not be read (kept beside it as work.json.broken) */
      broken: z.boolean().default(false),
      /** this window's name for work.save: the window that loaded last is the one whose saves are kept */
      writer: z.string().optional(),
    }),
  },
  /** Desktop: reveal in the file manager. Web mode: returns the path for the UI to show. */
  'shell.openFolder': { args: z.object({ path: z.string().min(1) }), result: z.object({ opened: z.boolean(), path: z.string() }) },
  /**
   * Desktop: a native open dialog ('files': images, 'folder': a folder to add, 'output': the output
   * folder); what the user picks is granted. Cancelled dialog: paths []. Web mode: E_UNSUPPORTED.
   */
  'dialog.open': {
    args: z.object({ purpose: z.enum(['files', 'folder', 'output']).default('files') }),
    result: z.object({ paths: z.array(z.string()) }),
  },
} as const;

export type CallName = keyof typeof calls;
export type CallArgs<N extends CallName> = z.input<(typeof calls)[N]['args']>;
export type CallResult<N extends CallName> = z.infer<(typeof calls)[N]['result']>;

// ---------------------------------------------------------------------------------------------
// events (engine -> UI)

export const events = {
  'file.progress': FileProgress,
  'batch.progress': BatchProgress,
  'batch.done': BatchReport,
  /** The Electron host crashed; these jobs failed and the host restarted. */
  'host.crashed': z.object({ batchId: z.string().optional(), message: z.string() }),
  /** Desktop: a menu item or its shortcut was used; the UI acts on it (e.g. 'open-files' -> dialog.open). */
  'menu.command': z.object({ command: z.enum(['open-files', 'open-folder', 'choose-output', 'start', 'cancel', 'toggle-compare', 'settings']) }),
  /** Desktop: photos opened with Restora from the OS (file association, second launch); add them with files.add. */
  'files.opened': z.object({ paths: z.array(z.string()) }),
} as const;

export type EventName = keyof typeof events;
export type EventPayload<N extends EventName> = z.infer<(typeof events)[N]>;

// ---------------------------------------------------------------------------------------------
// the API as the renderer sees it (window.api in Electron, the HTTP/WebSocket client in web mode)

export interface RestoraApi {
  call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>>;
  on<N extends EventName>(name: N, listener: (payload: EventPayload<N>) => void): () => void;
  /** Desktop only (preload, webUtils.getPathForFile): the real path of a dropped File; '' if it has none. */
  pathForFile?(file: File): string;
}

/** Validate call arguments where they enter a process; throws RestoraError('E_USAGE'). */
export function parseArgs<N extends CallName>(name: N, args: unknown): z.infer<(typeof calls)[N]['args']> {
  const spec = calls[name];
  if (!spec) throw new RestoraError('E_USAGE', `unknown call ${String(name)}`);
  const r = spec.args.safeParse(args ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RestoraError('E_USAGE', `${name}: ${issue?.path.join('.') || 'arguments'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data as z.infer<(typeof calls)[N]['args']>;
}

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(calls, name);
}
