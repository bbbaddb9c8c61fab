import { describe, expect, it } from 'vitest';
import type { BatchReport } from '../../../app/contract/index.ts';
import { applyFileProgress, applyReport, batchRoots, countItems, ignoredNote, interruptedReport, itemFromEntry, needsRun, recipePart, runKey, startRun, unreadable, usedSummary } from './queue-model.ts';
import { savedItem } from './work.ts';
import { formatEta } from './format.ts';

const ev = (input: string, status: 'running' | 'done' | 'failed', progress: number, extra = {}) => ({ batchId: 'b', index: 0, input, status, progress, ...extra });

describe('queue model', () => {
  it('follows file events; a late "running" never undoes "done"', () => {
    const item = itemFromEntry({ path: '/p/a.jpg', rel: 'a.jpg', size: 10 });
    applyFileProgress(item, ev('/p/a.jpg', 'running', 0.4));
    expect(item).toMatchObject({ status: 'running', progress: 0.4 });
    applyFileProgress(item, ev('/p/a.jpg', 'done', 1, { output: '/p/restored/a.jpg', outputUrl: '/files?x' }));
    applyFileProgress(item, ev('/p/a.jpg', 'running', 0.9));
    expect(item).toMatchObject({ status: 'done', progress: 1, output: '/p/restored/a.jpg' });
  });

  it('a done file keeps what its steps used; the row shows the noise level and whether Auto chose it', () => {
    const item = itemFromEntry({ path: '/p/a.jpg', rel: 'a.jpg', size: 10 });
    const steps = [{ task: 'denoise' as const, model: 'restora-denoise', ep: 'cpu', sigma: 3.42, sigmaBy: 'estimator' as const }, { task: 'upscale' as const, model: 'x2', ep: 'cpu' }];
    applyFileProgress(item, ev('/p/a.jpg', 'done', 1, { output: '/p/restored/a.jpg', steps }));
    expect(item.steps).toEqual(steps);
    expect(usedSummary(item.steps)).toBe('denoise σ 3.4, estimated · upscale');
    expect(usedSummary([{ task: 'denoise', model: 'm', ep: 'cpu', sigma: 15, sigmaBy: 'given' }])).toBe('denoise σ 15.0');
    expect(usedSummary([{ task: 'denoise', model: 'm', ep: 'cpu', sigma: 3.4, sigmaBy: 'estimator', passes: 8 }, { task: 'upscale', model: 'u', ep: 'cpu', passes: 8, scale: 4 }, { task: 'inpaint', model: 'i', ep: 'cpu' }])).toBe(
      'denoise σ 3.4, estimated, 8 passes · upscale ×4, 8 passes · inpaint',
    );
    // every step is named, so a row says the photo was enlarged too
    expect(usedSummary([{ task: 'upscale', model: 'x2', ep: 'cpu', scale: 2 }])).toBe('upscale ×2');
  });

  it('a failed file keeps its reason; the report settles every file of a cancelled batch', () => {
    const a = itemFromEntry({ path: '/a', rel: 'a', size: 1 });
    const b = itemFromEntry({ path: '/b', rel: 'b', size: 1 });
    const c = itemFromEntry({ path: '/c', rel: 'c', size: 1 });
    a.status = 'queued';
    b.status = 'running';
    c.status = 'queued';
    applyFileProgress(a, ev('/a', 'failed', 0, { error: { code: 'E_DECODE', message: 'a is not a readable image' } }));
    const report: BatchReport = {
      batchId: 'b',
      total: 3,
      done: 1,
      failed: 1,
      skipped: 0,
      cancelled: true,
      seconds: 1,
      files: [
        { input: '/a', status: 'failed', error: { code: 'E_DECODE', message: 'a is not a readable image' } },
        { input: '/b', status: 'done', output: '/out/b' },
      ],
    };
    applyReport(new Map([['/a', a], ['/b', b], ['/c', c]]), report);
    expect(a.error?.code).toBe('E_DECODE');
    expect(b).toMatchObject({ status: 'done', output: '/out/b' });
    expect(c.status).toBe('cancelled');
    expect(countItems([a, b, c])).toMatchObject({ failed: 1, done: 1, cancelled: 1, total: 3 });
  });

  it('an earlier result shown again (a rerun with settings already used) drops what was known of the other result', () => {
    const item = itemFromEntry({ path: '/p/a.jpg', rel: 'a.jpg', size: 10 });
    // the second run, with grain: its output, display copy and steps
    applyFileProgress(item, ev('/p/a.jpg', 'done', 1, { output: '/p/restored/a-1.jpg', steps: [{ task: 'inpaint', model: 'm', ep: 'cpu', grain: 12 }] }));
    item.outputInfo = { path: '/p/restored/a-1.jpg' } as never;
    // the third run, without grain: already done by the first run, whose output comes back
    applyFileProgress(item, { batchId: 'c', index: 0, input: '/p/a.jpg', status: 'skipped', progress: 1, output: '/p/restored/a.jpg' });
    expect(item.output).toBe('/p/restored/a.jpg');
    expect(item.outputInfo).toBeUndefined(); // the compare loads the first result's display copy, not the grain one
    expect(item.steps).toBeUndefined(); // nor says "grain matched" of it
    const report = { batchId: 'c', total: 1, done: 0, failed: 0, skipped: 1, cancelled: false, seconds: 0, files: [{ input: '/p/a.jpg', output: '/p/restored/a.jpg', status: 'skipped' as const }] };
    item.outputInfo = { path: '/p/restored/a.jpg' } as never;
    applyReport(new Map([[item.path, item]]), report);
    expect(item.outputInfo).toMatchObject({ path: '/p/restored/a.jpg' }); // the same file: kept
  });

  it('a run that fails or is cancelled leaves the earlier result shown, named by its own recipe; a done run replaces it', () => {
    const x2 = [{ task: 'upscale' as const, scale: 2 as const }];
    const x4 = [{ task: 'upscale' as const, scale: 4 as const }];
    const made = (path: string) => {
      const it = itemFromEntry({ path, rel: path.slice(1), size: 1 });
      startRun(it, x2, 'k2');
      applyFileProgress(it, ev(path, 'done', 1, { output: `/out${path}`, outputUrl: `/files?${path}`, steps: [{ task: 'upscale', model: 'u', ep: 'cpu', scale: 2 }] }));
      return it;
    };
    const rerun = (it: ReturnType<typeof made>) => {
      startRun(it, x4, 'k4'); // as QueueState.start (and attach, after a reload) do
      it.status = 'queued';
    };
    const a = made('/a');
    expect(a).toMatchObject({ status: 'done', outputRecipe: x2, outputKey: 'k2' });
    rerun(a);
    // while it runs, what is shown is still the x2 result, named by its recipe (the compare label, Result 1:1)
    expect(a).toMatchObject({ output: '/out/a', outputRecipe: x2, outputKey: 'k2' });
    expect(savedItem(a)).toMatchObject({ status: 'done', output: '/out/a', outputKey: 'k2', outputRecipe: x2 }); // a crash now keeps it
    applyFileProgress(a, ev('/a', 'failed', 0, { error: { code: 'E_TOO_LARGE', message: 'a: the result would be 16000 x 16000' } }));
    expect(a).toMatchObject({ status: 'failed', error: { code: 'E_TOO_LARGE' }, output: '/out/a', outputUrl: '/files?/a', outputRecipe: x2, outputKey: 'k2' });
    expect(a.pending).toBeUndefined();
    expect(needsRun(a, 'k4')).toBe(true); // still to do with the new recipe
    expect(savedItem(a)).toMatchObject({ status: 'failed', error: { code: 'E_TOO_LARGE' }, output: '/out/a', outputKey: 'k2', outputRecipe: x2 });
    // cancelled with its batch, never started (no event): the report settles it
    const b = made('/b');
    rerun(b);
    applyReport(new Map([['/b', b]]), { batchId: 'b', total: 1, done: 0, failed: 0, skipped: 0, cancelled: true, seconds: 1, files: [] });
    expect(b).toMatchObject({ status: 'cancelled', output: '/out/b', outputKey: 'k2' });
    // done: the new result, with the new recipe
    const c = made('/c');
    rerun(c);
    applyFileProgress(c, ev('/c', 'done', 1, { output: '/out/c-1', outputUrl: '/files?c-1' }));
    expect(c).toMatchObject({ status: 'done', output: '/out/c-1', outputUrl: '/files?c-1', outputRecipe: x4, outputKey: 'k4' });
    applyReport(new Map([['/c', c]]), { batchId: 'b', total: 1, done: 1, failed: 0, skipped: 0, cancelled: false, seconds: 1, files: [{ input: '/c', status: 'done', output: '/out/c-1' }] });
    expect(c).toMatchObject({ output: '/out/c-1', outputKey: 'k4' });
  });

  it('says the ETA in words', () => {
    expect(formatEta(null)).toBe('estimating…');
    expect(formatEta(42)).toBe('about 42 s left');
    expect(formatEta(150)).toBe('about 2 min 30 s left');
    expect(formatEta(7200 + 600)).toBe('about 2 h 10 min left');
  });
});

describe('batchRoots', () => {
  it('names the added folders of items in subfolders, once each; loose files and top-level files need none', () => {
    const items = [
      { path: '/photos/card/100CANON/IMG_1.jpg', rel: '100CANON/IMG_1.jpg' },
      { path: '/photos/card/101CANON/IMG_1.jpg', rel: '101CANON/IMG_1.jpg' },
      { path: '/photos/card/cover.jpg', rel: 'cover.jpg' },
      { path: '/elsewhere/loose.jpg', rel: 'loose.jpg' },
      { path: 'C:\\Shoot\\day 1\\a.jpg', rel: 'day 1\\a.jpg' },
      { path: 'D:\\b\\c.jpg', rel: 'b\\c.jpg' },
    ];
    expect(batchRoots(items)).toEqual(['/photos/card', 'C:\\Shoot', 'D:\\']);
  });
});

describe('ignoredNote', () => {
  it('says what adding a folder left out, most common kinds first; nothing when nothing was', () => {
    expect(ignoredNote(undefined)).toBeUndefined();
    expect(ignoredNote({ files: 0, byExtension: {}, folders: 0 })).toBeUndefined();
    expect(ignoredNote({ files: 13, byExtension: { '.txt': 1, '.cr2': 12 }, folders: 0 })).toBe('Left out 13 files that are not images Restora reads (.cr2 12, .txt 1).');
    expect(ignoredNote({ files: 1, byExtension: { '.nef': 1 }, folders: 2 })).toBe('Left out 1 file that is not an image Restora reads (.nef 1) and 2 sub-folders (tick Include subfolders to add them).');
  });
});

describe('interruptedReport', () => {
  it('keeps what finished and cancels the rest with the reason, as a cancelled batch', () => {
    const r = interruptedReport(
      'b1',
      [
        { path: '/a.jpg', status: 'done', output: '/restored/a.jpg' },
        { path: '/b.jpg', status: 'failed', error: { code: 'E_DECODE', message: 'b.jpg is broken', file: '/b.jpg' } },
        { path: '/c.jpg', status: 'running' },
        { path: '/d.jpg', status: 'queued' },
      ],
      'the Restora server stopped',
      12,
    );
    expect(r).toMatchObject({ batchId: 'b1', total: 4, done: 1, failed: 1, skipped: 0, cancelled: true, seconds: 12 });
    expect(r.files.map((f) => f.status)).toEqual(['done', 'failed', 'cancelled', 'cancelled']);
    expect(r.files[0].output).toBe('/restored/a.jpg');
    expect(r.files[3].error).toEqual({ code: 'E_CANCELLED', message: 'the Restora server stopped', file: '/d.jpg' });
  });
});

describe('needsRun', () => {
  it('leaves out a photo that could not be read when it was shown (it would only fail), until it is run or read again', () => {
    const bad = { status: 'ready' as const, infoError: { code: 'E_DECODE' as const, message: 'broken.jpg is not a readable image' } };
    expect(unreadable(bad)).toBe(true);
    expect(needsRun(bad, 'k1')).toBe(false);
    // a passing failure (the engine busy) is not "can't read"; a photo run since is counted as it stands
    expect(needsRun({ ...bad, infoError: { code: 'E_INTERNAL' as const, message: 'x' } }, 'k1')).toBe(true);
    // Run on selected tried it and it failed: still left out of Run on N (it was counted again)
    expect(needsRun({ ...bad, status: 'failed' as const }, 'k1')).toBe(false);
    expect(needsRun({ status: 'failed' as const }, 'k1')).toBe(true); // a failure of a photo that could be read is tried again
  });

  it('a photo done with this very recipe is done; done with other settings, or not done, it needs a run', () => {
    expect(needsRun({ status: 'done', outputKey: 'k1' }, 'k1')).toBe(false);
    expect(needsRun({ status: 'skipped', outputKey: 'k1' }, 'k1')).toBe(false);
    expect(needsRun({ status: 'done', outputKey: 'k0' }, 'k1')).toBe(true); // strength changed, or an inpaint-only result
    expect(needsRun({ status: 'ready' }, 'k1')).toBe(true);
    expect(needsRun({ status: 'failed', outputKey: 'k1' }, 'k1')).toBe(true);
    expect(needsRun({ status: 'cancelled', outputKey: 'k1' }, 'k1')).toBe(true);
  });

  it('output settings are part of what a result was made with: another format or suffix makes the photo to do again', () => {
    const out = { outputDir: '', suffix: '-restored', format: 'keep', quality: 92 };
    const key = runKey('k1', out);
    expect(needsRun({ status: 'done', outputKey: key }, runKey('k1', { ...out }))).toBe(false);
    for (const change of [{ format: 'png' }, { suffix: '-v2' }, { quality: 80 }, { outputDir: '/exports' }]) {
      expect(needsRun({ status: 'done', outputKey: key }, runKey('k1', { ...out, ...change })), JSON.stringify(change)).toBe(true);
    }
    expect(needsRun({ status: 'done', outputKey: key }, runKey('k2', out))).toBe(true);
    // quality does not change a PNG or a TIFF: no second, identical file
    // the format of the original, quality changed: a PNG source's file would be the same, a JPEG's not
    const keep92 = runKey('k1', out);
    const keep70 = runKey('k1', { ...out, quality: 70 });
    expect(needsRun({ status: 'done', outputKey: keep92, path: '/p/scan.png' }, keep70)).toBe(false);
    expect(needsRun({ status: 'done', outputKey: keep92, path: '/p/IMG_1.JPG' }, keep70)).toBe(true);
    expect(needsRun({ status: 'done', outputKey: keep92, path: '/p/scan.png' }, runKey('k1', { ...out, quality: 70, suffix: '-v2' }))).toBe(true);
    const png = runKey('k1', { ...out, format: 'png' });
    expect(needsRun({ status: 'done', outputKey: png }, runKey('k1', { ...out, format: 'png', quality: 70 }))).toBe(false);
    // kept by an older version, with the recipe's key alone: done with whatever output settings are set now
    expect(needsRun({ status: 'done', outputKey: 'k1' }, runKey('k1', { ...out, format: 'png' }))).toBe(false);
    expect(needsRun({ status: 'done', outputKey: 'k0' }, runKey('k1', out))).toBe(true);
    // the compare names a result by its recipe alone
    expect(recipePart(runKey('[{"task":"denoise"}]#mask3', out))).toBe('[{"task":"denoise"}]#mask3');
    expect(recipePart('k1')).toBe('k1');
  });
});
