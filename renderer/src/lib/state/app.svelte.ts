// The app model: every piece of state, wired together once, handed to components by context.
import { getContext, setContext, untrack } from 'svelte';
import { RestoraError, type CallResult, type Recipe, type SavedWork } from '../../../../app/contract/index.ts';
import type { Platform } from '../platform.ts';
import { CompareState } from './compare.svelte.ts';
import { MaskState } from './mask.svelte.ts';
import { QueueState } from './queue.svelte.ts';
import { RecipeState } from './recipe.svelte.ts';
import { SessionState } from './session.svelte.ts';
import { fitView, type Size, type View } from '../view/viewport.ts';
import { draftSteps } from '../recipe.ts';
import { needsRun, runKey, unreadable } from '../queue-model.ts';
import { restoredNote, savedItem, snapshotWork } from '../work.ts';

/** How long the window's work waits after a change before it is saved (changes meanwhile join it). */
const WORK_SAVE_DELAY_MS = 500;
/** ... and at most this long while changes keep coming (a batch finishing photo after photo). */
const WORK_SAVE_MAX_WAIT_MS = 10_000;

export type ViewerTab = 'compare' | 'mask';

export class AppModel {
  readonly platform: Platform;
  readonly session: SessionState;
  readonly queue: QueueState;
  readonly recipe: RecipeState;
  readonly compare: CompareState;
  readonly mask: MaskState;
  tab = $state<ViewerTab>('compare');
  settingsOpen = $state(false);
  shortcutsOpen = $state(false);
  /** the mask painter's own view (zoom/pan), separate from the compare's */
  maskView = $state<View>({ zoom: 1, cx: 0, cy: 0 });
  maskPane = $state<Size>({ width: 800, height: 600 });
  inpainting = $state(false);
  /** Match grain for the mask view's Inpaint while the recipe has no Inpaint step (then that step's setting rules). */
  private maskGrain = $state(false);

  constructor(platform: Platform) {
    this.platform = platform;
    this.session = new SessionState(platform.api, platform.mode);
    this.queue = new QueueState(this.session);
    this.recipe = new RecipeState();
    this.recipe.modelsOf = () => (this.session.loading || this.session.fatal ? undefined : this.session.models);
    this.compare = new CompareState(this.session, this.queue, this.recipe);
    this.mask = new MaskState(this.session, this.recipe);
    platform.web?.onConnection((c) => {
      this.session.connection = c;
      // that server is gone, and its batch with it: free the queue instead of "Processing" for ever
      if (c === 'expired') this.queue.interrupt('the Restora server stopped or was restarted before this photo was done');
    });
    platform.api.on('menu.command', ({ command }) => this.command(command));
  }

  async init(): Promise<void> {
    try {
      await Promise.all([this.session.init(), this.platform.web?.ready()]);
      if (this.session.fatal) return;
      // saving starts only once the saved work was read: a window that could not read it must not
      // write an empty queue over it
      if (await this.restoreWork()) this.#keepWork();
    } finally {
      this.restoring = false;
    }
  }

  /** true until the work kept from last time is back (the queue says so instead of "No photos yet") */
  restoring = $state(true);

  /** Put back the queue, recipe and masks kept from last time (a restart, a crash, a reload). */
  async restoreWork(): Promise<boolean> {
    let r: CallResult<'work.load'> | undefined;
    let failure: unknown;
    for (let attempt = 0; attempt < 3 && !r; attempt++) {
      try {
        r = await this.session.api.call('work.load', {});
      } catch (e) {
        failure = e;
        await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
      }
    }
    if (!r) {
      this.session.notify(`The queue from last time could not be read (${RestoraError.from(failure).message}). It is left as it is, and this window does not keep its own queue: reload to try again.`, 'error');
      return false;
    }
    const { work, missing, running, missingFiles, broken, writer } = r;
    this.#writer = writer;
    if (broken) this.session.notify('The queue kept from last time could not be read: work.json was damaged, and is kept beside as work.json.broken. The queue starts empty.', 'error');
    if (work) {
      this.queue.restore(work.items, work.batch);
      if (work.steps?.length) this.recipe.set(work.steps);
      if (work.recipeMask) this.recipe.mask = work.recipeMask;
      this.mask.restore(work.masks);
    }
    this.queue.attach(running, (r) => this.runKey(r));
    // a batch still running: the counts as they are now (what it finished since the last save included)
    const note = work ? restoredNote(running.length ? { ...work, items: this.queue.items.map(savedItem), unfinished: 0 } : work, missing, missingFiles) : undefined;
    if (note) this.session.notify(running.length ? `${note} Its batch is still running.` : note, 'info');
    if (work?.selected && this.queue.get(work.selected) && !this.queue.selected) await this.select(work.selected);
    else if (!this.queue.selected && this.queue.items.length) this.queue.selected = this.queue.items[0].path;
    return true;
  }

  #workTimer: ReturnType<typeof setTimeout> | undefined;
  #workDirtySince = 0;
  #workSaved = '';
  #workSaving: Promise<void> | null = null;
  #workFailed = false;
  /** what work.load named this window: its saves are kept until another window loads the work */
  #writer: string | undefined;
  /** another tab or window loaded the work since this one did, and keeps it now: this one saves nothing */
  superseded = $state(false);

  /**
   * Save the window's work after each change of the queue, the recipe or the masks: half a second
   * after the last change (longer for a long queue, whose snapshot costs more), and at least every
   * 10 s while changes keep coming (a long batch). The effect reads only a cheap signature (counts
   * of each status, the selection, the recipe, the masks): the snapshot of every photo is taken
   * when the timer fires, outside the effect, so a 10,000-photo queue does not stall each status change.
   */
  #keepWork(): void {
    this.queue.onRemoved = () => void this.#flushWork();
    $effect.root(() => {
      $effect(() => {
        void this.#workSignature();
        untrack(() => this.#workChanged());
      });
    });
    if (typeof window !== 'undefined') window.addEventListener('pagehide', () => void this.#flushWork(true));
  }

  #workSignature(): string {
    const c = this.queue.counts;
    return JSON.stringify([c, this.queue.items.length, this.queue.selected, draftSteps(this.recipe.steps), this.recipe.mask, this.mask.filesVersion, this.queue.batch?.running ?? false]);
  }

  #workChanged(): void {
    const now = Date.now();
    if (!this.#workDirtySince) this.#workDirtySince = now;
    clearTimeout(this.#workTimer);
    const delay = WORK_SAVE_DELAY_MS + this.queue.items.length * 0.2;
    const wait = Math.max(0, Math.min(delay, this.#workDirtySince + WORK_SAVE_MAX_WAIT_MS - now));
    this.#workTimer = setTimeout(() => void this.#flushWork(), wait);
  }

  /**
   * Save now (one save at a time; a change during a save is saved after it). `leaving`: the page is
   * going away, so send at once instead of after a save still on its way (whose answer may never come).
   */
  async #flushWork(leaving = false): Promise<void> {
    clearTimeout(this.#workTimer);
    this.#workDirtySince = 0;
    while (this.#workSaving && !leaving) await this.#workSaving;
    if (this.superseded) return;
    const work = snapshotWork({
      items: this.queue.items,
      selected: this.queue.selected,
      steps: this.recipe.steps,
      recipeMask: this.recipe.mask,
      masks: this.mask.savedFiles(),
      // a batch attached after a reload (no resume key) is not resumed by key: the engine runs it
      batch: this.queue.batch?.running ? (this.queue.batch.resumeKey ? { paths: this.queue.batch.paths, key: this.queue.batch.resumeKey } : undefined) : this.queue.resumable,
    });
    const json = JSON.stringify(work);
    const forgetMissing = this.queue.cleared;
    if (json === this.#workSaved && !forgetMissing) return;
    this.queue.cleared = false;
    this.#workSaving = (async () => {
      try {
        // plain data, not the queue's state proxies (Electron's contextBridge cannot clone those)
        const r = await this.session.api.call('work.save', { ...(JSON.parse(json) as SavedWork), ...(forgetMissing ? { forgetMissing } : {}), ...(this.#writer ? { writer: this.#writer } : {}) });
        if (r.superseded) {
          // the other window's queue stays as it is; this one says so (TopBar) and stops saving
          this.superseded = true;
          return;
        }
        this.#workSaved = json;
        this.#workFailed = false;
      } catch (e) {
        if (forgetMissing) this.queue.cleared = true;
        // said once, not after every try; tried again in 10 s, or at the next change
        if (!this.#workFailed) this.session.notify(`The queue could not be kept for next time: ${RestoraError.from(e).message}`, 'error');
        this.#workFailed = true;
        this.#workDirtySince = Date.now();
        clearTimeout(this.#workTimer);
        this.#workTimer = setTimeout(() => void this.#flushWork(), WORK_SAVE_MAX_WAIT_MS);
      } finally {
        this.#workSaving = null;
      }
    })();
    await this.#workSaving;
  }

  /** Open a photo in the viewer (compare by default). */
  async select(path: string, tab?: ViewerTab): Promise<void> {
    this.queue.selected = path;
    if (tab) this.tab = tab;
    await this.queue.loadInfo(path);
    const item = this.queue.get(path);
    if (item?.output) await this.queue.loadOutputInfo(path);
  }

  /** What a result made now with `recipe` is kept by: the recipe (with its mask's version) and the output settings. */
  runKey(recipe: Recipe): string {
    return runKey(this.recipe.keyFor(recipe), this.session.settings);
  }

  /** Run the recipe over the whole queue (or `paths`) as one batch. */
  async run(paths?: string[]): Promise<void> {
    const recipe = this.recipe.recipe;
    if (!recipe) {
      this.session.notify(this.recipe.problem ?? 'The recipe is not ready.', 'info');
      return;
    }
    if (this.recipe.hasInpaint() && this.recipe.mask && this.mask.forPath === this.recipe.mask.forPath) {
      // the painter may have changed since the mask was last saved
      const info = this.queue.get(this.recipe.mask.forPath)?.info;
      if (info) await this.mask.save(info.width, info.height);
    }
    const key = this.runKey(recipe);
    if (paths) {
      // Run on selected: a photo already done with these very settings is not made again (the batch
      // journal, keyed by the whole batch's photos, would not know it, and it would get a "-1" copy)
      // (one that could not be read is sent when asked for by name: the engine then says what is wrong with it)
      const fresh = paths.filter((p) => { const it = this.queue.get(p); return !it || unreadable(it) || needsRun(it, key); });
      if (fresh.length === 0) {
        this.session.notify(paths.length === 1 ? 'Already done with these settings: the earlier result is shown.' : `All ${paths.length} were already done with these settings.`, 'info');
        return;
      }
      paths = fresh;
    }
    await this.queue.start(
      recipe,
      paths,
      (report) => {
        const sel = this.queue.selected;
        if (sel && report.files.some((f) => f.input === sel && f.status === 'done')) void this.queue.loadOutputInfo(sel);
      },
      key,
    );
  }

  /** Match grain, as the mask view shows it: the recipe's Inpaint step's setting, so both places agree. */
  get inpaintGrain(): boolean {
    const step = this.recipe.steps.find((s) => s.task === 'inpaint');
    return step?.task === 'inpaint' ? step.grain : this.maskGrain;
  }
  set inpaintGrain(on: boolean) {
    this.maskGrain = on;
    for (const s of this.recipe.steps) if (s.task === 'inpaint') s.grain = on;
  }

  /** Save the painted mask, inpaint this photo alone (with the recipe's Inpaint step's settings), and show the result in compare. */
  async inpaintSelected(): Promise<void> {
    const item = this.queue.selectedItem;
    const info = item?.info;
    if (!item || !info) return;
    this.inpainting = true;
    try {
      const maskPath = await this.mask.save(info.width, info.height);
      if (!maskPath) return;
      const step = this.recipe.steps.find((s) => s.task === 'inpaint');
      const recipe: Recipe = [{ task: 'inpaint', mask: maskPath, ...(step?.model ? { model: step.model } : {}), ...(step?.best ? { passes: 8 as const } : {}), ...(this.inpaintGrain ? { grain: true } : {}) }];
      const id = await this.queue.start(
        recipe,
        [item.path],
        async (report) => {
          this.inpainting = false;
          const f = report.files.find((r) => r.input === item.path);
          // done, or already done by an earlier run with these settings (that result is shown)
          if (f?.status === 'done' || f?.status === 'skipped') {
            await this.queue.loadOutputInfo(item.path);
            this.compare.showCurrent = false;
            this.tab = 'compare';
            this.compare.fit(true);
          }
        },
        this.runKey(recipe),
      );
      if (!id) this.inpainting = false;
    } catch (e) {
      this.inpainting = false;
      this.session.error(e);
    }
  }

  /** Save the mask and make sure the recipe has an inpaint step that uses it. */
  async useMaskInRecipe(): Promise<void> {
    const info = this.queue.selectedItem?.info;
    if (!info) return;
    const p = await this.mask.save(info.width, info.height);
    if (!p) return;
    if (!this.recipe.hasInpaint()) {
      const grain = this.maskGrain;
      this.recipe.add('inpaint');
      this.inpaintGrain = grain; // the new step keeps what the mask view had
    }
    this.session.notify('The mask is now used by the Inpaint step of the recipe.', 'success');
  }

  fitMask(): void {
    const info = this.queue.selectedItem?.info;
    if (info) this.maskView = fitView({ width: info.width, height: info.height }, this.maskPane, this.compare.dpr);
  }

  command(c: string): void {
    switch (c) {
      case 'start':
        void this.run();
        break;
      case 'cancel':
        void this.queue.cancel();
        break;
      case 'toggle-compare':
        this.compare.mode = this.compare.mode === 'slider' ? 'side' : 'slider';
        break;
      case 'settings':
        this.settingsOpen = true;
        break;
      case 'open-files':
      case 'open-folder':
        void this.choose(c === 'open-files' ? 'files' : 'folder');
        break;
      case 'choose-output':
        void this.chooseOutput();
        break;
    }
  }

  /** Desktop: native dialog, then add what was picked. */
  async choose(purpose: 'files' | 'folder'): Promise<void> {
    try {
      const { paths } = await this.session.api.call('dialog.open', { purpose });
      if (paths.length) await this.queue.addPaths(paths);
    } catch (e) {
      this.session.error(e);
    }
  }

  async chooseOutput(): Promise<void> {
    try {
      const { paths } = await this.session.api.call('dialog.open', { purpose: 'output' });
      if (paths[0]) await this.session.updateSettings({ outputDir: paths[0] }, 0);
    } catch (e) {
      this.session.error(e);
    }
  }
}

const KEY = Symbol('restora.app');

export function provideApp(app: AppModel): void {
  setContext(KEY, app);
}

export function useApp(): AppModel {
  const app = getContext<AppModel | undefined>(KEY);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}
