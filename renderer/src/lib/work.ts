// The window's work as plain data, for work.save / work.load: what a restart, a crash of the app or a
// page reload must not lose (the queue with each photo's result, the photo shown, the recipe, the
// painted masks). Kept apart from the rune classes so the rules are unit-tested.
import type { SavedItem, SavedMask, SavedWork } from '../../../app/contract/index.ts';
import type { QueueItem } from './queue-model.ts';
import { basename, dirname } from './format.ts';
import { draftSteps, type StepDraft } from './recipe.ts';

/**
 * One photo as it is kept. Only what a finished batch left counts: done (with its result) or failed
 * (with its error); anything a batch had not finished, or a result without a file, comes back ready.
 */
export function savedItem(item: QueueItem): SavedItem {
  const base = { path: item.path, rel: item.rel, size: item.size };
  if ((item.status === 'done' || item.status === 'skipped') && item.output) {
    return {
      ...base,
      status: 'done',
      output: item.output,
      ...(item.outputRecipe ? { outputRecipe: item.outputRecipe } : {}),
      ...(item.outputKey ? { outputKey: item.outputKey } : {}),
      ...(item.steps ? { steps: item.steps } : {}),
      ...(item.notes?.length ? { notes: item.notes } : {}),
    };
  }
  // a result that a later run (failed, cancelled, or under way when this was saved) did not replace is
  // kept with the recipe that made it: `output` and its recipe change only when a run is done
  const result = item.output
    ? {
        output: item.output,
        ...(item.outputRecipe ? { outputRecipe: item.outputRecipe } : {}),
        ...(item.outputKey ? { outputKey: item.outputKey } : {}),
        ...(item.steps ? { steps: item.steps } : {}),
        ...(item.notes?.length ? { notes: item.notes } : {}),
      }
    : undefined;
  if (item.status === 'failed' && item.error) return { ...base, status: 'failed', error: item.error, ...result };
  return result ? { ...base, status: 'done', ...result } : { ...base, status: 'ready' };
}

export function itemFromSaved(s: SavedItem): QueueItem {
  return {
    path: s.path,
    rel: s.rel,
    size: s.size,
    status: s.status,
    progress: s.status === 'done' ? 1 : 0,
    ...(s.output ? { output: s.output } : {}),
    ...(s.outputUrl ? { outputUrl: s.outputUrl } : {}),
    ...(s.outputRecipe ? { outputRecipe: s.outputRecipe } : {}),
    ...(s.outputKey ? { outputKey: s.outputKey } : {}),
    ...(s.steps ? { steps: s.steps } : {}),
    ...(s.notes ? { notes: s.notes } : {}),
    ...(s.error ? { error: s.error } : {}),
  };
}

export interface WorkSource {
  items: QueueItem[];
  selected: string | null;
  steps: StepDraft[];
  recipeMask: { path: string; forPath: string; version: number; sha256?: string } | null;
  masks: SavedMask[];
  /** the batch running now, or the unfinished one kept from last time */
  batch?: SavedWork['batch'] | null;
}

export function snapshotWork(w: WorkSource): SavedWork {
  return {
    items: w.items.map(savedItem),
    ...(w.selected ? { selected: w.selected } : {}),
    steps: draftSteps(w.steps),
    ...(w.recipeMask ? { recipeMask: { path: w.recipeMask.path, forPath: w.recipeMask.forPath, version: w.recipeMask.version, ...(w.recipeMask.sha256 ? { sha256: w.recipeMask.sha256 } : {}) } } : {}),
    masks: w.masks.map((m) => ({ forPath: m.forPath, path: m.path, ...(m.draft ? { draft: true } : {}) })),
    unfinished: unfinished(w.items, w.batch),
    missing: [], // the host's to keep
    ...(w.batch ? { batch: { paths: [...w.batch.paths], key: w.batch.key } } : {}),
  };
}

/**
 * Put the kept queue back in front of what is already there (a photo opened with Restora while it
 * started): a photo in both keeps its kept state.
 */
export function mergeItems(saved: SavedItem[], current: QueueItem[]): QueueItem[] {
  const out = saved.map(itemFromSaved);
  const seen = new Set(out.map((i) => i.path));
  for (const it of current) if (!seen.has(it.path)) out.push(it);
  return out;
}

/** What the window says after putting the work back; undefined when there was none to put back. */
export function restoredNote(work: SavedWork, missing: number, missingFiles: string[] = []): string | undefined {
  const n = work.items.length;
  const parts: string[] = [];
  if (n > 0) {
    const done = work.items.filter((i) => i.status === 'done').length;
    const failed = work.items.filter((i) => i.status === 'failed').length;
    const counts = [done ? `${done} done` : '', failed ? `${failed} failed` : ''].filter(Boolean).join(', ');
    parts.push(`Your queue from last time is back: ${n} photo${n === 1 ? '' : 's'}${counts ? ` (${counts})` : ''}.`);
    if (work.unfinished > 0) {
      // Run sends that batch's photos first, then the others not done yet (QueueState.start)
      const inBatch = new Set(work.batch?.paths ?? []);
      const others = work.batch ? work.items.filter((i) => !inBatch.has(i.path) && i.status !== 'done').length : 0;
      const then = others > 0 ? `, then with the ${others === 1 ? 'other photo' : `${others} other photos`} not done yet` : '';
      // its photos that failed are tried again too (the journal skips only those done), as "Run on N" counts them
      const failedInBatch = work.batch ? work.items.filter((i) => inBatch.has(i.path) && i.status === 'failed').length : 0;
      const again = failedInBatch > 0 ? `, and tries the ${failedInBatch === 1 ? 'one that failed' : `${failedInBatch} that failed`} again` : '';
      parts.push(`A batch had not finished: Run goes on with what is left (${work.unfinished} photo${work.unfinished === 1 ? '' : 's'})${again}${then}.`);
    }
  }
  if (missing > 0) {
    const names = missingFiles.slice(0, 3).map(shortPath).join(', ') + (missing > missingFiles.slice(0, 3).length ? ', …' : '');
    parts.push(
      `${missing} photo${missing === 1 ? ' is' : 's are'} no longer where ${missing === 1 ? 'it was' : 'they were'}${names ? ` (${names})` : ''}, so ${missing === 1 ? 'it was' : 'they were'} left out; ${missing === 1 ? 'it comes' : 'they come'} back when ${missing === 1 ? 'it is' : 'they are'} there again (a drive plugged in), and Clear all forgets ${missing === 1 ? 'it' : 'them'}.`,
    );
  }
  return parts.length ? parts.join(' ') : undefined;
}

/** Photos of `batch` (running, or kept from last time) that are not done yet. */
function unfinished(items: QueueItem[], batch: SavedWork['batch'] | null | undefined): number {
  if (!batch) return 0;
  const status = new Map(items.map((i) => [i.path, i.status]));
  return batch.paths.filter((p) => {
    const st = status.get(p);
    return st !== undefined && st !== 'done' && st !== 'skipped' && st !== 'failed';
  }).length;
}

/**
 * What Run sends when a batch had not finished last time: exactly that batch's photos, if the
 * recipe is the same (`key`) and they are all still in the queue, so the engine's journal (keyed by
 * them) skips those that finished after the work was last saved; else undefined (the usual choice).
 */
export function resumePaths(batch: SavedWork['batch'] | null | undefined, key: string, inQueue: (path: string) => boolean): string[] | undefined {
  return batch && batch.key === key && batch.paths.length > 0 && batch.paths.every(inQueue) ? batch.paths : undefined;
}

/** A path as a photographer recognises it: its folder and file name ("card-b/IMG_0001.jpg"). */
function shortPath(p: string): string {
  return `${basename(dirname(p))}/${basename(p)}`;
}
