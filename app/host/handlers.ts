// THE handler table: every call of the contract is implemented here once, and both front ends use
// it, so they cannot drift: the Electron host (app/host/host.ts, over a MessagePort) and the
// web-mode server (app/server, over HTTP/WebSocket).
//
//   const handlers = createHandlers(engine, ctx, { dataDir, version });
//   const result = await dispatch(handlers, name, args);   // validates, runs, maps errors
//
// - `dispatch` is the only entry: it checks the call name, validates the arguments with the
//   contract's zod schemas (`parseArgs`, E_USAGE on failure), calls the handler and rethrows any
//   failure as a RestoraError (code + sentence + file). Handlers never validate again.
// - Results are plain structured-clone/JSON-able data. The one binary argument is mask.save's png.
// - Paths: a call may only use paths the user chose. `files.add` grants the image files it expands
//   (and remembers dropped folders as output/reveal locations); `dialog.open` grants what the user
//   picks; outputs, previews, display copies and masks that Restora makes are granted as they appear.
//   `image.info`, `preview.region`, `batch.start` (inputs, masks, output dir), `mask.save` and
//   `shell.openFolder` refuse anything else with E_FORBIDDEN.
// - Batches: `batch.start` returns { batchId } at once and runs in the background; progress goes out
//   through ctx.emit ('file.progress', 'batch.progress', then exactly one 'batch.done').
//   `batch.cancel` aborts the batch's AbortController (the engine stops between tiles); a hard cancel
//   is the host's business (it kills the process; see app/main/host-bridge.ts).
// - Settings/presets persist in `<dataDir>` (store.ts); masks go to `<dataDir>/masks/`.
// - `work.save` keeps the window's queue, recipe and masks (only paths already granted, masks only
//   from `<dataDir>/masks`); `work.load` grants again what still exists, so a restarted host or a
//   reloaded page goes on where it was.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import {
  RestoraError,
  isCallName,
  parseArgs,
  type BatchReport,
  type CallName,
  type CallResult,
  type ErrorInfo,
  type EventName,
  type EventPayload,
  type BatchProgress,
  type FileProgress,
  type Recipe,
  type SavedWork,
  type calls,
} from '../contract/index.ts';
import { SkipList, type Engine } from '../engine/api.ts';
import { isImagePath, OUTPUT_DIR_NAME, rootOf } from '../engine/batch/index.ts';
import { writeFileAtomic } from '../engine/image/writer.ts';
import { isInside, realPath } from './grants.ts';
import { createStore } from './store.ts';

export interface HandlerContext {
  mode: 'electron' | 'web';
  emit<N extends EventName>(name: N, payload: EventPayload<N>): void;
  /** How the renderer fetches a file: restora:// URL in Electron, /files?... in web mode. */
  urlFor(absPath: string): string;
  /** The user chose this file, or Restora made it (output, preview, mask): it may be served and processed. */
  grant(absPath: string): void;
  /** Containment by real path. */
  isGranted(absPath: string): boolean;
  /** Desktop: reveal in the file manager. Absent in web mode (the UI shows the path). */
  openFolder?(absPath: string): Promise<boolean>;
  /** Desktop: a native open dialog; [] when cancelled. Absent in web mode (E_UNSUPPORTED). */
  choosePaths?(purpose: 'files' | 'folder' | 'output'): Promise<string[]>;
}

export type Handlers = { [N in CallName]: (args: z.infer<(typeof calls)[N]['args']>) => Promise<CallResult<N>> };

export interface HandlerOptions {
  dataDir: string;
  version: string;
  /** Folders the user already chose (a restarted host, a server's --out): valid output/reveal places. */
  dirs?: string[];
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const MAX_MASK_BYTES = 256 * 1024 * 1024;
/** Drafts of photos that left the queue are deleted at the next start once they are this old. */
const DRAFT_KEEP_DAYS = 30;

/** True if `bytes` is a whole PNG: signature, an IHDR first, an IEND last. */
export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < 8 + 25 + 12) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false;
  const ascii = (from: number) => String.fromCharCode(bytes[from], bytes[from + 1], bytes[from + 2], bytes[from + 3]);
  const ihdrLen = (bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11];
  return ihdrLen === 13 && ascii(12) === 'IHDR' && ascii(bytes.length - 8) === 'IEND';
}

export function createHandlers(engine: Engine, ctx: HandlerContext, opts: HandlerOptions): Handlers {
  const store = createStore(opts.dataDir);
  // running batches, with what a reloaded page needs to show them going on (work.load's `running`)
  const batches = new Map<string, { ac: AbortController; skips: SkipList; files: string[]; recipe: Recipe; finished: Map<string, FileProgress>; progress?: BatchProgress }>();
  // running previews the window named, for preview.cancel
  const previews = new Map<string, AbortController>();
  // folders the user dropped or picked: valid output folders and places to reveal
  const chosenDirs = new Set<string>((opts.dirs ?? []).map((d) => path.resolve(d)));
  // the window that called work.load last: only its work.save is kept (undefined: the first to save)
  let workWriter: string | undefined;

  const abs = (p: string) => path.resolve(p);
  // the output folder saved in the settings was checked when it was set: it stays a chosen folder
  // after a restart (else every Run of a restarted app would be refused with E_FORBIDDEN)
  const savedOutputDir = store
    .getSettings()
    .then((s) => {
      if (s.outputDir) chosenDirs.add(abs(s.outputDir));
    })
    .catch(() => undefined);
  const name = (p: string) => path.basename(p);
  const forbid = (p: string, what = 'was not added to Restora'): never => {
    throw new RestoraError('E_FORBIDDEN', `${name(p)} ${what}; add it by dropping it or choosing it first`, p);
  };
  const requireFile = (p: string): string => {
    const a = abs(p);
    if (!ctx.isGranted(a)) forbid(a);
    return a;
  };
  const dirAllowed = (dir: string): boolean => {
    const a = abs(dir);
    if (ctx.isGranted(a)) return true;
    // on real paths: a symlink inside a chosen folder must not carry outputs out of it
    const real = realPath(a);
    for (const d of chosenDirs) {
      const rel = path.relative(realPath(d), real);
      if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return true;
    }
    return false;
  };
  const requireMasks = (recipe: Recipe) => {
    for (const step of recipe) if (step.task === 'inpaint') requireFile(step.mask);
  };
  const served = (p: string): string => {
    ctx.grant(p);
    return ctx.urlFor(p);
  };
  const errorInfo = (e: unknown): ErrorInfo => RestoraError.from(e).toJSON();
  const masksDir = path.join(opts.dataDir, 'masks');
  /** A photo's mask file (one per photo), or its draft: the painter's strokes as painted. */
  const maskFile = (photo: string, draft = false) => {
    const stem = name(photo).replace(/\.[^.]*$/, '').replace(/[^\p{L}\p{N}_.-]+/gu, '_').slice(0, 80) || 'mask';
    const id = crypto.createHash('sha256').update(photo).digest('hex').slice(0, 12);
    return path.join(masksDir, `${stem}-${id}${draft ? '.draft' : ''}.png`);
  };
  const isOurMask = (p: string) => isInside(realPath(masksDir), realPath(abs(p)));
  // only image files are granted again from work.json, whatever else a changed file may name (a link
  // named .jpg is judged by what it points to)
  const isFile = async (p: string) => isImagePath(p) && isImagePath(realPath(abs(p))) && (await fs.stat(p).catch(() => null))?.isFile() === true;
  /** `fn` over `list`, at most 32 at once (thousands of stats, some on slow drives). */
  async function eachLimited<T, R>(list: T[], fn: (x: T) => Promise<R>): Promise<R[]> {
    const out = new Array<R>(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const i = next++;
        out[i] = await fn(list[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, list.length) }, worker));
    return out;
  }

  /**
   * What of the window's work may be kept: photos and results Restora was given or made, masks it
   * saved. `prev` is work.json as it is: a photo's `rel` and result that it already holds were checked
   * when first saved and are kept as they are (a restarted engine has not learnt their folders yet);
   * anything new must lie in a chosen folder now. Photos of `prev` that are gone from the queue and
   * from the disk stay in `missing` (an unplugged drive) unless `forgetMissing`.
   */
  async function keepGranted(work: SavedWork, prev: SavedWork | null, forgetMissing = false): Promise<SavedWork> {
    const before = new Map([...(prev?.items ?? []), ...(prev?.missing ?? [])].map((it) => [it.path, it]));
    const allowed = new Map<string, boolean>(); // per folder, for this save
    const dirOk = (d: string) => {
      let ok = allowed.get(d);
      if (ok === undefined) allowed.set(d, (ok = dirAllowed(d)));
      return ok;
    };
    const items = work.items
      .filter((it) => ctx.isGranted(abs(it.path)))
      .map(({ outputUrl: _url, ...it }) => {
        const was = before.get(it.path);
        // work.load makes the folder a photo was added from, and its result's folder, chosen folders
        // again: only what is one now, or was already kept, is kept (another `rel` is cut to the file name)
        if (/[\\/]/.test(it.rel) && was?.rel !== it.rel) {
          if (!(it.path.endsWith(it.rel) && dirOk(rootOf(it)))) it = { ...it, rel: path.basename(it.path) };
        } else if (/[\\/]/.test(it.rel)) chooseRoot(it);
        if (!it.output) return it;
        if (was?.output === it.output) {
          chosenDirs.add(path.dirname(abs(it.output)));
          return it;
        }
        if (ctx.isGranted(abs(it.output)) && dirOk(path.dirname(abs(it.output)))) return it;
        const { output: _o, outputRecipe: _r, outputKey: _k, steps: _s, notes: _n, ...rest } = it;
        return { ...rest, status: 'ready' as const };
      });
    const kept = new Set(items.map((it) => it.path));
    // a photo gone missing keeps its place in the queue as it was last saved (`at`), to come back there
    const place = new Map((prev?.items ?? []).map((it, i) => [it.path, i]));
    const gone = forgetMissing ? [] : [...before.values()].filter((it) => !kept.has(it.path)).map((it) => ({ ...it, at: it.at ?? place.get(it.path) }));
    const missing = (await eachLimited(gone, async (it) => ((await isFile(it.path)) ? null : it))).filter((it) => it !== null);
    const missingPaths = new Set(missing.map((it) => it.path));
    const masks = [
      ...work.masks.filter((m) => kept.has(m.forPath) && isOurMask(m.path)).map(({ url: _u, ...m }) => m),
      ...(prev?.masks ?? []).filter((m) => missingPaths.has(m.forPath)),
    ];
    const batch = work.batch && { ...work.batch, paths: work.batch.paths.filter((p) => kept.has(p)) };
    return {
      ...work,
      items,
      ...(work.selected && kept.has(work.selected) ? {} : { selected: undefined }),
      ...(work.recipeMask && isOurMask(work.recipeMask.path) ? {} : { recipeMask: undefined }),
      masks,
      ...(batch?.paths.length ? { batch } : { batch: undefined }),
      missing,
    };
  }

  /** The folder a photo was added from (the engine's rootOf: path minus rel) is a chosen folder again. */
  function chooseRoot(it: { path: string; rel: string; size: number }): void {
    if (/[\\/]/.test(it.rel) && it.path.endsWith(it.rel)) chosenDirs.add(rootOf(it));
  }

  /** The saved work as it stands now: what is gone is left out (or made ready again), the rest granted. */
  async function restoreWork(saved: SavedWork): Promise<{ work: SavedWork; missing: number; missingFiles: string[] }> {
    const items: SavedWork['items'] = [];
    let missing = 0;
    const missingFiles: string[] = [];
    // photos missing last time are looked for again: the drive may be back, and they go back to their place
    const inQueue = new Set(saved.items.map((it) => it.path));
    const all: SavedWork['items'] = saved.items.map(({ at: _a, ...it }) => it);
    const back = saved.missing.filter((m) => !inQueue.has(m.path)).sort((x, y) => (x.at ?? Infinity) - (y.at ?? Infinity));
    for (const { at, ...m } of back) all.splice(Math.min(at ?? all.length, all.length), 0, m);
    const present = await eachLimited(all, async (it) => [await isFile(it.path), !!it.output && (await isFile(it.output))] as const);
    for (const [i, it] of all.entries()) {
      const [here, outputHere] = present[i];
      if (!here) {
        missing++;
        if (missingFiles.length < 3) missingFiles.push(it.path);
        continue;
      }
      ctx.grant(abs(it.path));
      // the folder it was added from (a subfolder's photo keeps its tree under it in the output)
      chooseRoot(it);
      if (it.output && outputHere) {
        items.push({ ...it, outputUrl: served(abs(it.output)) });
        chosenDirs.add(path.dirname(abs(it.output))); // "Open output folder", as after the batch that wrote it
      } else if (it.output) {
        const { output: _o, outputUrl: _u, outputRecipe: _r, outputKey: _k, steps: _s, notes: _n, ...rest } = it;
        // its result was deleted: ready again (a failed later run keeps its error)
        items.push({ ...rest, status: rest.status === 'failed' && rest.error ? 'failed' : 'ready' });
      } else items.push(it);
    }
    const paths = new Set(items.map((it) => it.path));
    const masks: SavedWork['masks'] = [];
    const maskHere = await eachLimited(saved.masks, async (m) => paths.has(m.forPath) && isOurMask(m.path) && (await isFile(m.path)));
    const kept = saved.masks.filter((_, i) => maskHere[i]);
    // a draft written after the window's last save (a crash a moment after painting) is what was painted
    // last, unless a mask was used (saved) later still; older drafts were named by that save or let go
    const inFolder = new Set(await fs.readdir(masksDir).catch(() => [] as string[]));
    const mtime = (p: string) => fs.stat(p).then((st) => st.mtimeMs, () => 0);
    const lastSave = await mtime(path.join(opts.dataDir, 'work.json'));
    for (const it of items) {
      const d = maskFile(it.path, true);
      if (!inFolder.has(path.basename(d))) continue;
      const when = await mtime(d);
      const i = kept.findIndex((m) => m.forPath === it.path);
      const named = i >= 0 ? kept[i] : undefined;
      if (when <= lastSave || (named && (abs(named.path) === d || when <= (await mtime(named.path))))) continue;
      const m = { forPath: it.path, path: d, draft: true };
      if (named) kept[i] = m;
      else kept.push(m);
    }
    for (const m of kept) masks.push({ forPath: m.forPath, path: m.path, url: served(abs(m.path)), ...(m.draft ? { draft: true } : {}) });
    // drafts of photos no longer in the queue (nor missing from it, which may come back) go after a month: a
    // draft is never a recipe's or a preset's mask, so nothing else reads them
    const keepDrafts = new Set([...saved.items, ...saved.missing].map((it) => path.basename(maskFile(it.path, true))));
    for (const m of kept) keepDrafts.add(path.basename(m.path));
    const monthAgo = Date.now() - DRAFT_KEEP_DAYS * 86400e3;
    for (const f of inFolder) {
      if (!f.endsWith('.draft.png') || keepDrafts.has(f)) continue;
      const p = path.join(masksDir, f);
      if ((await mtime(p)) < monthAgo) await fs.unlink(p).catch(() => {});
    }
    const rm = saved.recipeMask;
    const recipeMask = rm && isOurMask(rm.path) && (await isFile(rm.path)) ? rm : undefined;
    if (recipeMask) ctx.grant(abs(recipeMask.path));
    return {
      work: {
        ...saved,
        items,
        selected: saved.selected && paths.has(saved.selected) ? saved.selected : undefined,
        recipeMask,
        masks,
        missing: [],
      },
      missing,
      missingFiles,
    };
  }

  function failedReport(batchId: string, files: string[], e: unknown, started: number): BatchReport {
    const err = RestoraError.from(e);
    const cancelled = err.code === 'E_CANCELLED';
    return {
      batchId,
      total: files.length,
      done: 0,
      failed: cancelled ? 0 : files.length,
      skipped: 0,
      cancelled,
      seconds: (Date.now() - started) / 1000,
      files: files.map((input) => ({ input, status: cancelled ? 'cancelled' : 'failed', error: err.toJSON() })),
    };
  }

  return {
    'app.info': async () => {
      const s = await store.getSettings();
      return { version: opts.version, runtime: await engine.runtimeInfo({ ep: s.ep, threads: s.threads, tile: s.tile }), mode: ctx.mode, maxPixels: engine.maxPixels };
    },

    'models.list': async () => engine.models(),
    // after models.list (which rescans the folders)
    'models.skipped': async () => engine.skippedModels(),

    'files.add': async ({ paths, recursive }) => {
      // a typed path (web mode): ~ is the home folder; a relative one would be read from the engine's own folder
      const typed = paths.map((p) => (p === '~' || p.startsWith('~/') || p.startsWith('~\\') ? path.join(os.homedir(), p.slice(1)) : p));
      const relative = typed.filter((p) => !path.isAbsolute(p));
      const roots = typed.filter((p) => path.isAbsolute(p)).map(abs);
      const expanded = roots.length ? await engine.expand(roots, recursive) : { files: [], errors: [], ignored: undefined };
      const { files, ignored } = expanded;
      const errors = [
        ...relative.map((p) => new RestoraError('E_NOT_FOUND', `${p} is not a whole path: type it from the top of the disk (/home/you/Pictures/…, C:\\Users\\you\\Pictures\\…) or from your home folder (~/Pictures/…)`, p)),
        ...expanded.errors,
      ];
      for (const f of files) ctx.grant(f.path);
      for (const r of roots) {
        const st = await fs.stat(r).catch(() => null);
        if (st?.isDirectory()) chosenDirs.add(r);
      }
      return { files, errors: errors.map(errorInfo), ...(ignored && (ignored.files || ignored.folders) ? { ignored } : {}) };
    },

    'image.info': async ({ path: p }) => {
      const file = requireFile(p);
      const { displayPath, ...info } = await engine.imageInfo(file);
      return { ...info, url: served(displayPath) };
    },

    'image.region': async ({ path: p, region }) => {
      const file = requireFile(p);
      const r = await engine.imageRegion(file, region);
      return { url: served(r.path), region: r.region };
    },

    'image.noise': async ({ path: p, model }) => {
      const file = requireFile(p);
      const img = await engine.readImage(file);
      return { sigma: Math.round((await engine.estimateSigma(img, model)) * 100) / 100 };
    },

    'preview.region': async ({ path: p, region, recipe, runtime, id, noiseReading }) => {
      const file = requireFile(p);
      requireMasks(recipe);
      const ac = new AbortController();
      if (id) {
        previews.get(id)?.abort(new RestoraError('E_CANCELLED', 'the preview was replaced by another of the same name'));
        previews.set(id, ac);
      }
      try {
        const r = await engine.previewRegion(file, region, recipe, { runtime, signal: ac.signal, ...(noiseReading !== undefined ? { noiseReading } : {}) });
        return { beforeUrl: served(r.before), afterUrl: served(r.after), region: r.region, scale: r.scale, seconds: r.seconds };
      } finally {
        if (id && previews.get(id) === ac) previews.delete(id);
      }
    },

    'preview.cancel': async ({ id }) => {
      const ac = previews.get(id);
      if (!ac) return { ok: false };
      ac.abort(new RestoraError('E_CANCELLED', 'the preview was cancelled'));
      previews.delete(id);
      return { ok: true };
    },

    'mask.save': async ({ forPath, png, draft }) => {
      const file = requireFile(forPath);
      if (png.length > MAX_MASK_BYTES || !isPng(png)) throw new RestoraError('E_MASK', `the mask for ${name(file)} is not a PNG image`, file);
      await fs.mkdir(masksDir, { recursive: true });
      const out = maskFile(file, draft);
      const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
      await writeFileAtomic(out, bytes);
      return { path: out, url: served(out), sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
    },

    'batch.start': async ({ files, roots, recipe, output, runtime, resume }) => {
      await savedOutputDir;
      const inputs = files.map(requireFile);
      requireMasks(recipe);
      if (output.dir && !dirAllowed(output.dir)) forbid(abs(output.dir), 'is not a folder you chose for output');
      // a root names the output tree and, without an output folder, where `restored` goes
      for (const r of roots ?? []) if (!dirAllowed(r)) forbid(abs(r), 'is not a folder you added');
      const batchId = crypto.randomUUID();
      const ac = new AbortController();
      const skips = new SkipList();
      const entry = { ac, skips, files: inputs, recipe, finished: new Map<string, FileProgress>(), progress: undefined as BatchProgress | undefined };
      batches.set(batchId, entry);
      const started = Date.now();
      const out = output.dir ? { ...output, dir: abs(output.dir) } : output;
      // a result the engine names is served only if it lies where this batch writes: the output
      // folder, or a `restored` folder in one of its roots or beside its photo (a photo already done
      // is named by the batch journal in that folder, which is not ours to trust blindly)
      const outputTrees = (out.dir ? [out.dir] : [...(roots ?? []).map((r) => path.join(abs(r), OUTPUT_DIR_NAME))]).map(realPath);
      const ours = (input: string, output: string) => {
        const real = realPath(output);
        const trees = out.dir ? outputTrees : [...outputTrees, realPath(path.join(path.dirname(input), OUTPUT_DIR_NAME))];
        return isImagePath(output) && isImagePath(real) && trees.some((t) => isInside(t, real));
      };
      void (async () => {
        let report: BatchReport;
        try {
          report = await engine.runBatch({
            batchId,
            files: inputs,
            ...(roots?.length ? { roots: roots.map(abs) } : {}),
            recipe,
            output: out,
            runtime,
            resume,
            signal: ac.signal,
            skips,
            onEvent: (ev, payload) => {
              if (ev === 'file.progress') {
                let fp = payload as EventPayload<'file.progress'>;
                // done, or already done by an earlier run of this batch (its result is shown too)
                const output = fp.output;
                if (output && (fp.status === 'done' || (fp.status === 'skipped' && ours(fp.input, output)))) {
                  fp = { ...fp, outputUrl: served(output) };
                  // "Open output folder" works from the first result on, not only once the batch has ended
                  chosenDirs.add(path.dirname(abs(output)));
                }
                if (fp.status !== 'running' && fp.status !== 'queued') entry.finished.set(fp.input, fp);
                ctx.emit('file.progress', fp);
              } else {
                if (ev === 'batch.progress') entry.progress = payload as BatchProgress;
                ctx.emit(ev, payload);
              }
            },
          });
          const results = report.files.filter((f) => f.output && (f.status === 'done' || (f.status === 'skipped' && ours(f.input, f.output))));
          for (const f of results) ctx.grant(f.output as string);
          for (const d of new Set(results.map((f) => path.dirname(f.output as string)))) chosenDirs.add(d);
        } catch (e) {
          report = failedReport(batchId, inputs, e, started);
        } finally {
          batches.delete(batchId);
        }
        ctx.emit('batch.done', report);
      })();
      return { batchId };
    },

    'batch.skip': async ({ batchId, path: p }) => {
      const b = batches.get(batchId);
      const file = abs(p);
      if (!b || !b.files.includes(file) || b.finished.has(file)) return { ok: false };
      b.skips.add(file);
      return { ok: true };
    },

    'batch.cancel': async ({ batchId }) => {
      const ac = batches.get(batchId)?.ac;
      if (!ac) return { ok: false };
      ac.abort(new RestoraError('E_CANCELLED', 'the batch was cancelled'));
      return { ok: true };
    },

    'settings.get': async () => store.getSettings(),

    'settings.set': async (patch) => {
      if (patch.outputDir && !dirAllowed(patch.outputDir)) forbid(abs(patch.outputDir), 'is not a folder you chose for output');
      return store.setSettings(patch.outputDir ? { ...patch, outputDir: abs(patch.outputDir) } : patch);
    },

    'work.save': async ({ forgetMissing, missing: _fromWindow, writer, ...work }) => {
      // two tabs on one server would write over each other's queue: the one that loaded last keeps it
      if (writer !== undefined) {
        workWriter ??= writer;
        if (writer !== workWriter) return { items: 0, superseded: true };
      }
      const kept = await store.updateWork((prev) => keepGranted({ ...work, missing: [] }, prev, forgetMissing));
      return { items: kept.items.length };
    },

    'work.load': async () => {
      const writer = crypto.randomUUID();
      workWriter = writer;
      // the running batches are taken last, with nothing awaited after: an event sent while the saved
      // work was being checked is then in `finished`, and a batch that ended meanwhile is not listed
      const running = () => [...batches].map(([batchId, b]) => ({ batchId, files: b.files, recipe: b.recipe, finished: [...b.finished.values()], ...(b.progress ? { progress: b.progress } : {}) }));
      const { work: saved, broken } = await store.getWork();
      if (!saved) return { work: null, missing: 0, running: running(), missingFiles: [], broken, writer };
      const restored = await restoreWork(saved);
      return { ...restored, running: running(), broken: false, writer };
    },

    'presets.list': async () => store.listPresets(),
    'presets.save': async (preset) => store.savePreset(preset),
    'presets.delete': async ({ name: n }) => store.deletePreset(n),

    'shell.openFolder': async ({ path: p }) => {
      await savedOutputDir;
      const target = abs(p);
      if (!ctx.isGranted(target) && !dirAllowed(target)) forbid(target);
      const opened = ctx.openFolder ? await ctx.openFolder(target) : false;
      return { opened, path: target };
    },

    'dialog.open': async ({ purpose }) => {
      if (!ctx.choosePaths) throw new RestoraError('E_UNSUPPORTED', 'file dialogs are only available in the desktop app');
      const picked = (await ctx.choosePaths(purpose)).map(abs);
      // picked files are granted; a picked folder becomes an output/reveal location, and its images
      // are granted when the UI adds it (files.add), so non-images in it are never served
      for (const p of picked) {
        if (purpose === 'files') ctx.grant(p);
        else chosenDirs.add(p);
      }
      return { paths: picked };
    },
  };
}

/**
 * Validate and run one call. `name` and `args` come straight off the wire; the result is whatever
 * the handler returns. Every failure leaves as a RestoraError (unknown name / bad args: E_USAGE).
 */
export async function dispatch(handlers: Handlers, name: unknown, args: unknown): Promise<unknown> {
  if (!isCallName(name)) throw new RestoraError('E_USAGE', `unknown call ${typeof name === 'string' ? name : typeof name}`);
  try {
    const parsed = parseArgs(name, args);
    const handler = handlers[name] as (a: unknown) => Promise<unknown>;
    return await handler(parsed);
  } catch (e) {
    throw RestoraError.from(e);
  }
}
