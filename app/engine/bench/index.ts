// `restora bench`: how fast each task's default model runs through the engine, how much memory a
// run takes, and how much the engine adds on top of bare inference.
//
// Per row (denoise, upscale x2, upscale x4, inpaint on a synthetic photo-like image of --size,
// default 1000x1000; and `preview`: a region preview of a 512x512 view, denoised):
// - seconds_per_mp: median over --repeats of the end-to-end `engine.run` (tiling, padding,
//   blending, sigma map, mask; not decode or encode) divided by the megapixels produced (an
//   upscaler's are those of its output). The preview row times `engine.previewRegion` (decode of
//   the region, run, PNG crops written).
// - peak_rss_mb: the process's peak resident memory during the row's runs (Linux: VmHWM, reset
//   before each row through /proc/self/clear_refs; elsewhere the lifetime peak).
// - overhead_ratio: end-to-end time / bare `session.run` time on the same tiles. The bare time
//   comes from a separate session of the same model, made through the same backend
//   (InferenceBackend.load, same provider and threads), run once per tile of the engine's tile
//   plan (tile, overlap and size multiple as the runtime computes them), timing only `run`.
// - --passes 8 times every row as a self-ensemble (each tile run in its 8 rotations and mirrors);
//   the bare time then counts 8 runs per tile, so the overhead stays the engine's own.
// One warm-up run (session creation and provider probes) precedes the timed runs of each row.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import type { Passes, Recipe, RuntimeOptions } from '../../contract/index.ts';
import type { Engine, RgbImage } from '../api.ts';
import { median } from '../batch/eta.ts';
import { writeFileAtomic } from '../image/writer.ts';
import { type ModelRegistry, toRunnable } from '../models/index.ts';
import type { ConcreteEp, InferenceBackend, RunnableModel, TensorData } from '../runtime/index.ts';
import { OrtBackend } from '../runtime/index.ts';
import { effectiveTiling, planAxis } from '../tiling/tiler.ts';
import { synthMask, synthPhoto } from './synth.ts';

export const BENCH_ROWS = ['denoise', 'upscale-x2', 'upscale-x4', 'inpaint', 'preview'] as const;
export type BenchRow = (typeof BENCH_ROWS)[number];

const PREVIEW_SIDE = 512;

export interface BenchOptions {
  tasks?: string[];
  width: number;
  height: number;
  repeats: number;
  /** Model runs per tile (8: self-ensemble); default 1. */
  passes?: Passes;
  runtime?: Partial<RuntimeOptions>;
  /** The engine's model registry (resolves each task's default model exactly as the engine does). */
  registry: ModelRegistry;
  /** Inference backend for the bare runs (default: onnxruntime-node, as the engine). */
  backend?: InferenceBackend;
  log?: (s: string) => void;
}

export interface BenchResult {
  task: BenchRow;
  model: string;
  width: number; // input size
  height: number;
  megapixels: number; // counted: output pixels for upscalers, the region for preview
  seconds: number; // median end-to-end
  seconds_per_mp: number;
  peak_rss_mb: number;
  bare_seconds: number; // median of summed session.run over the tiles
  overhead_ratio: number;
  tiles: number;
  tile: number;
  passes: Passes;
  ep: string;
  threads: number;
  repeats: number;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  threads: number;
  memory_gb: number;
  platform: string;
  node: string;
  onnxruntime: string;
  ep: string;
}

/** Peak RSS since the last reset, MB. */
export function peakRssMb(): number {
  try {
    const s = readFileSync('/proc/self/status', 'latin1');
    const kb = Number(/^VmHWM:\s+(\d+)/m.exec(s)?.[1]);
    if (kb > 0) return kb / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Reset the peak-RSS counter where the OS allows it (Linux: write 5 to /proc/self/clear_refs). */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function ortVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function rowSpec(row: BenchRow): { task: 'denoise' | 'upscale' | 'inpaint'; scale?: 2 | 4 } {
  if (row === 'upscale-x2') return { task: 'upscale', scale: 2 };
  if (row === 'upscale-x4') return { task: 'upscale', scale: 4 };
  if (row === 'inpaint') return { task: 'inpaint' };
  return { task: 'denoise' };
}

/** The engine's tile plan for an image of width x height (as Runtime.runTiled computes it). */
export function tilePlan(model: RunnableModel, width: number, height: number, tileOption?: number): { tile: number; windowW: number; windowH: number; count: number } {
  const m = Math.max(1, model.sizeMultiple);
  const tile = effectiveTiling(tileOption || model.tile, model.overlap, m).tile;
  const px = planAxis(width, tile, model.overlap, m);
  const py = planAxis(height, tile, model.overlap, m);
  return { tile, windowW: px.window, windowH: py.window, count: px.starts.length * py.starts.length };
}

/** A bare session of the model with feeds of the tile shape; `once()` times `passes` runs per tile over all tiles. */
async function bareRunner(backend: InferenceBackend, model: RunnableModel, plan: ReturnType<typeof tilePlan>, ep: string, threads: number, passes: number) {
  const session = await backend.load(model.path, { ep: ep as ConcreteEp, threads });
  const feeds: Record<string, TensorData> = {};
  for (const inp of model.inputs) {
    const n = inp.channels * plan.windowW * plan.windowH;
    const data = new Float32Array(n);
    if (inp.role === 'sigma') data.fill(25 / 255);
    else if (inp.role === 'mask') for (let i = 0; i < n; i++) data[i] = i % 7 === 0 ? 1 : 0;
    else for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) >>> 0) / 4294967296;
    feeds[inp.name] = { data, dims: [1, inp.channels, plan.windowH, plan.windowW] };
  }
  await session.run(feeds); // warm-up
  return {
    async once(): Promise<number> {
      let sum = 0;
      for (let t = 0; t < plan.count * passes; t++) {
        const t0 = performance.now();
        await session.run(feeds);
        sum += performance.now() - t0;
      }
      return sum / 1000;
    },
    dispose: () => session.dispose(),
  };
}

/** Run the benchmark rows; resolves to the machine description and one result per row. */
export async function runBench(engine: Engine, opts: BenchOptions): Promise<{ machine: MachineInfo; results: BenchResult[] }> {
  const log = opts.log ?? (() => {});
  const rows = (opts.tasks ?? [...BENCH_ROWS]) as BenchRow[];
  const registry = opts.registry;
  const backend = opts.backend ?? new OrtBackend();
  const runtime = opts.runtime ?? {};
  const info = await engine.runtimeInfo(runtime);
  const threads = runtime.threads ?? 0;
  const { width, height } = opts;
  const img: RgbImage = { width, height, data: synthPhoto(width, height, 1), meta: { format: 'png', bitDepth: 8 } };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'restora-bench-'));
  const results: BenchResult[] = [];
  try {
    for (const row of rows) {
      const spec = rowSpec(row);
      const entry = registry.pick(spec.task, spec.scale);
      const model = toRunnable(entry);
      let recipe: Recipe;
      let input: RgbImage = img;
      let planW = width;
      let planH = height;
      const passes = opts.passes ?? 1;
      const modelOpts = { model: model.id, ...(passes === 8 ? { passes } : {}) };
      if (spec.task === 'denoise') recipe = [{ task: 'denoise', sigma: 25, ...modelOpts }];
      else if (spec.task === 'upscale') recipe = [{ task: 'upscale', scale: spec.scale!, ...modelOpts }];
      else {
        const mask = synthMask(width, height, 2);
        const maskFile = path.join(tmp, 'mask.png');
        const png = await sharp(Buffer.from(mask.map((v) => (v ? 255 : 0))), { raw: { width, height, channels: 1 } }).png().toBuffer();
        await writeFileAtomic(maskFile, png);
        recipe = [{ task: 'inpaint', mask: maskFile, ...modelOpts }];
      }
      let megapixels = (width * height * model.scale * model.scale) / 1e6;
      let once: () => Promise<unknown>;
      if (row === 'preview') {
        // a 512x512 view of a photo on disk, as the compare view asks for it
        const file = path.join(tmp, 'photo.png');
        await engine.writeImage(img, file, { format: 'png' });
        const side = Math.min(PREVIEW_SIDE, width, height);
        const region = { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), width: side, height: side };
        planW = side;
        planH = side;
        megapixels = (side * side) / 1e6;
        once = () => engine.previewRegion(file, region, recipe, { runtime });
        input = { width: side, height: side, data: new Float32Array(0) };
      } else {
        once = () => engine.run(input, recipe, { runtime });
      }
      log(`bench ${row}: ${model.id}, ${input.width}x${input.height}${passes === 8 ? ', 8 passes' : ''}, ${opts.repeats} run(s) ...`);
      // warm-up on a small crop: sessions and provider probes are not what we time
      const warm: RgbImage = { width: Math.min(64, width), height: Math.min(64, height), data: synthPhoto(Math.min(64, width), Math.min(64, height), 3) };
      if (spec.task !== 'inpaint') await engine.run(warm, recipe, { runtime });
      else await once();
      const timed = async () => {
        const t0 = performance.now();
        await once();
        return (performance.now() - t0) / 1000;
      };
      // the peak of one end-to-end run, before the bare session adds its own memory
      resetPeakRss();
      const times = [await timed()];
      const peak = peakRssMb();
      const plan = tilePlan(model, planW, planH, runtime.tile);
      const bareRun = await bareRunner(backend, model, plan, info.active, threads, passes);
      const bareTimes: number[] = [];
      try {
        // interleaved, so that a machine busy with other work slows both alike
        for (let r = 0; r < opts.repeats; r++) {
          bareTimes.push(await bareRun.once());
          if (r > 0) times.push(await timed());
        }
      } finally {
        await bareRun.dispose();
      }
      const bare = median(bareTimes);
      const seconds = median(times);
      results.push({
        task: row,
        model: model.id,
        width: input.width,
        height: input.height,
        megapixels,
        seconds,
        seconds_per_mp: seconds / megapixels,
        peak_rss_mb: Math.round(peak),
        bare_seconds: bare,
        overhead_ratio: bare > 0 ? seconds / bare : NaN,
        tiles: plan.count,
        tile: plan.tile,
        passes,
        ep: info.active,
        threads: info.threads,
        repeats: opts.repeats,
      });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const cpus = os.cpus();
  const machine: MachineInfo = {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    threads: info.threads,
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    onnxruntime: ortVersion(),
    ep: info.active,
  };
  return { machine, results };
}

export interface BenchCliOptions {
  tasks?: string[];
  width: number;
  height: number;
  repeats: number;
  passes?: Passes;
  runtime?: Partial<RuntimeOptions>;
  json: boolean;
  registry: ModelRegistry;
}

/** `restora bench ...`: a table (or, with --json, `{machine, results}` as the last line). */
export async function benchCommand(engine: Engine, cmd: BenchCliOptions, io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { machine, results } = await runBench(engine, {
    ...(cmd.tasks ? { tasks: cmd.tasks } : {}),
    width: cmd.width,
    height: cmd.height,
    repeats: cmd.repeats,
    ...(cmd.passes ? { passes: cmd.passes } : {}),
    ...(cmd.runtime ? { runtime: cmd.runtime } : {}),
    registry: cmd.registry,
    log: (s) => io.err(s + '\n'),
  });
  if (cmd.json) {
    io.out(JSON.stringify({ machine, results }) + '\n');
    return 0;
  }
  io.out(`${machine.cpu}, ${machine.cores} cores, ${machine.threads} threads, ${machine.ep}; onnxruntime-node ${machine.onnxruntime}, node ${machine.node}\n`);
  const head = ['task', 'model', 'size', 's/MP', 'peak RSS MB', 'overhead', 'tiles'];
  const rows = results.map((r) => [r.task, r.model, `${r.width}x${r.height}`, r.seconds_per_mp.toFixed(3), String(r.peak_rss_mb), r.overhead_ratio.toFixed(2), `${r.tiles} x ${r.tile}px${r.passes === 8 ? ' x 8 passes' : ''}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
  io.out(fmt(head) + rows.map(fmt).join(''));
  io.out('s/MP: median end-to-end seconds per megapixel produced (upscalers: output pixels). overhead: end-to-end / bare session.run on the same tiles.\n');
  return 0;
}
