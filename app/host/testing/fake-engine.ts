// A stand-in Engine for the host and shell tests (never bundled: only tests import it). It walks
// real folders, writes tiny files for display copies, previews and outputs, and runs batches as
// `tiles` steps per photo, checking the AbortSignal between steps like the real tiler does.
// A photo named bad.jpg fails with E_DECODE; `hold` keeps every tile waiting until released,
// so a test can cancel (or kill) a batch at a known point.
import fs from 'node:fs';
import path from 'node:path';
import { RestoraError, type BatchReport, type FileEntry, type FileReport, type ModelInfo } from '../../contract/index.ts';
import type { BatchOptions, Engine, RgbImage } from '../../engine/api.ts';

export interface FakeEngine extends Engine {
  calls: { name: string; args: unknown[] }[];
  /** Let held tiles go on. */
  release(): void;
  hold: boolean;
  /** photos an earlier run of the batch finished (as its journal would say): reported skipped with this output */
  already: Map<string, string>;
  tilesRun: number;
  closed: boolean;
}

const IMAGE = /\.(jpe?g|png|tiff?|webp)$/i;

export function createFakeEngine(opts: { dataDir: string; tiles?: number; hold?: boolean }): FakeEngine {
  const tiles = opts.tiles ?? 4;
  const cache = path.join(opts.dataDir, 'cache');
  let waiters: (() => void)[] = [];
  const model: ModelInfo = { id: 'fake-denoise', task: 'denoise', name: 'Fake', scale: 1, source: 'bundled', architecture: 'none', license: 'MIT', metrics: {} };

  const tile = (signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const go = () => (signal?.aborted ? reject(new RestoraError('E_CANCELLED', 'cancelled')) : resolve());
      if (!engine.hold) return setImmediate(go);
      waiters.push(go);
      signal?.addEventListener('abort', go, { once: true });
    });

  const touch = (p: string, data = 'x') => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    return p;
  };

  const engine: FakeEngine = {
    calls: [],
    hold: opts.hold ?? false,
    already: new Map(),
    tilesRun: 0,
    closed: false,
    release() {
      const w = waiters;
      waiters = [];
      for (const go of w) go();
    },
    models: () => [model],
    skippedModels: () => [],
    maxPixels: 200e6,
    addModel: async () => model,
    async runtimeInfo(o) {
      engine.calls.push({ name: 'runtimeInfo', args: [o] });
      return { requested: o?.ep ?? 'auto', active: 'cpu', available: ['cpu'], threads: 1 };
    },
    readImage: async (): Promise<RgbImage> => ({ width: 1, height: 1, data: new Float32Array(3) }),
    writeImage: async (_img, p) => p,
    run: async (img) => img,
    estimateSigma: async () => 10,
    async expand(paths, recursive = true) {
      engine.calls.push({ name: 'expand', args: [paths, recursive] });
      const files: FileEntry[] = [];
      const errors: { code: string; message: string; file?: string }[] = [];
      const walk = (root: string, p: string) => {
        const st = fs.statSync(p);
        if (st.isDirectory()) {
          for (const n of fs.readdirSync(p).sort()) if (recursive || !fs.statSync(path.join(p, n)).isDirectory()) walk(root, path.join(p, n));
        } else if (IMAGE.test(p)) files.push({ path: p, size: st.size, rel: path.relative(root, p) || path.basename(p) });
      };
      for (const p of paths) {
        if (!fs.existsSync(p)) errors.push({ code: 'E_NOT_FOUND', message: `${path.basename(p)} does not exist`, file: p });
        else walk(fs.statSync(p).isDirectory() ? p : path.dirname(p), p);
      }
      return { files, errors };
    },
    async imageInfo(p) {
      engine.calls.push({ name: 'imageInfo', args: [p] });
      const displayPath = touch(path.join(cache, `display-${path.basename(p)}.png`));
      return { path: p, width: 64, height: 48, format: 'jpeg', bitDepth: 8, hasAlpha: false, displayScale: 1, displayPath };
    },
    async previewRegion(p, region, recipe, o) {
      engine.calls.push({ name: 'previewRegion', args: [p, region, recipe, o] });
      await tile(o?.signal); // one tile: held with `hold`, and stopped by its signal as a batch's are
      return { before: touch(path.join(cache, 'before.png')), after: touch(path.join(cache, 'after.png')), region, scale: 1, seconds: 0.01 };
    },
    async imageRegion(p, region) {
      engine.calls.push({ name: 'imageRegion', args: [p, region] });
      return { path: touch(path.join(cache, 'region.png')), region };
    },
    async runBatch(o: BatchOptions): Promise<BatchReport> {
      engine.calls.push({ name: 'runBatch', args: [o] });
      const batchId = o.batchId ?? 'fake';
      const started = Date.now();
      const reports: FileReport[] = [];
      let done = 0;
      let failed = 0;
      for (const [index, input] of o.files.entries()) {
        if (o.signal?.aborted) {
          reports.push({ input, status: 'cancelled' });
          continue;
        }
        const earlier = engine.already.get(input);
        if (earlier) {
          reports.push({ input, output: earlier, status: 'skipped' });
          o.onEvent?.('file.progress', { batchId, index, input, status: 'skipped', progress: 1, output: earlier });
          continue;
        }
        o.onEvent?.('file.progress', { batchId, index, input, status: 'running', progress: 0 });
        try {
          if (path.basename(input) === 'bad.jpg') throw new RestoraError('E_DECODE', 'bad.jpg is not a readable image (truncated JPEG)', input);
          for (let t = 0; t < tiles; t++) {
            await tile(o.signal);
            engine.tilesRun++;
            o.onEvent?.('file.progress', { batchId, index, input, status: 'running', progress: (t + 1) / tiles });
          }
          const out = touch(path.join(o.output.dir ?? path.join(path.dirname(input), 'restored'), `${path.parse(input).name}${o.output.suffix ?? ''}.png`));
          done++;
          reports.push({ input, output: out, status: 'done', seconds: 0 });
          o.onEvent?.('file.progress', { batchId, index, input, status: 'done', progress: 1, output: out });
        } catch (e) {
          const err = RestoraError.from(e);
          if (err.code === 'E_CANCELLED') {
            reports.push({ input, status: 'cancelled' });
            o.onEvent?.('file.progress', { batchId, index, input, status: 'cancelled', progress: 0 });
            continue;
          }
          failed++;
          reports.push({ input, status: 'failed', error: err.toJSON() });
          o.onEvent?.('file.progress', { batchId, index, input, status: 'failed', progress: 0, error: err.toJSON() });
        }
        o.onEvent?.('batch.progress', { batchId, total: o.files.length, done, failed, progress: (index + 1) / o.files.length, etaSeconds: null });
      }
      return { batchId, total: o.files.length, done, failed, skipped: reports.filter((r) => r.status === 'skipped').length, cancelled: Boolean(o.signal?.aborted), seconds: (Date.now() - started) / 1000, files: reports };
    },
    async close() {
      engine.closed = true;
      engine.hold = false;
      engine.release();
    },
  };
  return engine;
}
