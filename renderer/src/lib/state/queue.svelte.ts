// The queue: files the user added, their status while a batch runs, and the batch's progress.
import { RestoraError, type BatchProgress, type BatchReport, type ErrorInfo, type FileProgress, type ImageInfo, type OutputOptions, type Recipe, type SavedItem, type SavedWork } from '../../../../app/contract/index.ts';
import { applyFileProgress, applyReport, batchRoots, countItems, ignoredNote, interruptedReport, needsRun, isFinal, itemFromEntry, startRun, type QueueItem } from '../queue-model.ts';
import { basename, dirname } from '../format.ts';
import { recipeKey } from '../recipe.ts';
import { mergeItems, resumePaths } from '../work.ts';
import type { SessionState } from './session.svelte.ts';

export interface BatchView {
  id: string;
  total: number;
  done: number;
  failed: number;
  progress: number;
  eta: number | null;
  running: boolean;
  cancelling: boolean;
  startedAt: number;
  paths: string[];
  /** the recipe key it runs (what its results are compared against) */
  key: string;
  /** the recipe key and output options together: what must match for Run to resume it after a crash */
  resumeKey: string;
}

/** At most `n` calls at once (thumbnails: the engine makes display copies one by one anyway). */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export class QueueState {
  readonly session: SessionState;
  items = $state<QueueItem[]>([]);
  selected = $state<string | null>(null);
  batch = $state<BatchView | null>(null);
  lastReport = $state.raw<BatchReport | null>(null);
  addErrors = $state<ErrorInfo[]>([]);
  adding = $state<{ done: number; total: number } | null>(null);
  counts = $derived(countItems(this.items));
  selectedItem = $derived(this.items.find((i) => i.path === this.selected) ?? null);
  #index = new Map<string, QueueItem>();
  #infoLimit = limiter(2);
  #infoPending = new Map<string, Promise<ImageInfo | undefined>>();
  #onDone = new Map<string, (r: BatchReport) => void>();

  constructor(session: SessionState) {
    this.session = session;
    const api = session.api;
    api.on('file.progress', (ev) => {
      const item = this.#index.get(ev.input);
      if (item) applyFileProgress(item, ev);
    });
    api.on('batch.progress', (ev) => {
      const b = this.batch;
      if (!b || (b.id && b.id !== ev.batchId)) return;
      b.done = ev.done;
      b.failed = ev.failed;
      b.total = ev.total;
      b.progress = ev.progress;
      b.eta = ev.etaSeconds;
    });
    api.on('batch.done', (report) => this.#finish(report));
    api.on('host.crashed', (ev) => {
      this.session.notify(`The engine stopped unexpectedly and was restarted: ${ev.message}`, 'error');
    });
  }

  #reindex(): void {
    this.#index = new Map(this.items.map((i) => [i.path, i]));
  }

  get(path: string): QueueItem | undefined {
    return this.#index.get(path);
  }

  /** Expand and add files/folders (paths on the engine's machine); selects the first new one. */
  async addPaths(paths: string[], recursive = this.session.settings.recursive): Promise<number> {
    const clean = paths.map((p) => p.trim()).filter((p) => p.length > 0);
    if (clean.length === 0) return 0;
    try {
      const { files, errors, ignored } = await this.session.api.call('files.add', { paths: clean, recursive });
      let added = 0;
      if (files.length && this.lastCleared) {
        this.lastCleared = null;
        this.cleared = true; // the Undo offer ends: the queue from before (its missing photos too) is forgotten
      }
      for (const f of files) {
        const known = this.#index.get(f.path);
        if (known) {
          // a photo that could not be read, added again (replaced meanwhile, say): read it again
          if (known.infoError) {
            delete known.infoError;
            delete known.info;
            void this.loadInfo(f.path);
          }
          continue;
        }
        this.items.push(itemFromEntry(f));
        added++;
      }
      this.#reindex();
      this.addErrors = [...this.addErrors, ...errors].slice(-50);
      for (const err of errors) this.session.logError(`${err.code}: ${err.message}`); // for Copy diagnostics
      if (added > 0 && !this.selected) this.selected = files[0].path;
      const left = ignoredNote(ignored);
      if (files.length === 0 && errors.length === 0) this.session.notify(left ? `No photos found there. ${left}` : 'No photos found there.', 'info');
      else if (added > 0) this.session.notify(`Added ${added} photo${added === 1 ? '' : 's'}.${left ? ` ${left}` : ''}`, 'success');
      return added;
    } catch (e) {
      this.session.error(e);
      return 0;
    }
  }

  /** Put the queue kept from last time back (work.load), in front of anything added meanwhile. */
  restore(saved: SavedItem[], batch?: SavedWork['batch']): void {
    this.items = mergeItems(saved, this.items);
    this.#reindex();
    this.resumable = batch ?? null;
  }

  /**
   * The batch that had not finished when the work was last saved. Run with its recipe sends exactly
   * its photos again: the engine's journal is keyed by them, so what finished after that save is
   * skipped ("Already done") instead of being made again beside itself.
   */
  resumable: SavedWork['batch'] | null = null;
  /** Queue emptied by the user since the work was last saved (the photos missing at the start go too). */
  cleared = false;
  /** Called when the user empties the queue or removes a photo: the work is saved at once. */
  onRemoved?: () => void;

  /**
   * A batch still running in the engine after this page was reloaded (web mode): show it running,
   * its photos queued, so its events and its batch.done land here and Run does not start it twice.
   */
  attach(running: { batchId: string; files: string[]; recipe: Recipe; finished?: FileProgress[]; progress?: BatchProgress }[], keyFor: (r: Recipe) => string = recipeKey): void {
    const r = running[0];
    if (!r || this.batch?.running) return;
    this.resumable = null; // that batch is the one going on
    const key = keyFor(r.recipe);
    const files = r.files.filter((p) => this.#index.has(p));
    for (const p of files) {
      const item = this.#index.get(p)!;
      if (item.status === 'done' && item.outputKey === key) continue;
      startRun(item, r.recipe, key);
      item.status = 'queued';
      item.progress = 0;
      item.error = undefined;
    }
    // what it finished before this page was loaded
    for (const fp of r.finished ?? []) {
      const item = this.#index.get(fp.input);
      if (item) applyFileProgress(item, fp);
    }
    const p = r.progress;
    this.batch = { id: r.batchId, total: p?.total ?? r.files.length, done: p?.done ?? 0, failed: p?.failed ?? 0, progress: p?.progress ?? 0, eta: p?.etaSeconds ?? null, running: true, cancelling: false, startedAt: Date.now(), paths: files, key, resumeKey: '' };
  }

  remove(path: string): void {
    if (this.batch?.running && this.batch.paths.includes(path)) return;
    this.items = this.items.filter((i) => i.path !== path);
    this.#reindex();
    if (this.selected === path) this.selected = this.items[0]?.path ?? null;
    this.onRemoved?.();
  }

  clearFinished(): void {
    this.items = this.items.filter((i) => !isFinal(i.status) || i.status === 'failed');
    this.#reindex();
    if (this.selected && !this.#index.has(this.selected)) this.selected = this.items[0]?.path ?? null;
  }

  /**
   * What Clear all took away, until Undo or the next photo added (Clear all has no confirmation). Until
   * then the photos missing at the start (an unplugged drive) are kept in work.json too (`cleared` waits).
   */
  lastCleared = $state.raw<{ items: QueueItem[]; selected: string | null; resumable: SavedWork['batch'] | null; addErrors: ErrorInfo[] } | null>(null);

  clearAll(): void {
    if (this.batch?.running) return;
    if (this.items.length) this.lastCleared = { items: this.items, selected: this.selected, resumable: this.resumable, addErrors: this.addErrors };
    // the note of what came back from last time speaks of a queue that is gone now
    this.session.notices = this.session.notices.filter((n) => !n.text.startsWith('Your queue from last time is back'));
    this.items = [];
    this.#reindex();
    this.selected = null;
    this.addErrors = [];
    this.resumable = null;
    // the missing photos are forgotten once the Undo offer ends (a photo added), not now
    if (!this.lastCleared) this.cleared = true;
    this.onRemoved?.();
  }

  /** Put back what Clear all took away (offered until a photo is added). */
  undoClear(): void {
    const c = this.lastCleared;
    if (!c || this.batch?.running || this.items.length) return;
    this.lastCleared = null;
    this.items = c.items;
    this.resumable = c.resumable;
    this.addErrors = c.addErrors;
    this.#reindex();
    this.selected = c.selected && this.#index.has(c.selected) ? c.selected : (this.items[0]?.path ?? null);
    this.cleared = false;
  }

  /** Display copy info of the input (thumbnail, compare, mask painter), loaded once. */
  async loadInfo(path: string): Promise<ImageInfo | undefined> {
    const item = this.#index.get(path);
    if (item?.info) return item.info;
    const pending = this.#infoPending.get(path);
    if (pending) return pending;
    const p = this.#infoLimit(async () => {
      try {
        const info = await this.session.api.call('image.info', { path });
        const it = this.#index.get(path);
        if (it) it.info = info;
        return info;
      } catch (e) {
        const it = this.#index.get(path);
        if (it) it.infoError = RestoraError.from(e).toJSON();
        return undefined;
      } finally {
        this.#infoPending.delete(path);
      }
    });
    this.#infoPending.set(path, p);
    return p;
  }

  /** Display copy of the output, for the "after" side of the compare. */
  async loadOutputInfo(path: string): Promise<ImageInfo | undefined> {
    const item = this.#index.get(path);
    if (!item?.output) return undefined;
    if (item.outputInfo && item.outputInfo.path === item.output) return item.outputInfo;
    try {
      const info = await this.session.api.call('image.info', { path: item.output });
      item.outputInfo = info;
      return info;
    } catch (e) {
      this.session.error(e);
      return undefined;
    }
  }

  /**
   * Run `recipe` over `paths` (default: every file not done yet) as one batch. The default resumes
   * an unfinished batch kept from last time instead, when its recipe is the same: that batch's photos
   * go first, and the others not done yet follow in a batch of their own when it ends (not after a
   * cancel). `wholeQueue`: a later Run may resume this batch after a crash.
   */
  async start(recipe: Recipe, paths?: string[], onDone?: (r: BatchReport) => void, key = JSON.stringify(recipe), wholeQueue = !paths, outputAsBefore?: OutputOptions): Promise<string | undefined> {
    if (this.batch?.running) {
      this.session.notify('A batch is already running.', 'info');
      return undefined;
    }
    const s = this.session.settings;
    // (a batch chained after a resumed one writes as that one did: `key` holds those output settings)
    const output: OutputOptions = outputAsBefore ?? { ...(s.outputDir ? { dir: s.outputDir } : {}), suffix: s.suffix, format: s.format, quality: s.quality, overwrite: false };
    // the engine's journal is keyed by the photos, the recipe and the output options
    const resumeKey = JSON.stringify([key, output]);
    const resumed = paths ? undefined : resumePaths(this.resumable, resumeKey, (p) => this.#index.has(p));
    const files = paths ?? resumed ?? this.items.filter((i) => needsRun(i, key)).map((i) => i.path);
    if (files.length === 0) {
      this.session.notify('Nothing to process: add photos first (or they are all done with this recipe).', 'info');
      return undefined;
    }
    for (const p of files) {
      const item = this.#index.get(p);
      if (!item) continue;
      startRun(item, recipe, key); // the result shown stays the earlier one till this run is done
      item.status = 'queued';
      item.progress = 0;
      item.error = undefined;
    }
    this.batch = { id: '', total: files.length, done: 0, failed: 0, progress: 0, eta: null, running: true, cancelling: false, startedAt: Date.now(), paths: files, key, resumeKey: wholeQueue ? resumeKey : '' }; // only a Run of the whole queue is resumed by a later Run
    this.resumable = null;
    const roots = batchRoots(files.map((p) => this.#index.get(p)).filter((i) => i !== undefined));
    try {
      const { batchId } = await this.session.api.call('batch.start', {
        files,
        ...(roots.length ? { roots } : {}),
        recipe,
        output,
        runtime: { ep: s.ep, threads: s.threads, tile: s.tile },
        // the journal is keyed by inputs + recipe + output options: a rerun of the same work after a
        // crash skips what is finished, a new recipe starts afresh
        resume: true,
      });
      if (this.batch) this.batch.id = batchId;
      if (resumed) {
        // the unfinished batch goes first, as it was (its journal skips what it finished); photos
        // added since then follow in a batch of their own, so one Run does what "Run on N" said
        const inBatch = new Set(resumed);
        const then = (r: BatchReport) => {
          onDone?.(r);
          if (r.cancelled) return;
          const rest = this.items.filter((i) => !inBatch.has(i.path) && needsRun(i, key)).map((i) => i.path);
          // with the recipe and output settings Run was pressed with (what `key` says), whatever was changed since
          if (rest.length > 0) void this.start(recipe, rest, onDone, key, true, output);
        };
        this.#onDone.set(batchId, then);
      } else if (onDone) this.#onDone.set(batchId, onDone);
      const early = this.#early.get(batchId);
      if (early) {
        this.#early.delete(batchId);
        this.#finish(early);
      }
      return batchId;
    } catch (e) {
      this.batch = null;
      for (const p of files) {
        const item = this.#index.get(p);
        if (item && item.status === 'queued') {
          // never started: as it was before
          item.status = item.pending?.status ?? 'ready';
          item.error = item.pending?.error;
          item.pending = undefined;
        }
      }
      this.session.error(e);
      return undefined;
    }
  }

  #early = new Map<string, BatchReport>();

  #finish(report: BatchReport): void {
    const b = this.batch;
    if (b && !b.id && this.session.connection === 'connected') {
      // batch.done before batch.start answered (a tiny batch): apply once we know the id
      this.#early.set(report.batchId, report);
      return;
    }
    if (b && b.id !== report.batchId) return;
    const batchItems = new Map<string, QueueItem>();
    for (const p of b?.paths ?? report.files.map((f) => f.input)) {
      const it = this.#index.get(p);
      if (it) batchItems.set(p, it);
    }
    applyReport(batchItems, report);
    this.lastReport = report;
    if (b) {
      b.running = false;
      this.skipping = [];
      b.cancelling = false;
      b.done = report.done;
      b.failed = report.failed;
      // a cancelled batch shows how far it got, not a full bar
      b.progress = report.cancelled ? (report.done + report.failed + report.skipped) / Math.max(1, report.total) : 1;
      b.eta = 0;
    }
    const n = report.files.filter((f) => f.status === 'done').length;
    const already = report.files.filter((f) => f.status === 'skipped').length;
    if (n === 0 && already > 0 && !report.cancelled && report.failed === 0) {
      this.session.notify(already === 1 ? 'Already done with these settings: the earlier result is shown.' : `All ${already} photos were already done with these settings.`, 'info');
    } else if (report.cancelled) this.session.notify(`Batch cancelled: ${n} of ${report.total} finished, the rest left untouched.`, 'info');
    else if (report.failed > 0) this.session.notify(`${n} of ${report.total} photo${report.total === 1 ? '' : 's'} restored${already ? ` (${already} already done before)` : ''}; ${report.failed} failed (see the queue).`, 'error');
    else this.session.notify(`${n} photo${n === 1 ? '' : 's'} restored in ${report.seconds.toFixed(1)} s${already ? ` (${already} already done before)` : ''}`, 'success');
    const cb = this.#onDone.get(report.batchId);
    this.#onDone.delete(report.batchId);
    cb?.(report);
  }

  /**
   * End the running batch here because its server is gone (no batch.done will come): photos not
   * finished are marked cancelled with `why`, what finished stays finished.
   */
  interrupt(why: string): void {
    const b = this.batch;
    if (!b?.running) return;
    const items = b.paths.map((p) => this.#index.get(p)).filter((i) => i !== undefined);
    this.#finish(interruptedReport(b.id, items, why, (Date.now() - b.startedAt) / 1000));
  }

  async cancel(): Promise<void> {
    const b = this.batch;
    if (!b?.running || !b.id) return;
    b.cancelling = true;
    try {
      await this.session.api.call('batch.cancel', { batchId: b.id, hard: false });
    } catch (e) {
      b.cancelling = false;
      this.session.error(e);
    }
  }

  /**
   * Leave one photo of the running batch untouched and go on with the others (a slow 24 MP photo, one
   * added by mistake): not started, or stopped after its current tile. It ends "Cancelled", its earlier
   * result kept; a later Run does it.
   */
  /** Photos of the running batch the user skipped that have not ended yet (their row says "Skipping…") */
  skipping = $state<string[]>([]);

  async skip(path: string): Promise<void> {
    const b = this.batch;
    if (!b?.running || !b.id || !b.paths.includes(path) || this.skipping.includes(path)) return;
    try {
      const r = await this.session.api.call('batch.skip', { batchId: b.id, path });
      if (!r.ok) this.session.notify('That photo is already finished.', 'info');
      else this.skipping = [...this.skipping, path];
    } catch (e) {
      this.session.error(e);
    }
  }

  /** Where outputs go: the settings' folder, else where the last batch wrote, else "<input>/restored". */
  outputFolder(): string | undefined {
    if (this.session.settings.outputDir) return this.session.settings.outputDir;
    const withOutput = this.items.find((i) => i.output);
    if (withOutput?.output) return dirname(withOutput.output);
    return undefined;
  }

  async openOutputFolder(): Promise<void> {
    const folder = this.outputFolder();
    if (!folder) {
      this.session.notify('No output folder yet: outputs go to a “restored” folder in each folder you added, or beside photos added one by one.', 'info');
      return;
    }
    try {
      const r = await this.session.api.call('shell.openFolder', { path: folder });
      if (!r.opened) this.session.notify(`Output folder (${basename(r.path)}):`, 'info', r.path);
    } catch (e) {
      this.session.error(e);
    }
  }
}
