// The queue as plain data: how events and reports change it. Kept apart from the rune class so the
// rules (what a late event may overwrite, how a cancelled batch ends) are unit-tested.
import { describeIgnored, describeStepsUsed, type BatchReport, type FileReport, type Ignored, type ErrorInfo, type EventPayload, type FileEntry, type FileStatus, type ImageInfo, type Recipe, type StepUsed } from '../../../app/contract/index.ts';

export type ItemStatus = FileStatus | 'ready';

export interface QueueItem {
  path: string;
  rel: string;
  size: number;
  status: ItemStatus;
  /** 0-1 over the whole recipe */
  progress: number;
  error?: ErrorInfo;
  output?: string;
  outputUrl?: string;
  info?: ImageInfo;
  infoError?: ErrorInfo;
  outputInfo?: ImageInfo;
  /** the recipe that made `output` (what the after side shows and is named by) */
  outputRecipe?: Recipe;
  /** its cache key (recipe + mask version) */
  outputKey?: string;
  /** what each step used for `output` (model, provider, noise level) */
  steps?: StepUsed[];
  /** what `output` could not keep (transparency in a JPEG) */
  notes?: string[];
  /** `output` got a number because its natural name was taken (this session's runs only) */
  renamed?: boolean;
  /**
   * A run on its way: its recipe and key, which become `outputRecipe`/`outputKey` when it is done (until
   * then `output` and its recipe are the earlier result's, which a failed or cancelled run leaves in
   * place), and the status and error the photo had, put back if the batch never starts.
   */
  pending?: { recipe: Recipe; key: string; status: ItemStatus; error?: ErrorInfo };
}

/** A run of `item` with `recipe` (kept by `key`) is queued; what it shows stays the earlier result till it is done. */
export function startRun(item: QueueItem, recipe: Recipe, key: string): void {
  const before = item.pending ?? { status: item.status, error: item.error };
  item.pending = { recipe, key, status: before.status, ...(before.error ? { error: before.error } : {}) };
}

/**
 * The run of `item` ended with `status`: done (or already done), its recipe and key are now those of
 * the result; failed or cancelled, the earlier result stays as it was, with the recipe that made it.
 */
export function settleRun(item: QueueItem, status: ItemStatus): void {
  const p = item.pending;
  if (!p) return;
  item.pending = undefined;
  if (status === 'done' || status === 'skipped') {
    item.outputRecipe = p.recipe;
    item.outputKey = p.key;
  }
}

export function itemFromEntry(f: FileEntry): QueueItem {
  return { path: f.path, rel: f.rel, size: f.size, status: 'ready', progress: 0 };
}

/**
 * The folders a batch's items were added from (path minus rel), for those below a subfolder of
 * one: the engine then keeps their subfolders in the output, as the CLI does for a folder. Items
 * added one by one, or lying directly in the added folder, need none (their folder is the root).
 */
export function batchRoots(items: Pick<QueueItem, 'path' | 'rel'>[]): string[] {
  const roots = new Set<string>();
  for (const { path, rel } of items) {
    if (!/[\\/]/.test(rel) || !path.endsWith(rel)) continue;
    let root = path.slice(0, path.length - rel.length).replace(/[\\/]+$/, '');
    if (/^[A-Za-z]:$/.test(root)) root += '\\'; // a drive's own folder keeps its separator
    if (root) roots.add(root);
  }
  return [...roots];
}

/**
 * The report of a batch whose server went away (no batch.done will come): what finished stays as it
 * is, everything else is cancelled with `why`.
 */
export function interruptedReport(batchId: string, items: Pick<QueueItem, 'path' | 'status' | 'output' | 'error'>[], why: string, seconds: number): BatchReport {
  const files: FileReport[] = items.map((it) =>
    it.status === 'done' || it.status === 'failed' || it.status === 'skipped'
      ? { input: it.path, status: it.status, ...(it.output ? { output: it.output } : {}), ...(it.error ? { error: it.error } : {}) }
      : { input: it.path, status: 'cancelled', error: { code: 'E_CANCELLED', message: why, file: it.path } },
  );
  const count = (s: FileReport['status']) => files.filter((f) => f.status === s).length;
  return { batchId, total: files.length, done: count('done'), failed: count('failed'), skipped: count('skipped'), cancelled: true, seconds, files };
}

/** What adding a folder left out on purpose, in words (undefined when nothing was). */
export function ignoredNote(ignored: Ignored | undefined): string | undefined {
  const parts = describeIgnored(ignored, 'tick Include subfolders to add {them}');
  return parts.length ? `Left out ${parts.join(' and ')}.` : undefined;
}

/**
 * Does this photo still need the recipe with `key`? Not when it is done (or was already done) with
 * exactly that recipe; a photo done with other settings does, and gets a new output beside its old one.
 */
/** Codes of a photo whose header could not be read when it was added: it would only fail, so Run leaves it out. */
const UNREADABLE = new Set(['E_DECODE', 'E_UNSUPPORTED', 'E_TOO_LARGE', 'E_NOT_FOUND']);

/**
 * A photo that could not be read when it was shown: "Can't read", left out of Run on N, also after Run on
 * selected has tried it and failed (adding it again reads it again).
 */
export function unreadable(item: Pick<QueueItem, 'status' | 'infoError'>): boolean {
  return (item.status === 'ready' || item.status === 'failed') && !!item.infoError && UNREADABLE.has(item.infoError.code);
}

export function needsRun(item: Pick<QueueItem, 'status' | 'outputKey' | 'infoError'> & { path?: string }, key: string): boolean {
  if (unreadable(item)) return false;
  if (!(item.status === 'done' || item.status === 'skipped') || !item.outputKey) return true;
  if (item.outputKey === key) return false;
  // a result kept before output settings were part of the key (work.json of an older version) counts as made with them
  if (!item.outputKey.includes(OUT)) return recipePart(key) !== item.outputKey;
  // "the format of the original" writes a PNG or a TIFF as such, which quality does not change
  return !(item.path && !/\.(jpe?g|jfif|jpe|webp)$/i.test(item.path) && withoutQuality(item.outputKey) === withoutQuality(key));
}

/** A run key with the quality left out (kept when the format is "keep": only a JPEG or WebP source needs it). */
function withoutQuality(key: string): string {
  const i = key.lastIndexOf(OUT);
  if (i < 0) return key;
  try {
    const out = JSON.parse(key.slice(i + OUT.length)) as unknown[];
    return out[2] === 'keep' ? `${key.slice(0, i)}${OUT}${JSON.stringify(out.slice(0, 3))}` : key;
  } catch {
    return key;
  }
}

const OUT = '|out:';

/**
 * What a photo's result is kept by: the recipe's key and the output settings that name and encode its
 * file (folder, suffix, format, and quality for a lossy format), so that a change of format or suffix
 * makes the photos to do again.
 */
export function runKey(recipeKey: string, out: { outputDir: string; suffix: string; format: string; quality: number }): string {
  // quality only where it changes the file (JPEG, WebP, and "keep", which writes a JPEG as JPEG)
  const lossy = out.format === 'jpeg' || out.format === 'webp' || out.format === 'keep';
  return `${recipeKey}${OUT}${JSON.stringify([out.outputDir, out.suffix, out.format, ...(lossy ? [out.quality] : [])])}`;
}

/** The recipe's part of a run key (what the compare names a result by). */
export function recipePart(key: string): string {
  const i = key.lastIndexOf(OUT);
  return i < 0 ? key : key.slice(0, i);
}

const FINAL: ItemStatus[] = ['done', 'failed', 'cancelled', 'skipped'];

export function isFinal(s: ItemStatus): boolean {
  return FINAL.includes(s);
}

/**
 * Point the item at `output`. Another file than before drops what was known about the old one (its
 * display copy, and the steps and notes that made it), so nothing of one result is shown with another.
 */
function setOutput(item: QueueItem, output: string): void {
  if (item.output === output) return;
  item.output = output;
  item.outputUrl = undefined; // the event that names the new file brings its own
  item.outputInfo = undefined;
  item.steps = undefined;
  item.notes = undefined;
}

/** Apply a file.progress event. A late 'running' event never undoes a final status. */
export function applyFileProgress(item: QueueItem, ev: EventPayload<'file.progress'>): void {
  if (isFinal(item.status) && !isFinal(ev.status)) return;
  item.status = ev.status;
  item.progress = ev.status === 'done' || ev.status === 'skipped' ? 1 : Math.max(ev.status === 'running' ? item.progress : 0, ev.progress);
  if (ev.error) item.error = ev.error;
  else if (ev.status !== 'failed') item.error = undefined;
  if (ev.output) setOutput(item, ev.output);
  if (ev.outputUrl) item.outputUrl = ev.outputUrl;
  if (ev.steps) item.steps = ev.steps;
  // done, or already done by an earlier run (the batch journal keeps what that run noted)
  if (ev.status === 'done' || (ev.status === 'skipped' && ev.notes)) item.notes = ev.notes;
  if (ev.status === 'done') item.renamed = ev.renamed;
  if (isFinal(ev.status)) settleRun(item, ev.status);
}

/** "denoise σ 3.4, estimated · upscale ×2, 8 passes": what the steps used (contract's describeStepsUsed), for the queue row. */
export function usedSummary(steps: StepUsed[] | undefined): string {
  return describeStepsUsed(steps).join(' · ');
}

/** Apply the final report: every file of the batch ends in a final state. */
export function applyReport(items: Map<string, QueueItem>, report: BatchReport): void {
  for (const f of report.files) {
    const item = items.get(f.input);
    if (!item) continue;
    item.status = f.status;
    item.progress = f.status === 'done' || f.status === 'skipped' ? 1 : item.progress;
    item.error = f.error;
    if (f.output) setOutput(item, f.output);
    if (f.steps) item.steps = f.steps;
    settleRun(item, f.status);
  }
  // files of this batch the report does not list (a crash) are not left "running"
  if (report.cancelled) {
    for (const item of items.values()) {
      if (item.status === 'running' || item.status === 'queued') {
        item.status = 'cancelled';
        settleRun(item, 'cancelled');
      }
    }
  }
}

export interface QueueCounts {
  total: number;
  ready: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

export function countItems(items: QueueItem[]): QueueCounts {
  const c: QueueCounts = { total: items.length, ready: 0, queued: 0, running: 0, done: 0, failed: 0, cancelled: 0, skipped: 0 };
  for (const i of items) c[i.status]++;
  return c;
}

export function statusLabel(s: ItemStatus): string {
  switch (s) {
    case 'ready':
      return 'Ready';
    case 'queued':
      return 'Waiting';
    case 'running':
      return 'Processing';
    case 'done':
      return 'Done';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
    case 'skipped':
      return 'Already done';
  }
}
