// Before/after compare: one shared view (zoom, pan) for both sides, the mode, and region previews.
//
// What is on screen never needs the full photo: each side shows the display copy (image.info,
// downsized for big photos) and, where the view is zoomed past it or nothing has been processed
// yet, full-resolution crops of exactly the visible part from preview.region (before and after).
import { aboveNoiseFrom, RestoraError, type Recipe, type Region } from '../../../../app/contract/index.ts';
import { capRegion, contains, fitView, intersects, needsFullRes, visibleRegion, type Size, type View } from '../view/viewport.ts';
import { estimatedSigma, modelOf, sigmaToStrength, strengthLevels } from '../recipe.ts';
import { recipePart } from '../queue-model.ts';
import type { QueueState } from './queue.svelte.ts';
import type { RecipeState } from './recipe.svelte.ts';
import type { SessionState } from './session.svelte.ts';

export interface Tile {
  path: string;
  key: string;
  region: Region;
  beforeUrl: string;
  afterUrl: string;
  scale: number;
  seconds: number;
}

export interface PreviewStat {
  path: string;
  key: string;
  region: Region;
  /** engine time */
  seconds: number;
  /** request to answer, as the user waits for it */
  wallSeconds: number;
  clipped: boolean;
}

/**
 * The name Compare strengths gives its previews, so closing it can stop the one running (preview.cancel);
 * this window's own (two browser tabs on one server share the engine's names).
 */
const STRENGTHS_PREVIEW = `compare-strengths-${Math.random().toString(36).slice(2, 10)}`;

/** Automatic previews stay small so they come back in about a second on a laptop CPU. */
export const AUTO_PREVIEW_MAX_AREA = 1024 * 1024;
export const AUTO_PREVIEW_MAX_SIDE = 1024;
export const MANUAL_PREVIEW_MAX_SIDE = 2048;

export type CompareMode = 'slider' | 'side';

/** One crop of "Compare strengths": the recipe with its Denoise step at `sigma` ('auto': as Auto reads the photo). */
export interface StrengthCell {
  sigma: number | 'auto';
  /** the σ it runs at (Auto's reading for 'auto') */
  shown: number;
  label: string;
  /** a level past the model's `aboveNoiseFrom` x the photo's reading: the denoiser's second model makes it */
  second?: boolean;
  url?: string;
  error?: string;
}

export interface StrengthsView {
  path: string;
  /** the crop, in true-image pixels */
  region: Region;
  beforeUrl?: string;
  cells: StrengthCell[];
  busy: boolean;
  /** what the Denoise step is set to now, in words ("Auto reads σ 8.1", "σ 12") */
  base: string;
  /** result pixels per original pixel (an Upscale step in the recipe) */
  scale: number;
  /** device pixels per CSS pixel when it was made (the crops are shown at 100 %) */
  dpr: number;
}

/** The crop "Compare strengths" shows: the centre of the view, at most this many true pixels a side, */
export const STRENGTHS_MAX_SIDE = 320;
/** ... at least this many, and smaller on a narrow window, so the original and the four levels fit in one row. */
export const STRENGTHS_MIN_SIDE = 128;

/** The crop's side for a window `width` CSS px wide: five crops at 100 % and their gaps in one row. */
export function strengthsSide(width: number, dpr: number): number {
  const fit = Math.floor(((width * 0.96 - 110) / 5) * dpr);
  return Math.max(STRENGTHS_MIN_SIDE, Math.min(STRENGTHS_MAX_SIDE, fit));
}

export class CompareState {
  readonly session: SessionState;
  readonly queue: QueueState;
  readonly recipe: RecipeState;
  view = $state<View>({ zoom: 1, cx: 0, cy: 0 });
  /** one pane's size in CSS px; 0 until the pane is laid out */
  pane = $state<Size>({ width: 0, height: 0 });
  dpr = $state(1);
  mode = $state<CompareMode>('slider');
  /** slider position over the pane, 0 (all after) .. 1 (all before) from the left */
  split = $state(0.5);
  holdBefore = $state(false);
  /** the Auto checkbox: a setting, so it is kept for next time */
  get autoPreview(): boolean {
    return this.session.settings.autoPreview;
  }
  set autoPreview(on: boolean) {
    void this.session.updateSettings({ autoPreview: on }, 0);
  }
  tiles = $state.raw<Tile[]>([]);
  busy = $state(false);
  lastPreview = $state.raw<PreviewStat | null>(null);
  /** why the last preview failed (shown beside the preview button, not as a popup for automatic ones) */
  previewError = $state<string | null>(null);
  /** show the recipe being edited on the after side, even where the photo has a result */
  showCurrent = $state(false);
  /** What Auto reads for a photo (σ), by denoiser and path: from Compare strengths, a run, or asked for */
  readings = $state<Record<string, number>>({});
  #reading = new Map<string, Promise<void>>();

  /** Auto's reading of this photo for the denoiser `model` ('' = the default), if known. */
  readingFor(path: string, model = ''): number | undefined {
    return this.readings[`${model}|${path}`] ?? estimatedSigma(this.queue.get(path)?.steps, model);
  }

  /** Ask the engine what Auto reads for this photo (once; quietly: it only feeds a hint). */
  async ensureReading(path: string, model = ''): Promise<void> {
    const k = `${model}|${path}`;
    if (this.readingFor(path, model) !== undefined || this.#reading.has(k)) return;
    const job = (async () => {
      try {
        const { sigma } = await this.session.api.call('image.noise', { path, ...(model ? { model } : {}) });
        this.readings = { ...this.readings, [k]: sigma };
      } catch {
        // no hint then; a broken photo says so in its row
      }
    })();
    this.#reading.set(k, job);
    await job;
  }

  /** "Compare strengths": one crop at several denoise levels, side by side (null when closed) */
  strengths = $state<StrengthsView | null>(null);
  #strengthsRun = 0;
  #queued: 'auto' | 'manual' | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #fittedFor = '';

  constructor(session: SessionState, queue: QueueState, recipe: RecipeState) {
    this.session = session;
    this.queue = queue;
    this.recipe = recipe;
  }

  get image() {
    return this.queue.selectedItem?.info ?? null;
  }

  get size(): Size | null {
    const i = this.image;
    return i ? { width: i.width, height: i.height } : null;
  }

  /**
   * What the after side shows: the photo's result (the recipe that made its output), or, when there
   * is none yet or the user asked for a preview, the recipe being edited.
   */
  get afterSource(): { recipe: Recipe; key: string; kind: 'output' | 'preview' } | null {
    const item = this.queue.selectedItem;
    // previews of a result are keyed by its recipe alone (the output settings it was saved with change no pixel
    // of a preview), so they are shared with previews of the same recipe being edited
    if (item?.output && item.outputRecipe && item.outputKey && !this.showCurrent) return { recipe: item.outputRecipe, key: recipePart(item.outputKey), kind: 'output' };
    const r = this.recipe.recipe;
    return r ? { recipe: r, key: this.recipe.key(), kind: 'preview' } : null;
  }

  /**
   * How much of the visible part the original is shown in full detail when the view is zoomed past the
   * display copy: 'all' (a preview's crop covers it, or the copy is enough), 'part' (a crop covers some
   * of it: a clipped preview) or 'none' (the display copy, enlarged, until a preview comes).
   */
  get beforeDetail(): 'all' | 'part' | 'none' {
    const img = this.image;
    if (!img || this.pane.width <= 0 || !needsFullRes(this.view, img.displayScale, this.dpr)) return 'all';
    const seen = visibleRegion(this.view, this.pane, img);
    const tiles = this.visibleTiles;
    if (tiles.some((t) => contains(t.region, seen))) return 'all';
    return tiles.some((t) => intersects(t.region, seen)) ? 'part' : 'none';
  }

  /** Tiles for this photo and what the after side shows, oldest first (newer ones drawn on top). */
  get visibleTiles(): Tile[] {
    const path = this.image?.path;
    const src = this.afterSource;
    if (!path || !src) return [];
    return this.tiles.filter((t) => t.path === path && t.key === src.key);
  }

  /** Fit the view when a different photo is shown (or when asked). */
  fit(force = false): void {
    const s = this.size;
    const path = this.image?.path ?? '';
    if (!s || this.pane.width <= 0 || (!force && this.#fittedFor === path)) return;
    if (this.#fittedFor !== path) this.showCurrent = false;
    this.#fittedFor = path;
    this.view = fitView(s, this.pane, this.dpr);
  }

  /** Call after every view change; previews what is visible once the user stops moving. */
  viewChanged(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.autoPreview && this.wantsPreview()) void this.preview(false);
    }, 300);
  }

  /** Automatic preview is useful when zoomed past the display copy, or when there is no result yet. */
  wantsPreview(): boolean {
    const img = this.image;
    if (!img) return false;
    const hasOutput = this.afterSource?.kind === 'output' && !!this.queue.selectedItem?.outputInfo;
    return needsFullRes(this.view, img.displayScale, this.dpr) || !hasOutput;
  }

  /** Process the visible part of the photo with the current recipe (before and after crops). */
  async preview(manual: boolean): Promise<void> {
    const img = this.image;
    if (!img || this.pane.width <= 0) return;
    // asking for a preview means "show me the recipe I am editing", even over a finished result
    if (manual && this.recipe.recipe) this.showCurrent = true;
    const src = this.afterSource;
    if (!src) {
      if (manual) this.session.notify(this.recipe.problem ?? 'The recipe is not ready.', 'info');
      return;
    }
    const recipe = src.recipe;
    const seen = visibleRegion(this.view, this.pane, img);
    // a large view waits for a zoom or P; at 100 % and past (on a HiDPI screen 100 % shows 4x the
    // pixels) the centre is previewed, so that 100 % always shows true pixels there
    if (!manual && seen.width * seen.height > AUTO_PREVIEW_MAX_AREA * 1.2 && !(needsFullRes(this.view, img.displayScale, this.dpr) && this.view.zoom * this.dpr >= 0.99)) return;
    const maxSide = manual ? MANUAL_PREVIEW_MAX_SIDE : AUTO_PREVIEW_MAX_SIDE;
    const region = capRegion(seen, maxSide, img);
    const clipped = region.width < seen.width || region.height < seen.height;
    const key = src.key;
    if (this.tiles.some((t) => t.path === img.path && t.key === key && contains(t.region, region))) return;
    if (this.busy) {
      this.#queued = manual || this.#queued === 'manual' ? 'manual' : 'auto';
      return;
    }
    this.busy = true;
    const t0 = performance.now();
    try {
      const s = this.session.settings;
      const noiseReading = this.wholeReading(img.path, recipe);
      const r = await this.session.api.call('preview.region', { path: img.path, region, recipe, runtime: { ep: s.ep, threads: s.threads, tile: s.tile }, ...(noiseReading !== undefined ? { noiseReading } : {}) });
      const tile: Tile = { path: img.path, key, region: r.region, beforeUrl: r.beforeUrl, afterUrl: r.afterUrl, scale: r.scale, seconds: r.seconds };
      // keep a few recent tiles per photo so panning back is instant
      const others = this.tiles.filter((t) => !(t.path === img.path && t.key === key));
      const mine = this.tiles.filter((t) => t.path === img.path && t.key === key).slice(-5);
      this.tiles = [...others.slice(-12), ...mine, tile];
      this.lastPreview = { path: img.path, key, region: r.region, seconds: r.seconds, wallSeconds: (performance.now() - t0) / 1000, clipped };
      this.previewError = null;
    } catch (e) {
      const err = RestoraError.from(e);
      this.previewError = `${err.code}: ${err.message}`;
      if (manual) this.session.error(err);
    } finally {
      this.busy = false;
      const q = this.#queued;
      this.#queued = null;
      if (q) void this.preview(q === 'manual');
    }
  }

  /**
   * What the whole photo reads, for a recipe whose first step is a Denoise at a manual level: the crop of
   * a preview then picks the net (the model, or its second model above the noise) as the whole photo's run
   * does. Known once asked for (the step's hint, a run, Compare strengths); else the crop reads itself.
   */
  wholeReading(path: string, recipe: Recipe): number | undefined {
    const first = recipe[0];
    return first?.task === 'denoise' && first.sigma !== 'auto' ? this.readingFor(path, first.model ?? '') : undefined;
  }

  /** The last preview's figures, if it was of what is on screen now. */
  get currentPreview(): PreviewStat | null {
    const p = this.lastPreview;
    return p && p.path === this.image?.path && p.key === this.afterSource?.key ? p : null;
  }

  /**
   * Show the centre of the view with the recipe's (first) Denoise step at four levels around what it
   * is set to (Auto: around Auto's reading for the whole photo, as a Run would use), beside the
   * original, each crop at 100 %. The previews run one after another; closing stops the rest.
   */
  async compareStrengths(): Promise<void> {
    const img = this.image;
    const whole = this.recipe.recipe;
    // without the recipe's Inpaint steps: their mask was painted on one photo (on another it fills the
    // wrong places, or is refused for its size), and it is the denoising that is compared here
    const recipe = whole ? whole.filter((st) => st.task !== 'inpaint') : null;
    const at = recipe ? recipe.findIndex((st) => st.task === 'denoise') : -1;
    if (!img || !recipe || at < 0) {
      this.session.notify(recipe ? 'Add a Denoise step to compare its strengths.' : (this.recipe.problem ?? 'The recipe is not ready.'), 'info');
      return;
    }
    const step = recipe[at] as Extract<Recipe[number], { task: 'denoise' }>;
    const run = ++this.#strengthsRun;
    const side = strengthsSide(typeof window === 'undefined' ? 1360 : window.innerWidth, this.dpr);
    const region = capRegion(visibleRegion(this.view, this.pane, img), side, img);
    const auto = step.sigma === 'auto' || step.sigma === undefined;
    const noInpaint = recipe.length < (whole?.length ?? 0) ? ' (the recipe without its Inpaint step)' : '';
    this.strengths = { path: img.path, region, cells: [], busy: true, base: (auto ? 'Auto is reading the noise level…' : `σ ${step.sigma}`) + noInpaint, scale: 1, dpr: this.dpr || 1 };
    const live = () => run === this.#strengthsRun && this.strengths !== null;
    try {
      let base = auto ? 0 : (step.sigma as number);
      if (auto) {
        // the reading is asked for once a photo: a run's, the step's hint's or an earlier comparison's serves
        let reading = this.readingFor(img.path, step.model ?? '');
        if (reading === undefined) {
          reading = (await this.session.api.call('image.noise', { path: img.path, ...(step.model ? { model: step.model } : {}) })).sigma;
          this.readings = { ...this.readings, [`${step.model ?? ''}|${img.path}`]: reading };
        }
        base = Math.round(reading * 10) / 10;
        if (!live()) return;
      }
      const levels = strengthLevels(base);
      const mid = base >= 4 ? 1 : 0; // where strengthLevels puts `base` itself
      const cells: StrengthCell[] = levels.map((sg, i) =>
        auto && i === mid ? { sigma: 'auto', shown: base, label: `Auto, σ ${base.toFixed(1)}` } : { sigma: sg, shown: sg, label: `σ ${sg}${!auto && i === mid ? ' (set now)' : ''}` },
      );
      // which levels the second model makes (as the engine decides it: by the whole photo's reading)
      const model = modelOf(this.session.models, { task: 'denoise', model: step.model });
      const reading = auto ? base : this.readingFor(img.path, step.model ?? '');
      const from = model?.aboveNoiseFrom;
      if (from !== undefined && reading !== undefined && at === 0) for (const cell of cells) if (cell.sigma !== 'auto' && cell.sigma > aboveNoiseFrom(reading, from)) cell.second = true;
      this.strengths = { ...this.strengths!, cells, base: (auto ? `Auto reads σ ${base.toFixed(1)} for this photo` : `σ ${step.sigma}`) + noInpaint };
      const s = this.session.settings;
      for (let i = 0; i < cells.length; i++) {
        if (!live()) return;
        const variant = recipe.map((st, j) => (j === at ? { ...step, sigma: cells[i].sigma } : st));
        try {
          const noiseReading = this.wholeReading(img.path, variant);
          const r = await this.session.api.call('preview.region', { path: img.path, region, recipe: variant, runtime: { ep: s.ep, threads: s.threads, tile: s.tile }, id: STRENGTHS_PREVIEW, ...(noiseReading !== undefined ? { noiseReading } : {}) });
          if (!live()) return;
          const next: StrengthCell[] = this.strengths!.cells.map((c, j) => (j === i ? { ...c, url: r.afterUrl } : c));
          this.strengths = { ...this.strengths!, cells: next, beforeUrl: this.strengths!.beforeUrl ?? r.beforeUrl, region: r.region, scale: r.scale };
        } catch (e) {
          if (!live()) return;
          const err = RestoraError.from(e);
          const next: StrengthCell[] = this.strengths!.cells.map((c, j) => (j === i ? { ...c, error: `${err.code}: ${err.message}` } : c));
          this.strengths = { ...this.strengths!, cells: next };
        }
      }
    } catch (e) {
      if (live()) this.session.error(e);
      if (live()) this.strengths = null;
    } finally {
      if (live() && this.strengths) this.strengths = { ...this.strengths, busy: false };
    }
  }

  /** Close the comparison; a crop still being made stops at its next tile, so the engine is free at once. */
  closeStrengths(): void {
    const running = this.strengths?.busy ?? false;
    this.#strengthsRun++;
    this.strengths = null;
    if (running) this.session.api.call('preview.cancel', { id: STRENGTHS_PREVIEW }).catch(() => {});
  }

  /** Set the recipe's Denoise step to this cell's level (Auto stays Auto), and close. */
  useStrength(cell: StrengthCell): void {
    const d = this.recipe.steps.find((st) => st.task === 'denoise');
    if (d?.task === 'denoise') {
      if (cell.sigma === 'auto') d.auto = true;
      else {
        d.auto = false;
        d.strength = sigmaToStrength(cell.sigma);
      }
    }
    this.closeStrengths();
  }

  clearTiles(path?: string): void {
    this.tiles = path ? this.tiles.filter((t) => t.path !== path) : [];
  }
}

