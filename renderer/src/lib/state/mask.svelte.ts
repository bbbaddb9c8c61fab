// The mask painter's state: one mask per photo (kept for the last few photos), tool settings, and
// saving the mask (mask.save) for the inpaint step. What is painted is also kept as a draft (mask.save
// with `draft`, a file of its own) a moment after each change, so a crash or a reload loses at most the
// last second or two of strokes, and the file a recipe or a running batch uses is not touched. A
// photo's latest file (draft or saved) is read back when the photo is painted again after its copy in
// memory was dropped, or after a restart (work.load).
import { RestoraError, type SavedMask } from '../../../../app/contract/index.ts';
import { coverageFraction, createMask, isEmpty, maskSize, MaskEditor, type Brush, type Rect } from '../mask/mask.ts';
import { decodeMaskPng, encodeMaskPng } from '../mask/export.ts';
import { basename } from '../format.ts';
import type { RecipeState } from './recipe.svelte.ts';
import type { SessionState } from './session.svelte.ts';

const KEEP = 4;
/** ms after the last change before the strokes are kept as a draft */
export const DRAFT_DELAY = 1200;

export class MaskState {
  readonly session: SessionState;
  readonly recipe: RecipeState;
  /** the mask being painted; replaced (never mutated in place by Svelte): $state.raw */
  editor = $state.raw<MaskEditor | null>(null);
  forPath = $state<string | null>(null);
  /** mask pixels per true pixel */
  scale = $state(1);
  tool = $state<'paint' | 'erase'>('paint');
  /** Lasso: a stroke outlines an area, which is filled (Brush) or cleared (Eraser) when the stroke ends */
  lasso = $state(false);
  /** the outline being drawn with the lasso, in true-image pixels (the painter draws it) */
  outline = $state.raw<{ x: number; y: number }[]>([]);
  #points: { x: number; y: number }[] = []; // (not `#outline`: Svelte keeps the `outline` state field in a private field of that name)
  /** brush diameter in true-image pixels */
  size = $state(48);
  /** 0 hard .. 1 soft */
  feather = $state(0.35);
  overlay = $state(true);
  /** bumped after every change, with the rectangle to redraw */
  version = $state(0);
  dirty: Rect | null = null;
  canUndo = $state(false);
  canRedo = $state(false);
  saving = $state(false);
  /** each photo's last saved mask: its file, and the editor and its count of edits it was saved from */
  #saved = new Map<string, { ed: MaskEditor; edits: number; path: string }>();
  /** edits made in each editor (strokes, undo, redo, clear, invert): a mask is saved again only after one */
  #edits = new WeakMap<MaskEditor, number>();
  #editors = new Map<string, MaskEditor>();
  /** every photo's latest mask file (saved or a draft, this session's or kept from the last), with where to read it */
  #files = new Map<string, { path: string; url?: string; draft?: boolean }>();
  /** the order of writes: a file is recorded only if no later write for its photo was recorded first */
  #writes = 0;
  #written = new Map<string, number>();
  /** each photo's last draft: the editor and its count of edits it was made from */
  #drafted = new Map<string, { ed: MaskEditor; edits: number }>();
  #draftTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** bumped when a photo's saved mask (`#saved`) changes */
  savedVersion = $state(0);
  /** bumped when `#files` changes (the window's work is saved again) */
  filesVersion = $state(0);
  /** the photos whose saved masks are being read back into the painter */
  loading = $state<string[]>([]);
  #lastVersion = 0;
  /** each photo's true size (the mask file is written at it) */
  #sizes = new Map<string, { width: number; height: number }>();
  /** masks being saved because their editor left memory */
  #keeping = new Map<string, Promise<void>>();

  constructor(session: SessionState, recipe: RecipeState) {
    this.session = session;
    this.recipe = recipe;
  }

  /** Show the mask for this photo (true size width x height), creating an empty one. */
  open(path: string, width: number, height: number): void {
    if (this.forPath === path && this.editor) return;
    let ed = this.#editors.get(path);
    const size = maskSize(width, height);
    this.#sizes.set(path, { width, height });
    if (!ed || ed.mask.width !== size.width || ed.mask.height !== size.height) {
      ed = new MaskEditor(createMask(size.width, size.height), 128 * 1024 * 1024);
      this.#editors.set(path, ed);
      // only the last few masks stay in memory: one painted and not saved yet is saved first. The
      // recipe's mask stays (a batch may be reading its file; it is saved when Run or Inpaint says so).
      const recipeOwn = this.recipe.mask?.forPath;
      while (this.#editors.size > KEEP) {
        const oldest = [...this.#editors.keys()].find((p) => p !== recipeOwn && p !== path);
        if (oldest === undefined) break;
        const gone = this.#editors.get(oldest) as MaskEditor;
        this.#editors.delete(oldest);
        this.#draft(oldest, gone);
      }
      if (this.#files.has(path) || this.#keeping.has(path)) void this.#readBack(path, ed);
    }
    this.editor = ed;
    this.forPath = path;
    this.scale = size.scale;
    this.#changed({ x: 0, y: 0, width: size.width, height: size.height }, false);
  }

  /** Whether the editor's edits are already in a file (its last save or its last draft). */
  #current(forPath: string, ed: MaskEditor): boolean {
    const edits = this.#edits.get(ed) ?? 0;
    const saved = this.#saved.get(forPath);
    const drafted = this.#drafted.get(forPath);
    return edits === 0 || (saved?.ed === ed && saved.edits === edits) || (drafted?.ed === ed && drafted.edits === edits);
  }

  /** Record a photo's newest file, unless a write that began later was recorded first. */
  #record(forPath: string, order: number, file: { path: string; url?: string; draft?: boolean }): void {
    if ((this.#written.get(forPath) ?? 0) > order) return;
    this.#written.set(forPath, order);
    this.#files.set(forPath, file);
    this.filesVersion++;
  }

  /**
   * Keep a photo's strokes as its draft, if they changed since its last save or draft (after a pause in
   * painting, and at once when its editor leaves memory). A mask cleared to empty is kept too when the
   * photo had a file, so an old mask does not come back.
   */
  #draft(forPath: string, ed: MaskEditor): void {
    clearTimeout(this.#draftTimers.get(forPath));
    this.#draftTimers.delete(forPath);
    if (this.#current(forPath, ed) || (isEmpty(ed.mask) && !this.#files.has(forPath))) return;
    const edits = this.#edits.get(ed) ?? 0;
    const order = ++this.#writes;
    const before = this.#keeping.get(forPath);
    const self: { job?: Promise<void> } = {};
    const job = (async () => {
      await before; // one write per photo at a time, in order
      if (this.#current(forPath, ed)) return; // saved meanwhile (Inpaint, Run, Use in recipe)
      try {
        // at the mask's own size (at most 4096 px a side): cheap to make while painting; read-back scales it
        const png = await encodeMaskPng(ed.mask, ed.mask.width, ed.mask.height);
        const { path, url } = await this.session.api.call('mask.save', { forPath, png, draft: true });
        this.#drafted.set(forPath, { ed, edits });
        this.#record(forPath, order, { path, url, draft: true });
      } catch (e) {
        this.session.notify(`The mask painted on ${basename(forPath)} could not be kept: ${RestoraError.from(e).message}`, 'error');
      } finally {
        if (this.#keeping.get(forPath) === self.job) this.#keeping.delete(forPath);
      }
    })();
    self.job = job;
    this.#keeping.set(forPath, job);
  }

  /** Keep the strokes of the mask shown as a draft once painting pauses. */
  #scheduleDraft(): void {
    const ed = this.editor;
    const forPath = this.forPath;
    if (!ed || !forPath) return;
    clearTimeout(this.#draftTimers.get(forPath));
    this.#draftTimers.set(forPath, setTimeout(() => this.#draft(forPath, ed), DRAFT_DELAY));
  }

  /** Fill a new, untouched editor with the photo's saved mask (not when painting has begun meanwhile). */
  async #readBack(forPath: string, ed: MaskEditor): Promise<void> {
    this.loading = [...this.loading, forPath];
    try {
      await this.#keeping.get(forPath); // its mask may be on its way to the file
      const saved = this.#files.get(forPath);
      if (!saved?.url) return;
      const file = saved.path;
      const data = await decodeMaskPng(saved.url, ed.mask.width, ed.mask.height);
      if (this.#editors.get(forPath) !== ed || ed.canUndo || !isEmpty(ed.mask, 1)) return;
      ed.mask.data.set(data);
      // what the painter holds is that file: Inpaint and Run need not save it again (a draft is no
      // file for a recipe: they save it then, but painting need not keep it again)
      if (saved.draft) this.#drafted.set(forPath, { ed, edits: this.#edits.get(ed) ?? 0 });
      else this.#saved.set(forPath, { ed, edits: this.#edits.get(ed) ?? 0, path: file });
      this.savedVersion++;
      if (this.editor === ed) this.#changed({ x: 0, y: 0, width: ed.mask.width, height: ed.mask.height }, false);
    } catch (e) {
      this.session.notify(`The mask saved for this photo could not be read back (${RestoraError.from(e).message}); paint it again.`, 'error');
    } finally {
      const i = this.loading.indexOf(forPath);
      if (i >= 0) this.loading = [...this.loading.slice(0, i), ...this.loading.slice(i + 1)];
    }
  }

  /** Masks kept from last time (work.load): each is read back when its photo is painted again. */
  restore(masks: SavedMask[]): void {
    for (const m of masks) if (!this.#files.has(m.forPath)) this.#files.set(m.forPath, { path: m.path, ...(m.url ? { url: m.url } : {}), ...(m.draft ? { draft: true } : {}) });
    this.filesVersion++;
  }

  /** Every photo's saved mask, for the window's work. */
  savedFiles(): SavedMask[] {
    void this.filesVersion;
    return [...this.#files].map(([forPath, f]) => ({ forPath, path: f.path, ...(f.draft ? { draft: true } : {}) }));
  }

  /**
   * A version for a saved mask: the file keeps its name when repainted, so keys of results carry
   * this. Later than every version before, this session's and those kept from the last.
   */
  nextVersion(after = 0): number {
    this.#lastVersion = Math.max(this.#lastVersion + 1, after + 1, Date.now());
    return this.#lastVersion;
  }

  brush(): Brush {
    return { radius: Math.max(0.5, (this.size * this.scale) / 2), feather: this.feather, mode: this.tool };
  }

  /** `edit`: the mask changed (not merely shown again, or read back from its file) */
  #changed(rect: Rect | null, edit = true): void {
    if (edit && this.editor) {
      this.#edits.set(this.editor, (this.#edits.get(this.editor) ?? 0) + 1);
      this.#scheduleDraft();
    }
    this.dirty = rect;
    this.canUndo = this.editor?.canUndo ?? false;
    this.canRedo = this.editor?.canRedo ?? false;
    this.version++;
  }

  /**
   * Whether the painter holds strokes on this photo that its last saved mask (the one a recipe uses)
   * does not have: they count only once the mask is used again (Use in recipe, Inpaint).
   */
  changedSinceSaved(forPath: string): boolean {
    void this.version;
    void this.savedVersion;
    const ed = this.#editors.get(forPath);
    const saved = this.#saved.get(forPath);
    return !!ed && !!saved && !(saved.ed === ed && saved.edits === (this.#edits.get(ed) ?? 0));
  }

  /** Painting waits until the photo's saved mask is read back (else that mask would be lost). */
  get busy(): boolean {
    return this.forPath !== null && this.loading.includes(this.forPath);
  }

  /** the tool a stroke started with: switching Lasso on or off mid-drag changes the next stroke, not this one */
  #strokeLasso = false;
  beginStroke(): void {
    if (this.busy) return;
    this.#strokeLasso = this.lasso;
    if (this.lasso) {
      this.#points = [];
      this.outline = [];
      return;
    }
    this.editor?.begin();
  }
  /** (x, y) in true-image pixels */
  strokeTo(x: number, y: number): void {
    const ed = this.editor;
    if (!ed || this.busy) return;
    if (this.#strokeLasso) {
      const last = this.#points[this.#points.length - 1];
      if (last && Math.abs(last.x - x) < 0.5 && Math.abs(last.y - y) < 0.5) return;
      this.#points.push({ x, y });
      this.outline = this.#points.slice();
      return;
    }
    const r = ed.strokeTo(x * this.scale, y * this.scale, this.brush());
    if (r) this.#changed(r);
  }
  endStroke(): void {
    if (this.#strokeLasso) {
      this.#strokeLasso = false;
      const pts = this.#points.map((p) => ({ x: p.x * this.scale, y: p.y * this.scale }));
      this.#points = [];
      this.outline = [];
      const r = this.editor && !this.busy ? this.editor.fillPolygon(pts, this.tool) : null;
      if (r) this.#changed(r);
      return;
    }
    if (this.editor?.end()) this.#changed(null);
  }
  undo(): void {
    if (this.busy) return;
    const r = this.editor?.undo() ?? null;
    if (r) this.#changed(r);
  }
  redo(): void {
    if (this.busy) return;
    const r = this.editor?.redo() ?? null;
    if (r) this.#changed(r);
  }
  clear(): void {
    if (this.editor && !this.busy) this.#changed(this.editor.clear());
  }
  invert(): void {
    if (this.editor && !this.busy) this.#changed(this.editor.invert());
  }
  grow(delta: number): void {
    this.size = Math.min(1024, Math.max(2, Math.round(this.size * (delta > 0 ? 1.2 : 1 / 1.2))));
  }

  empty(): boolean {
    return !this.editor || isEmpty(this.editor.mask);
  }

  coverage(): number {
    return this.editor ? coverageFraction(this.editor.mask) : 0;
  }

  /**
   * Save the painted mask (scaled to the photo's true size) and make it the recipe's mask.
   * Returns the saved path, or undefined (with a notice) when there is nothing to save.
   */
  async save(trueWidth: number, trueHeight: number): Promise<string | undefined> {
    const ed = this.editor;
    const forPath = this.forPath;
    if (!ed || !forPath) return undefined;
    if (isEmpty(ed.mask)) {
      this.session.notify('The mask is empty: paint over what should be filled first.', 'info');
      return undefined;
    }
    if (this.busy) {
      this.session.notify('The mask saved for this photo is still being read: try again in a moment.', 'info');
      return undefined;
    }
    const prev = this.#saved.get(forPath);
    const edits = this.#edits.get(ed) ?? 0;
    if (prev && prev.ed === ed && prev.edits === edits) {
      if (this.recipe.mask?.path !== prev.path || this.recipe.mask.forPath !== forPath) this.recipe.mask = { path: prev.path, forPath, version: this.nextVersion(this.recipe.mask?.version) };
      return prev.path;
    }
    this.saving = true;
    // the strokes this save keeps need no draft (one written after it would be recorded as newer)
    clearTimeout(this.#draftTimers.get(forPath));
    this.#draftTimers.delete(forPath);
    const order = ++this.#writes;
    try {
      const png = await encodeMaskPng(ed.mask, trueWidth, trueHeight);
      const { path, url, sha256 } = await this.session.api.call('mask.save', { forPath, png });
      this.#saved.set(forPath, { ed, edits, path });
      this.savedVersion++;
      this.#record(forPath, order, { path, url });
      // the very same mask as the recipe's (painted and undone, say): what was done with it stands
      const same = this.recipe.mask?.path === path && this.recipe.mask.forPath === forPath && this.recipe.mask.sha256 === sha256;
      if (!same) this.recipe.mask = { path, forPath, version: this.nextVersion(this.recipe.mask?.version), sha256 };
      return path;
    } catch (e) {
      this.session.error(RestoraError.from(e));
      return undefined;
    } finally {
      this.saving = false;
    }
  }
}
