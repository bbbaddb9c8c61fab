import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RestoraError, calls, events, type EventName } from '../contract/index.ts';
import { createGrantSet } from './grants.ts';
import { createHandlers, dispatch, isPng, type HandlerContext, type Handlers } from './handlers.ts';
import { createFakeEngine, type FakeEngine } from './testing/fake-engine.ts';

// a real 1x1 PNG
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));

let dir: string;
let dataDir: string;
let engine: FakeEngine;
let handlers: Handlers;
let emitted: { name: EventName; payload: unknown }[];
let ctx: HandlerContext;

const call = (name: unknown, args: unknown) => dispatch(handlers, name, args);
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: RestoraError) => e.code);
const waitFor = async (pred: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'restora-handlers-')));
  dataDir = path.join(dir, 'data');
  fs.mkdirSync(path.join(dir, 'shoot', 'day2'), { recursive: true });
  for (const f of ['shoot/a.jpg', 'shoot/day2/b.jpg', 'shoot/notes.txt', 'loose.jpg', 'bad.jpg']) fs.writeFileSync(path.join(dir, f), 'x');
  engine = createFakeEngine({ dataDir });
  emitted = [];
  const grants = createGrantSet();
  ctx = {
    mode: 'web',
    emit: (name, payload) => emitted.push({ name, payload }),
    urlFor: (p) => `/files?path=${encodeURIComponent(p)}`,
    grant: (p) => grants.grant(p),
    isGranted: (p) => grants.isGranted(p),
  };
  handlers = createHandlers(engine, ctx, { dataDir, version: '9.9.9' });
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dispatch', () => {
  it('covers every call of the contract', () => {
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(calls).sort());
  });
  it('validates names and arguments with the contract: E_USAGE', async () => {
    expect(await codeOf(call('nope', {}))).toBe('E_USAGE');
    expect(await codeOf(call(42, {}))).toBe('E_USAGE');
    expect(await codeOf(call('files.add', { paths: [] }))).toBe('E_USAGE');
    expect(await codeOf(call('settings.set', { quality: 500 }))).toBe('E_USAGE');
    expect(await codeOf(call('batch.start', { files: ['/a.jpg'], recipe: [{ task: 'upscale', scale: 3 }] }))).toBe('E_USAGE');
    expect(engine.calls).toHaveLength(0);
  });
  it('turns any failure into a RestoraError with a code', async () => {
    engine.runtimeInfo = async () => {
      throw new Error('boom');
    };
    const err = await call('app.info', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoraError);
    expect((err as RestoraError).code).toBe('E_INTERNAL');
  });
});

describe('app and models', () => {
  it('app.info reports version, mode and the runtime for the saved settings', async () => {
    await call('settings.set', { ep: 'cuda' });
    const info = (await call('app.info', {})) as { version: string; mode: string; runtime: { requested: string } };
    expect(info).toMatchObject({ version: '9.9.9', mode: 'web', runtime: { requested: 'cuda', active: 'cpu' } });
    expect(calls['app.info'].result.safeParse(info).success).toBe(true);
    expect(calls['models.list'].result.safeParse(await call('models.list', {})).success).toBe(true);
  });
});

describe('grants', () => {
  it('files.add expands folders and grants the image files only', async () => {
    const r = (await call('files.add', { paths: [path.join(dir, 'shoot'), path.join(dir, 'loose.jpg'), path.join(dir, 'missing.jpg')] })) as {
      files: { path: string; rel: string }[];
      errors: { code: string; file?: string }[];
    };
    expect(r.files.map((f) => f.rel)).toEqual(['a.jpg', path.join('day2', 'b.jpg'), 'loose.jpg']);
    expect(r.errors).toEqual([{ code: 'E_NOT_FOUND', message: 'missing.jpg does not exist', file: path.join(dir, 'missing.jpg') }]);
    expect(calls['files.add'].result.safeParse(r).success).toBe(true);
    expect(ctx.isGranted(path.join(dir, 'shoot', 'day2', 'b.jpg'))).toBe(true);
    expect(ctx.isGranted(path.join(dir, 'shoot', 'notes.txt'))).toBe(false);
    expect(ctx.isGranted(path.join(dir, 'shoot'))).toBe(false);
  });

  it('a typed path: ~ is the home folder; a relative path is refused with what to type, not looked up in the engine\'s folder', async () => {
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      const r = (await call('files.add', { paths: ['~/loose.jpg', 'shoot/a.jpg'] })) as { files: { path: string }[]; errors: { code: string; message: string; file?: string }[] };
      expect(r.files.map((f) => f.path)).toEqual([path.join(dir, 'loose.jpg')]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ code: 'E_NOT_FOUND', file: 'shoot/a.jpg' });
      expect(r.errors[0].message).toMatch(/^shoot\/a\.jpg is not a whole path: type it from the top of the disk .* or from your home folder \(~\/Pictures\/…\)$/);
      expect(ctx.isGranted(path.resolve('shoot/a.jpg'))).toBe(false);
    } finally {
      process.env.HOME = home;
    }
  });

  it('image.info, preview.region, batch.start, mask.save, shell.openFolder refuse ungranted paths: E_FORBIDDEN', async () => {
    const p = path.join(dir, 'loose.jpg');
    const recipe = [{ task: 'denoise', sigma: 10 }];
    expect(await codeOf(call('image.info', { path: p }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('preview.region', { path: p, region: { x: 0, y: 0, width: 8, height: 8 }, recipe }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('batch.start', { files: [p], recipe }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('mask.save', { forPath: p, png: PNG }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('shell.openFolder', { path: '/etc' }))).toBe('E_FORBIDDEN');
    const e = (await call('image.info', { path: p }).catch((x: unknown) => x)) as RestoraError;
    expect(e.message).toContain('loose.jpg');
    expect(e.file).toBe(p);
    expect(engine.calls).toHaveLength(0);
  });

  it('a granted file reached through `..` or a symlink counts as itself; a different file does not', async () => {
    await call('files.add', { paths: [path.join(dir, 'loose.jpg')] });
    fs.symlinkSync(path.join(dir, 'loose.jpg'), path.join(dir, 'alias.jpg'));
    expect(await codeOf(call('image.info', { path: `${dir}/shoot/../loose.jpg` }))).toBe('resolved');
    expect(await codeOf(call('image.info', { path: path.join(dir, 'alias.jpg') }))).toBe('resolved');
    expect(await codeOf(call('image.info', { path: `${dir}/loose.jpg/../bad.jpg` }))).toBe('E_FORBIDDEN');
  });

  it('image.info and preview.region return URLs of granted, served files', async () => {
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    const info = (await call('image.info', { path: p })) as { url: string; width: number };
    expect(calls['image.info'].result.safeParse(info).success).toBe(true);
    expect(info).not.toHaveProperty('displayPath');
    const display = decodeURIComponent(info.url.split('path=')[1]);
    expect(ctx.isGranted(display)).toBe(true);
    const pr = (await call('preview.region', { path: p, region: { x: 0, y: 0, width: 8, height: 8 }, recipe: [{ task: 'denoise' }] })) as { beforeUrl: string; afterUrl: string };
    expect(calls['preview.region'].result.safeParse(pr).success).toBe(true);
    expect(ctx.isGranted(decodeURIComponent(pr.afterUrl.split('path=')[1]))).toBe(true);
  });

  it('preview.cancel stops a named preview (E_CANCELLED), and a preview of the same name replaces it', async () => {
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    const region = { x: 0, y: 0, width: 8, height: 8 };
    engine.hold = true; // the fake engine's tile waits until released or cancelled
    const first = call('preview.region', { path: p, region, recipe: [{ task: 'denoise', sigma: 10 }], id: 'strengths' });
    await waitFor(() => engine.calls.some((c) => c.name === 'previewRegion'));
    expect(await call('preview.cancel', { id: 'strengths' })).toEqual({ ok: true });
    expect(await codeOf(first)).toBe('E_CANCELLED');
    expect(await call('preview.cancel', { id: 'strengths' })).toEqual({ ok: false }); // none runs now
    const second = call('preview.region', { path: p, region, recipe: [{ task: 'denoise', sigma: 20 }], id: 'strengths' });
    const third = call('preview.region', { path: p, region, recipe: [{ task: 'denoise', sigma: 30 }], id: 'strengths' });
    expect(await codeOf(second)).toBe('E_CANCELLED');
    const other = call('preview.region', { path: p, region, recipe: [{ task: 'denoise' }] }); // unnamed: not cancellable
    expect(await call('preview.cancel', { id: 'other' })).toEqual({ ok: false });
    engine.hold = false;
    engine.release();
    expect(await codeOf(third)).toBe('resolved');
    expect(await codeOf(other)).toBe('resolved');
  });

  it('an inpaint mask must be granted too; mask.save checks the PNG, stores it under dataDir/masks and grants it', async () => {
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    const region = { x: 0, y: 0, width: 8, height: 8 };
    expect(await codeOf(call('preview.region', { path: p, region, recipe: [{ task: 'inpaint', mask: '/etc/passwd' }] }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('mask.save', { forPath: p, png: new Uint8Array([1, 2, 3]) }))).toBe('E_MASK');
    const jpegish = Uint8Array.from([0xff, 0xd8, ...PNG.slice(2)]);
    expect(await codeOf(call('mask.save', { forPath: p, png: jpegish }))).toBe('E_MASK');
    expect(await codeOf(call('mask.save', { forPath: p, png: PNG.slice(0, PNG.length - 4) }))).toBe('E_MASK');
    const { path: maskPath, sha256 } = (await call('mask.save', { forPath: p, png: PNG })) as { path: string; sha256: string };
    expect(sha256).toBe(createHash('sha256').update(PNG).digest('hex')); // the window tells the very same mask by it
    expect(path.dirname(maskPath)).toBe(path.join(dataDir, 'masks'));
    expect(path.basename(maskPath)).toMatch(/^loose-[0-9a-f]{12}\.png$/);
    expect(Buffer.compare(fs.readFileSync(maskPath), Buffer.from(PNG))).toBe(0);
    expect(ctx.isGranted(maskPath)).toBe(true);
    expect(await codeOf(call('preview.region', { path: p, region, recipe: [{ task: 'inpaint', mask: maskPath }] }))).toBe('resolved');
    // the original is untouched
    expect(fs.readFileSync(p, 'utf8')).toBe('x');
    expect(isPng(PNG)).toBe(true);
  });

  it("a draft (the painter's strokes kept as painted) goes to a file of its own: the mask a recipe uses is not changed", async () => {
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    const { path: used } = (await call('mask.save', { forPath: p, png: PNG })) as { path: string };
    const other = Uint8Array.from(PNG);
    other[other.length - 20] ^= 1; // another PNG's bytes (only compared, never decoded)
    const { path: draft, url } = (await call('mask.save', { forPath: p, png: other, draft: true })) as { path: string; url: string };
    expect(path.dirname(draft)).toBe(path.join(dataDir, 'masks'));
    expect(path.basename(draft)).toBe(path.basename(used).replace(/\.png$/, '.draft.png'));
    expect(url).toBe(`/files?path=${encodeURIComponent(draft)}`);
    expect(Buffer.compare(fs.readFileSync(used), Buffer.from(PNG))).toBe(0);
    expect(Buffer.compare(fs.readFileSync(draft), Buffer.from(other))).toBe(0);
    expect(ctx.isGranted(draft)).toBe(true);
    // kept for next time with its flag, and given back with it
    await call('work.save', { items: [{ path: p, rel: 'loose.jpg', size: 1, status: 'ready' }], masks: [{ forPath: p, path: draft, draft: true }] });
    const { work } = (await call('work.load', {})) as { work: { masks: { forPath: string; path: string; draft?: boolean }[] } };
    expect(work.masks).toEqual([{ forPath: p, path: draft, url, draft: true }]);
  });
});

describe('batches', () => {
  it('start returns at once; progress, then exactly one batch.done, go out through ctx.emit', async () => {
    const r = (await call('files.add', { paths: [path.join(dir, 'shoot')] })) as { files: { path: string }[] };
    const { batchId } = (await call('batch.start', { files: r.files.map((f) => f.path), recipe: [{ task: 'denoise' }] })) as { batchId: string };
    expect(batchId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    for (const e of emitted) expect(events[e.name].safeParse(e.payload).success, e.name).toBe(true);
    expect(emitted.filter((e) => e.name === 'batch.done')).toHaveLength(1);
    expect(emitted.at(-1)!.name).toBe('batch.done');
    const done = emitted.filter((e) => e.name === 'file.progress' && (e.payload as { status: string }).status === 'done').map((e) => e.payload as { output: string; outputUrl: string });
    expect(done).toHaveLength(2);
    for (const d of done) {
      expect(d.outputUrl).toBe(`/files?path=${encodeURIComponent(d.output)}`);
      expect(ctx.isGranted(d.output)).toBe(true);
    }
    // the output folder becomes a place the user may reveal
    expect(await codeOf(call('shell.openFolder', { path: path.dirname(done[0].output) }))).toBe('resolved');
  });

  it('the output folder can be opened from the first result on, while the batch still runs', async () => {
    engine.hold = true; // the fake engine's tiles wait until released
    // photos added one by one: their `restored` folder beside them lies in no folder the user chose
    fs.writeFileSync(path.join(dir, 'loose2.jpg'), 'x');
    const r = (await call('files.add', { paths: [path.join(dir, 'loose.jpg'), path.join(dir, 'loose2.jpg')] })) as { files: { path: string }[] };
    await call('batch.start', { files: r.files.map((f) => f.path), recipe: [{ task: 'denoise' }] });
    const firstDone = () => emitted.find((e) => e.name === 'file.progress' && (e.payload as { status: string }).status === 'done')?.payload as { output: string } | undefined;
    await waitFor(() => {
      if (firstDone()) return true;
      engine.release();
      return false;
    });
    expect(emitted.some((e) => e.name === 'batch.done')).toBe(false);
    expect(await codeOf(call('shell.openFolder', { path: path.dirname(firstDone()!.output) }))).toBe('resolved');
    engine.hold = false;
    engine.release();
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
  });

  it('cancel aborts between tiles; an unknown batch is not ok', async () => {
    engine.hold = true;
    const r = (await call('files.add', { paths: [path.join(dir, 'shoot')] })) as { files: { path: string }[] };
    const { batchId } = (await call('batch.start', { files: r.files.map((f) => f.path), recipe: [{ task: 'denoise' }] })) as { batchId: string };
    await waitFor(() => emitted.some((e) => e.name === 'file.progress'));
    expect(await call('batch.cancel', { batchId: 'nope' })).toEqual({ ok: false });
    expect(await call('batch.cancel', { batchId })).toEqual({ ok: true });
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    const report = emitted.find((e) => e.name === 'batch.done')!.payload as { cancelled: boolean; files: { status: string }[] };
    expect(report.cancelled).toBe(true);
    expect(report.files.map((f) => f.status)).toEqual(['cancelled', 'cancelled']);
    expect(engine.tilesRun).toBe(0);
    expect(await call('batch.cancel', { batchId })).toEqual({ ok: false });
  });

  it('skip hands the photo to the running batch; an unknown batch or a photo not in it is not ok', async () => {
    engine.hold = true;
    const r = (await call('files.add', { paths: [path.join(dir, 'shoot')] })) as { files: { path: string }[] };
    const [first, second] = r.files.map((f) => f.path);
    const { batchId } = (await call('batch.start', { files: [first], recipe: [{ task: 'denoise' }] })) as { batchId: string };
    await waitFor(() => emitted.some((e) => e.name === 'file.progress'));
    expect(await call('batch.skip', { batchId: 'nope', path: first })).toEqual({ ok: false });
    expect(await call('batch.skip', { batchId, path: second })).toEqual({ ok: false }); // not in this batch
    expect(await call('batch.skip', { batchId, path: first })).toEqual({ ok: true });
    const opts = engine.calls.find((c) => c.name === 'runBatch')!.args[0] as { skips: { has(p: string): boolean } };
    expect(opts.skips.has(first)).toBe(true);
    await call('batch.cancel', { batchId });
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
  });

  it('a batch the engine throws on still ends with one batch.done listing every file as failed', async () => {
    engine.runBatch = async () => {
      throw new RestoraError('E_MODEL', 'no denoise model is installed');
    };
    await call('files.add', { paths: [path.join(dir, 'loose.jpg')] });
    await call('batch.start', { files: [path.join(dir, 'loose.jpg')], recipe: [{ task: 'denoise' }] });
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    const report = emitted.find((e) => e.name === 'batch.done')!.payload;
    expect(events['batch.done'].safeParse(report).success).toBe(true);
    expect(report).toMatchObject({ total: 1, failed: 1, cancelled: false, files: [{ status: 'failed', error: { code: 'E_MODEL' } }] });
  });

  it('roots (the folders files were added from) must be folders the user added, and reach the engine resolved', async () => {
    const seen: { roots?: string[] }[] = [];
    const real = engine.runBatch.bind(engine);
    engine.runBatch = async (o) => {
      seen.push({ roots: o.roots });
      return real(o);
    };
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    expect(await codeOf(call('batch.start', { files: [p], roots: [dir], recipe: [{ task: 'denoise' }] }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('batch.start', { files: [p], roots: ['/'], recipe: [{ task: 'denoise' }] }))).toBe('E_FORBIDDEN');
    expect(seen).toHaveLength(0);
    const r = (await call('files.add', { paths: [path.join(dir, 'shoot')] })) as { files: { path: string }[] };
    await call('batch.start', { files: r.files.map((f) => f.path), roots: [path.join(dir, 'shoot', '.')], recipe: [{ task: 'denoise' }] });
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    expect(seen).toEqual([{ roots: [path.join(dir, 'shoot')] }]);
  });

  it('output folders must be chosen: a dropped folder or a picked one', async () => {
    const p = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [p] });
    expect(await codeOf(call('batch.start', { files: [p], recipe: [{ task: 'denoise' }], output: { dir: '/tmp/elsewhere' } }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('settings.set', { outputDir: '/tmp/elsewhere' }))).toBe('E_FORBIDDEN');
    await call('files.add', { paths: [path.join(dir, 'shoot')] });
    expect(await codeOf(call('batch.start', { files: [p], recipe: [{ task: 'denoise' }], output: { dir: path.join(dir, 'shoot', 'out') } }))).toBe('resolved');
    expect(await codeOf(call('dialog.open', { purpose: 'output' }))).toBe('E_UNSUPPORTED');
    const picked = path.join(dir, 'picked');
    ctx.choosePaths = vi.fn(async () => [picked]);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(await call('dialog.open', { purpose: 'output' })).toEqual({ paths: [picked] });
    expect(await call('settings.set', { outputDir: picked })).toMatchObject({ outputDir: picked });
  });
});

describe('settings and presets persist in dataDir', () => {
  it('settings.set merges (a field not named keeps its value) and survives a new handler table', async () => {
    expect(await call('settings.get', {})).toMatchObject({ suffix: '-restored', theme: 'dark', quality: 92 });
    await call('settings.set', { quality: 80 });
    const s = await call('settings.set', { theme: 'light' });
    expect(s).toMatchObject({ quality: 80, theme: 'light' });
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(await call('settings.get', {})).toMatchObject({ quality: 80, theme: 'light' });
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8'))).toMatchObject({ quality: 80 });
    // no temp files left behind by the atomic writer
    expect(fs.readdirSync(dataDir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('the saved output folder is still a chosen folder after a restart: Run is not refused', async () => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    ctx.choosePaths = async () => [out];
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    await call('dialog.open', { purpose: 'output' });
    await call('settings.set', { outputDir: out });
    // the app restarted: a new handler table, nothing chosen in this session yet
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    const a = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [a] });
    expect(await codeOf(call('batch.start', { files: [a], recipe: [{ task: 'upscale', scale: 2 }], output: { dir: out } }))).toBe('resolved');
    expect(await codeOf(call('shell.openFolder', { path: out }))).toBe('resolved');
    // another folder is still refused
    expect(await codeOf(call('batch.start', { files: [a], recipe: [{ task: 'upscale', scale: 2 }], output: { dir: path.join(dir, 'shoot') } }))).toBe('E_FORBIDDEN');
  });

  it('concurrent settings.set calls do not lose updates', async () => {
    await Promise.all([call('settings.set', { quality: 50 }), call('settings.set', { theme: 'light' }), call('settings.set', { suffix: '-x' })]);
    expect(await call('settings.get', {})).toMatchObject({ quality: 50, theme: 'light', suffix: '-x' });
  });

  it('a settings.get sent after a settings.set answers with what that set wrote', async () => {
    // not awaited: the get starts while the write is still on its way to the disk
    const set = call('settings.set', { quality: 61, suffix: '-late' });
    const get = call('settings.get', {});
    expect(await get).toMatchObject({ quality: 61, suffix: '-late' });
    await set;
  });

  it('a broken settings file reads as defaults and is kept aside', async () => {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'settings.json'), '{"quality": 9000');
    expect(await call('settings.get', {})).toMatchObject({ quality: 92 });
    expect(fs.existsSync(path.join(dataDir, 'settings.json.broken'))).toBe(true);
  });

  it('presets: save (replace by name), list sorted, delete', async () => {
    await call('presets.save', { name: 'Zoom', recipe: [{ task: 'upscale', scale: 2 }] });
    await call('presets.save', { name: 'High ISO', recipe: [{ task: 'denoise', sigma: 30 }] });
    const list = (await call('presets.save', { name: 'Zoom', recipe: [{ task: 'upscale', scale: 4 }] })) as { name: string; recipe: { scale?: number }[] }[];
    expect(list.map((p) => p.name)).toEqual(['High ISO', 'Zoom']);
    expect(list[1].recipe[0].scale).toBe(4);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(((await call('presets.list', {})) as unknown[]).length).toBe(2);
    expect(await call('presets.delete', { name: 'Zoom' })).toEqual([{ name: 'High ISO', recipe: [{ task: 'denoise', sigma: 30 }] }]);
  });
});

describe('results of photos already done (skipped)', () => {
  it('are served when they lie where the batch writes, not when a journal names another file', async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const b = path.join(dir, 'shoot', 'day2', 'b.jpg');
    const aOut = path.join(dir, 'shoot', 'restored', 'a.png');
    fs.mkdirSync(path.dirname(aOut), { recursive: true });
    fs.writeFileSync(aOut, 'x');
    await call('files.add', { paths: [a, b] });
    engine.already.set(a, aOut); // finished before a restart: the journal names it
    engine.already.set(b, path.join(dir, 'loose.jpg')); // a journal naming a file elsewhere
    await call('batch.start', { files: [a, b], recipe: [{ task: 'upscale', scale: 2 }] });
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    const skipped = emitted.filter((e) => e.name === 'file.progress').map((e) => e.payload as { input: string; status: string; outputUrl?: string });
    expect(skipped.find((p) => p.input === a)).toMatchObject({ status: 'skipped', outputUrl: `/files?path=${encodeURIComponent(aOut)}` });
    expect(skipped.find((p) => p.input === b)?.outputUrl).toBeUndefined();
    expect(ctx.isGranted(aOut)).toBe(true);
    expect(ctx.isGranted(path.join(dir, 'loose.jpg'))).toBe(false);
    expect(await codeOf(call('image.info', { path: aOut }))).toBe('resolved');
  });
});

describe('image.noise', () => {
  it("gives Auto's level for a photo that was added, and refuses one that was not", async () => {
    const a = path.join(dir, 'loose.jpg');
    expect(await codeOf(call('image.noise', { path: a }))).toBe('E_FORBIDDEN');
    await call('files.add', { paths: [a] });
    expect(await call('image.noise', { path: a })).toEqual({ sigma: 10 }); // the fake engine's estimate
  });
});

describe("the window's work (work.save / work.load)", () => {
  const item = (p: string, extra = {}) => ({ path: p, rel: path.basename(p), size: 1, status: 'ready' as const, ...extra });

  it('keeps only what Restora was given or made, and a new host grants it again', async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const loose = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [path.join(dir, 'shoot')], recursive: true });
    const { path: maskPath } = (await call('mask.save', { forPath: a, png: PNG })) as { path: string; url: string };
    const out = path.join(dir, 'shoot', 'restored', 'a.jpg');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, 'x');
    ctx.grant(out); // a batch's output is granted as it is made
    const saved = await call('work.save', {
      items: [item(a, { status: 'done', output: out, outputKey: 'k' }), item(loose)], // loose.jpg was never added
      selected: a,
      steps: [{ task: 'inpaint', grain: true }],
      recipeMask: { path: maskPath, forPath: a, version: 7 },
      masks: [
        { forPath: a, path: maskPath },
        { forPath: a, path: path.join(dir, 'shoot', 'day2', 'b.jpg') }, // not a mask Restora saved
      ],
    });
    expect(saved).toEqual({ items: 1 });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dataDir, 'work.json'), 'utf8'));
    expect(onDisk.items.map((i: { path: string }) => i.path)).toEqual([a]);
    expect(onDisk.masks).toEqual([{ forPath: a, path: maskPath }]);

    // a restarted host: nothing granted until work.load
    const grants = createGrantSet();
    ctx.grant = (p) => grants.grant(p);
    ctx.isGranted = (p) => grants.isGranted(p);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(await codeOf(call('image.info', { path: out }))).toBe('E_FORBIDDEN');
    const { work, missing } = (await call('work.load', {})) as { work: { items: { status: string; output?: string }[]; masks: { url?: string }[]; recipeMask?: unknown; selected?: string; steps?: unknown[] }; missing: number };
    expect(missing).toBe(0);
    expect(work.items).toEqual([item(a, { status: 'done', output: out, outputUrl: `/files?path=${encodeURIComponent(out)}`, outputKey: 'k' })]);
    expect(work.selected).toBe(a);
    expect(work.recipeMask).toEqual({ path: maskPath, forPath: a, version: 7 });
    expect(work.masks[0].url).toContain(encodeURIComponent(maskPath));
    expect(work.steps).toEqual([{ task: 'inpaint', grain: true }]);
    // granted again: the photo, its result and its mask may be shown and used
    for (const p of [a, out, maskPath]) expect(ctx.isGranted(p)).toBe(true);
    expect(await codeOf(call('batch.start', { files: [a], recipe: [{ task: 'inpaint', mask: maskPath }] }))).toBe('resolved');
    expect(ctx.isGranted(loose)).toBe(false);
  });

  it('a restored photo from a subfolder runs with its folder as root, and its output folder opens', async () => {
    const shoot = path.join(dir, 'shoot');
    const b = path.join(shoot, 'day2', 'b.jpg');
    await call('files.add', { paths: [shoot], recursive: true });
    const out = path.join(shoot, 'restored', 'day2', 'b.jpg');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, 'x');
    ctx.grant(out);
    await call('work.save', { items: [item(b, { rel: path.join('day2', 'b.jpg'), status: 'done', output: out })] });
    const grants = createGrantSet();
    ctx.grant = (p) => grants.grant(p);
    ctx.isGranted = (p) => grants.isGranted(p);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(await codeOf(call('batch.start', { files: [b], roots: [shoot], recipe: [{ task: 'upscale', scale: 2 }] }))).toBe('E_FORBIDDEN');
    await call('work.load', {});
    expect(await codeOf(call('batch.start', { files: [b], roots: [shoot], recipe: [{ task: 'upscale', scale: 2 }] }))).toBe('resolved');
    expect(await codeOf(call('shell.openFolder', { path: path.dirname(out) }))).toBe('resolved');
  });

  it('what is gone is left out: a photo (counted), a result (the photo is ready again), a mask', async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const b = path.join(dir, 'shoot', 'day2', 'b.jpg');
    await call('files.add', { paths: [path.join(dir, 'shoot')], recursive: true });
    const { path: maskPath } = (await call('mask.save', { forPath: a, png: PNG })) as { path: string };
    const out = path.join(dir, 'out-a.jpg');
    fs.writeFileSync(out, 'x');
    ctx.grant(out);
    await call('work.save', { items: [item(a, { status: 'done', output: out, outputKey: 'k', steps: [{ task: 'denoise', model: 'm', ep: 'cpu' }] }), item(b)], selected: b, steps: [{ task: 'inpaint' }], recipeMask: { path: maskPath, forPath: a, version: 1 }, masks: [{ forPath: a, path: maskPath }] });
    fs.rmSync(b);
    fs.rmSync(out);
    fs.rmSync(maskPath);
    const { work, missing } = (await call('work.load', {})) as { work: { items: unknown[]; masks: unknown[]; recipeMask?: unknown; selected?: string }; missing: number };
    expect(missing).toBe(1);
    expect(work.items).toEqual([item(a)]); // ready again, nothing of the old result left
    expect(work.selected).toBeUndefined();
    expect(work.recipeMask).toBeUndefined();
    expect(work.masks).toEqual([]);
  });

  it('a work.json changed by hand cannot grant what is not an image, nor a mask from elsewhere', async () => {
    const secret = path.join(dir, 'shoot', 'notes.txt');
    const a = path.join(dir, 'shoot', 'a.jpg');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(
      path.join(dataDir, 'work.json'),
      JSON.stringify({ items: [item(secret), item(a, { status: 'done', output: secret })], masks: [{ forPath: a, path: path.join(dir, 'loose.jpg') }], recipeMask: { path: path.join(dir, 'loose.jpg'), forPath: a, version: 1 } }),
    );
    const { work, missing } = (await call('work.load', {})) as { work: { items: unknown[]; masks: unknown[]; recipeMask?: unknown }; missing: number };
    expect(missing).toBe(1);
    expect(work.items).toEqual([item(a)]);
    expect(work.masks).toEqual([]);
    expect(work.recipeMask).toBeUndefined();
    expect(ctx.isGranted(secret)).toBe(false);
    expect(ctx.isGranted(path.join(dir, 'loose.jpg'))).toBe(false);
  });

  it('two windows: the one that loaded last keeps the queue, a save from the other writes nothing', async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const b = path.join(dir, 'shoot', 'day2', 'b.jpg');
    await call('files.add', { paths: [path.join(dir, 'shoot')], recursive: true });
    const first = ((await call('work.load', {})) as { writer: string }).writer;
    expect(await call('work.save', { items: [item(a)], writer: first })).toEqual({ items: 1 });
    const second = ((await call('work.load', {})) as { writer: string }).writer; // a second tab
    expect(second).not.toBe(first);
    expect(await call('work.save', { items: [item(a), item(b, { rel: path.join('day2', 'b.jpg') })], writer: second })).toEqual({ items: 2 });
    // the first tab goes on (a photo removed there): refused, the second tab's queue stays
    expect(await call('work.save', { items: [], writer: first })).toEqual({ items: 0, superseded: true });
    const r = (await call('work.load', {})) as { work: { items: { path: string }[] }; writer: string };
    expect(r.work.items.map((i) => i.path).sort()).toEqual([a, b].sort());
    // a restarted host knows no window yet: the first to save keeps the queue
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(await call('work.save', { items: [item(a)], writer: first })).toEqual({ items: 1 });
    expect(await call('work.save', { items: [item(b, { rel: path.join('day2', 'b.jpg') })], writer: r.writer })).toEqual({ items: 0, superseded: true });
  });

  it('a photo missing at the start (an unplugged drive) stays in work.json until the queue is emptied', async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const b = path.join(dir, 'shoot', 'day2', 'b.jpg');
    await call('files.add', { paths: [path.join(dir, 'shoot')], recursive: true });
    await call('work.save', { items: [item(a), item(b, { rel: path.join('day2', 'b.jpg') })] });
    const hidden = `${b}.away`;
    fs.renameSync(b, hidden); // the drive is unplugged
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(((await call('work.load', {})) as { missing: number }).missing).toBe(1);
    await call('work.save', { items: [item(a)] }); // the window saves what it shows
    fs.renameSync(hidden, b); // plugged in again
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    let r = (await call('work.load', {})) as { work: { items: { path: string }[] }; missing: number };
    expect(r.missing).toBe(0);
    expect(r.work.items.map((i) => i.path).sort()).toEqual([a, b].sort());
    // unplugged again, and this time the user empties the queue: then it is forgotten
    fs.renameSync(b, hidden);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    await call('work.load', {});
    await call('work.save', { items: [], forgetMissing: true });
    fs.renameSync(hidden, b);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    r = (await call('work.load', {})) as { work: { items: { path: string }[] }; missing: number };
    expect(r.work.items).toEqual([]);
  });

  it("a draft written after the window's last save (a crash a moment after painting) is what comes back", async () => {
    const a = path.join(dir, 'shoot', 'a.jpg');
    const loose = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [path.join(dir, 'shoot'), loose] });
    const { path: used } = (await call('mask.save', { forPath: a, png: PNG })) as { path: string };
    const items = [item(a), item(loose)];
    await call('work.save', { items, masks: [{ forPath: a, path: used }] });
    const load = async () => {
      handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
      return ((await call('work.load', {})) as { work: { masks: { forPath: string; path: string; draft?: boolean }[] } }).work.masks;
    };
    expect((await load()).map((m) => [m.forPath, m.path, m.draft])).toEqual([[a, used, undefined]]);
    // strokes painted on both, their drafts written, and the window gone before it saved again
    await new Promise((r) => setTimeout(r, 20));
    const { path: draftA } = (await call('mask.save', { forPath: a, png: PNG, draft: true })) as { path: string };
    const { path: draftL } = (await call('mask.save', { forPath: loose, png: PNG, draft: true })) as { path: string };
    expect((await load()).map((m) => [m.forPath, m.path, m.draft])).toEqual([[a, draftA, true], [loose, draftL, true]]);
    // a mask used later than its draft (Use in recipe, Inpaint, Run) is newer: that one comes back
    await new Promise((r) => setTimeout(r, 20));
    await call('mask.save', { forPath: a, png: PNG });
    await call('work.save', { items, masks: [{ forPath: a, path: used }, { forPath: loose, path: draftL, draft: true }] });
    expect((await load()).map((m) => [m.forPath, m.path, m.draft])).toEqual([[a, used, undefined], [loose, draftL, true]]);
    // a draft older than the window's last save was named by it, or let go (the photo was removed)
    await new Promise((r) => setTimeout(r, 20));
    await call('mask.save', { forPath: loose, png: PNG, draft: true });
    await new Promise((r) => setTimeout(r, 20));
    await call('work.save', { items, masks: [{ forPath: a, path: used }] });
    expect((await load()).map((m) => [m.forPath, m.path, m.draft])).toEqual([[a, used, undefined]]);
  });

  it('drafts of photos that left the queue go at a start once a month old; those of photos in it, or missing from it, stay', async () => {
    const shoot = path.join(dir, 'shoot');
    const [a, gone, away] = ['a.jpg', 'gone.jpg', 'away.jpg'].map((f) => path.join(shoot, f));
    for (const f of [a, gone, away]) fs.writeFileSync(f, 'x');
    await call('files.add', { paths: [shoot] });
    const draft = async (p: string) => ((await call('mask.save', { forPath: p, png: PNG, draft: true })) as { path: string }).path;
    const [dA, dGone, dAway] = [await draft(a), await draft(gone), await draft(away)];
    const fresh = path.join(dataDir, 'masks', 'fresh-0123456789ab.draft.png'); // a photo removed yesterday
    fs.copyFileSync(dA, fresh);
    const old = (Date.now() - 40 * 86400e3) / 1000;
    for (const f of [dA, dGone, dAway]) fs.utimesSync(f, old, old);
    // gone.jpg was removed from the queue; away.jpg's drive is unplugged (it is kept as missing)
    await call('work.save', { items: [item(a), item(away)] });
    fs.renameSync(away, `${away}.off`);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    await call('work.load', {});
    expect([dA, dGone, dAway, fresh].map((f) => fs.existsSync(f))).toEqual([true, false, true, true]);
    // the next start, with away.jpg still missing: its draft stays
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    await call('work.save', { items: [item(a)] });
    await call('work.load', {});
    expect(fs.existsSync(dAway)).toBe(true);
  });

  it('a photo that comes back (the drive plugged in again) takes its old place in the queue', async () => {
    const shoot = path.join(dir, 'shoot');
    const [a, b, c] = ['a.jpg', 'b.jpg', 'c.jpg'].map((f) => path.join(shoot, f));
    for (const f of [b, c]) fs.writeFileSync(f, 'x');
    await call('files.add', { paths: [shoot] });
    await call('work.save', { items: [item(a), item(b), item(c)] });
    fs.renameSync(b, `${b}.away`);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    expect(((await call('work.load', {})) as { missing: number }).missing).toBe(1);
    await call('work.save', { items: [item(a), item(c)] }); // the window shows the two that are there
    await call('work.save', { items: [item(a), item(c)] }); // and saves again: b keeps its place
    fs.renameSync(`${b}.away`, b);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    const r = (await call('work.load', {})) as { work: { items: Record<string, unknown>[] }; missing: number };
    expect(r.missing).toBe(0);
    expect(r.work.items.map((i) => i.path)).toEqual([a, b, c]);
    expect(r.work.items.every((i) => !('at' in i))).toBe(true);
  });

  it('an engine restarted under a running window keeps what work.json already holds: folders, results, missing photos', async () => {
    const shoot = path.join(dir, 'shoot');
    const a = path.join(shoot, 'a.jpg');
    const b = path.join(shoot, 'day2', 'b.jpg');
    const out = path.join(shoot, 'restored', 'day2', 'b.jpg');
    await call('files.add', { paths: [shoot], recursive: true });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, 'x');
    ctx.grant(out);
    const { path: maskA } = (await call('mask.save', { forPath: a, png: PNG })) as { path: string };
    const items = [item(a), item(b, { rel: path.join('day2', 'b.jpg'), status: 'done', output: out, outputKey: 'k' })];
    await call('work.save', { items, masks: [{ forPath: a, path: maskA }] });
    fs.renameSync(a, `${a}.away`); // a.jpg's drive is unplugged
    const restart = () => {
      const grants = createGrantSet();
      ctx.grant = (p) => grants.grant(p);
      ctx.isGranted = (p) => grants.isGranted(p);
      handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    };
    restart();
    expect(((await call('work.load', {})) as { missing: number }).missing).toBe(1);
    // the engine crashes and restarts; the window (not reloaded) saves what it shows, b.jpg only
    restart();
    ctx.grant(b); // main hands the new engine the files the window was given
    await call('work.save', { items: [items[1]] });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dataDir, 'work.json'), 'utf8'));
    expect(onDisk.items).toEqual([items[1]]); // its folder and its result kept, not cut
    expect(onDisk.missing.map((m: { path: string }) => m.path)).toEqual([a]);
    expect(onDisk.masks).toEqual([{ forPath: a, path: maskA }]); // the missing photo's mask too
    // a.jpg is back: the next start has it, with its mask
    fs.renameSync(`${a}.away`, a);
    restart();
    const r = (await call('work.load', {})) as { work: { items: { path: string }[]; masks: { forPath: string }[] }; missing: number };
    expect(r.missing).toBe(0);
    expect(r.work.items.map((i) => i.path).sort()).toEqual([a, b].sort());
    expect(r.work.masks.map((m) => m.forPath)).toEqual([a]);
  });

  it('what a renderer sends cannot make another folder a chosen one: rel and output are checked', async () => {
    const loose = path.join(dir, 'loose.jpg');
    const a = path.join(dir, 'shoot', 'a.jpg');
    await call('files.add', { paths: [loose, a] }); // files one by one: no folder chosen
    // rel claiming the file was added with the whole disk, and a granted photo passed off as a result
    await call('work.save', { items: [item(loose, { rel: loose.slice(1) }), item(a, { status: 'done', output: loose })] });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dataDir, 'work.json'), 'utf8'));
    expect(onDisk.items).toEqual([item(loose), item(a)]);
    handlers = createHandlers(engine, ctx, { dataDir, version: '1' });
    await call('work.load', {});
    expect(await codeOf(call('shell.openFolder', { path: path.parse(dir).root }))).toBe('E_FORBIDDEN');
    expect(await codeOf(call('shell.openFolder', { path: dir }))).toBe('E_FORBIDDEN');
  });

  it('a link named like a photo that points elsewhere is not granted from work.json', async () => {
    const link = path.join(dir, 'innocent.jpg');
    fs.symlinkSync(path.join(dir, 'shoot', 'notes.txt'), link);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'work.json'), JSON.stringify({ items: [item(link)] }));
    const { work, missing } = (await call('work.load', {})) as { work: { items: unknown[] }; missing: number };
    expect(work.items).toEqual([]);
    expect(missing).toBe(1);
    expect(ctx.isGranted(link)).toBe(false);
  });

  it('a reloaded page learns of the batch still running, with its photos and recipe', async () => {
    const a = path.join(dir, 'loose.jpg');
    await call('files.add', { paths: [a] });
    engine.hold = true; // the fake engine's tiles wait until released
    const { batchId } = (await call('batch.start', { files: [a], recipe: [{ task: 'upscale', scale: 2 }] })) as { batchId: string };
    const r = (await call('work.load', {})) as { running: unknown[] };
    expect(r.running).toEqual([{ batchId, files: [a], recipe: [{ task: 'upscale', scale: 2 }], finished: [] }]);
    engine.hold = false;
    engine.release();
    await waitFor(() => emitted.some((e) => e.name === 'batch.done'));
    expect(((await call('work.load', {})) as { running: unknown[] }).running).toEqual([]);
  });

  it('nothing saved yet reads as null; a broken file reads as null and is kept aside', async () => {
    expect(await call('work.load', {})).toEqual({ work: null, missing: 0, running: [], missingFiles: [], broken: false, writer: expect.any(String) });
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'work.json'), '{"items": [');
    expect(await call('work.load', {})).toEqual({ work: null, missing: 0, running: [], missingFiles: [], broken: true, writer: expect.any(String) });
    expect(fs.existsSync(path.join(dataDir, 'work.json.broken'))).toBe(true);
  });
});
