import { describe, expect, it } from 'vitest';
import { SavedWork } from '../../../app/contract/index.ts';
import { itemFromEntry, needsRun, type QueueItem } from './queue-model.ts';
import { draftFromStep, newStep, toRecipe } from './recipe.ts';
import { mergeItems, restoredNote, resumePaths, savedItem, snapshotWork } from './work.ts';

const item = (name: string, extra: Partial<QueueItem> = {}): QueueItem => ({ ...itemFromEntry({ path: `/shoot/${name}`, rel: name, size: 10 }), ...extra });

describe("the window's work, kept for next time", () => {
  it('keeps what a finished batch left; anything unfinished comes back ready to run', () => {
    const steps = [{ task: 'denoise' as const, model: 'restora-denoise', ep: 'cpu', sigma: 3.4, sigmaBy: 'estimator' as const }];
    const items = [
      item('a.jpg', { status: 'done', progress: 1, output: '/shoot/restored/a.jpg', outputRecipe: [{ task: 'denoise', sigma: 'auto' }], outputKey: 'k1', steps, notes: ['transparency dropped'], outputInfo: { path: 'x', width: 1, height: 1, url: 'u', displayScale: 1 } as never }),
      item('b.jpg', { status: 'failed', error: { code: 'E_DECODE', message: 'b.jpg is not a readable image' } }),
      item('c.jpg', { status: 'running', progress: 0.5 }),
      item('d.jpg', { status: 'queued' }),
      item('e.jpg', { status: 'cancelled', error: { code: 'E_CANCELLED', message: 'cancelled' } }),
      item('f.jpg', { status: 'skipped', progress: 1, output: '/shoot/restored/f.jpg', outputKey: 'k1' }),
      item('g.jpg', { status: 'done' }), // done without a file named: nothing to show
    ];
    const batch = { paths: ['/shoot/a.jpg', '/shoot/c.jpg', '/shoot/d.jpg', '/shoot/e.jpg'], key: 'k1' };
    const w = snapshotWork({ items, selected: '/shoot/b.jpg', steps: [newStep('denoise')], recipeMask: null, masks: [], batch });
    expect(SavedWork.parse(w)).toEqual(w); // what the contract accepts, unchanged
    expect(w.items.map((i) => i.status)).toEqual(['done', 'failed', 'ready', 'ready', 'ready', 'done', 'ready']);
    expect(w.items[0]).toEqual({ path: '/shoot/a.jpg', rel: 'a.jpg', size: 10, status: 'done', output: '/shoot/restored/a.jpg', outputRecipe: [{ task: 'denoise', sigma: 'auto' }], outputKey: 'k1', steps, notes: ['transparency dropped'] });
    expect(w.items[1].error?.code).toBe('E_DECODE');
    expect(w.items[4]).not.toHaveProperty('error'); // a cancelled photo is simply not done
    // the batch's photos not done: running, waiting and cancelled ones; kept so Run sends the same photos
    expect(w.unfinished).toBe(3);
    expect(w.batch).toEqual(batch);
    expect(snapshotWork({ items, selected: null, steps: [], recipeMask: null, masks: [] }).unfinished).toBe(0);
    expect(w.selected).toBe('/shoot/b.jpg');
  });

  it('a kept done photo is not run again with the same recipe, but is with another', () => {
    const drafts = [newStep('denoise')];
    const key = JSON.stringify(toRecipe(drafts, undefined));
    const w = snapshotWork({ items: [item('a.jpg', { status: 'done', output: '/o/a.jpg', outputKey: key })], selected: null, steps: drafts, recipeMask: null, masks: [] });
    const [back] = mergeItems(w.items, []);
    expect(back).toMatchObject({ status: 'done', progress: 1, output: '/o/a.jpg' });
    expect(needsRun(back, key)).toBe(false);
    expect(needsRun(back, JSON.stringify(toRecipe([newStep('upscale')], undefined)))).toBe(true);
  });

  it('the recipe comes back as it was edited, an Inpaint step without a mask included', () => {
    const d = newStep('denoise');
    if (d.task === 'denoise') Object.assign(d, { auto: false, strength: 37, best: true, model: 'm1' });
    const up = newStep('upscale');
    if (up.task === 'upscale') up.scale = 4;
    const inp = newStep('inpaint');
    if (inp.task === 'inpaint') inp.grain = true;
    const w = snapshotWork({ items: [], selected: null, steps: [d, inp, up], recipeMask: null, masks: [] });
    expect(w.steps).toEqual([{ task: 'denoise', sigma: 18.5, model: 'm1', passes: 8 }, { task: 'inpaint', grain: true }, { task: 'upscale', scale: 4 }]);
    const back = SavedWork.parse(JSON.parse(JSON.stringify(w))).steps!.map(draftFromStep);
    expect(back.map(({ id: _id, ...rest }) => rest)).toEqual([d, inp, up].map(({ id: _id, ...rest }) => rest));
  });

  it('keeps the recipe mask and the saved masks (a draft marked as one), never a display URL', () => {
    const w = snapshotWork({
      items: [item('a.jpg')],
      selected: null,
      steps: [newStep('inpaint')],
      recipeMask: { path: '/data/masks/a-1.png', forPath: '/shoot/a.jpg', version: 1733370000000 },
      masks: [
        { forPath: '/shoot/a.jpg', path: '/data/masks/a-1.png', url: '/files?path=x' },
        { forPath: '/shoot/b.jpg', path: '/data/masks/b-2.draft.png', url: '/files?path=y', draft: true },
      ],
    });
    expect(w.recipeMask).toEqual({ path: '/data/masks/a-1.png', forPath: '/shoot/a.jpg', version: 1733370000000 });
    expect(w.masks).toEqual([
      { forPath: '/shoot/a.jpg', path: '/data/masks/a-1.png' },
      { forPath: '/shoot/b.jpg', path: '/data/masks/b-2.draft.png', draft: true },
    ]);
  });

  it('goes in front of photos added while the window started; a photo in both keeps its kept state', () => {
    const saved = [savedItem(item('a.jpg', { status: 'done', output: '/o/a.jpg' })), savedItem(item('b.jpg'))];
    const merged = mergeItems(saved, [item('c.jpg'), item('a.jpg')]);
    expect(merged.map((i) => [i.rel, i.status])).toEqual([
      ['a.jpg', 'done'],
      ['b.jpg', 'ready'],
      ['c.jpg', 'ready'],
    ]);
  });

  it('says what came back, what was unfinished and what is gone', () => {
    const w = SavedWork.parse({
      items: [savedItem(item('a.jpg', { status: 'done', output: '/o/a.jpg' })), savedItem(item('b.jpg', { status: 'failed', error: { code: 'E_DECODE', message: 'x' } })), savedItem(item('c.jpg'))],
      unfinished: 1,
    });
    expect(restoredNote(w, 0)).toBe('Your queue from last time is back: 3 photos (1 done, 1 failed). A batch had not finished: Run goes on with what is left (1 photo).');
    // photos added after that batch started follow it in the same Run, and the note says so
    const added = SavedWork.parse({
      items: [savedItem(item('a.jpg', { status: 'done', output: '/o/a.jpg' })), savedItem(item('c.jpg')), savedItem(item('d.jpg')), savedItem(item('e.jpg'))],
      unfinished: 1,
      batch: { paths: ['/shoot/a.jpg', '/shoot/c.jpg'], key: 'k' },
    });
    expect(restoredNote(added, 0)).toBe('Your queue from last time is back: 4 photos (1 done). A batch had not finished: Run goes on with what is left (1 photo), then with the 2 other photos not done yet.');
    // the batch's photos that failed are tried again by that Run (as "Run on N" counts them): said, not left to surprise
    const withFailed = SavedWork.parse({
      items: [savedItem(item('a.jpg', { status: 'failed', error: { code: 'E_DECODE', message: 'x' } })), savedItem(item('c.jpg'))],
      unfinished: 1,
      batch: { paths: ['/shoot/a.jpg', '/shoot/c.jpg'], key: 'k' },
    });
    expect(restoredNote(withFailed, 0)).toBe('Your queue from last time is back: 2 photos (1 failed). A batch had not finished: Run goes on with what is left (1 photo), and tries the one that failed again.');
    expect(restoredNote(SavedWork.parse({ items: [savedItem(item('c.jpg'))] }), 2, ['/media/card-b/IMG_0001.jpg'])).toBe(
      'Your queue from last time is back: 1 photo. 2 photos are no longer where they were (card-b/IMG_0001.jpg, …), so they were left out; they come back when they are there again (a drive plugged in), and Clear all forgets them.',
    );
    expect(restoredNote(SavedWork.parse({ items: [] }), 0)).toBeUndefined();
  });

  it('an unfinished batch is sent again whole with its recipe (its journal then skips what finished), else not', () => {
    const batch = { paths: ['/a', '/b', '/c'], key: 'k' };
    const all = () => true;
    expect(resumePaths(batch, 'k', all)).toEqual(['/a', '/b', '/c']);
    expect(resumePaths(batch, 'other recipe', all)).toBeUndefined();
    expect(resumePaths(batch, 'k', (p) => p !== '/b')).toBeUndefined(); // a photo was removed: another batch
    expect(resumePaths(undefined, 'k', all)).toBeUndefined();
  });
});
