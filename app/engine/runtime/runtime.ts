// Execution-provider choice, the session cache, and running a model over an image in tiles with
// the out-of-memory ladder. Policy:
// - `auto` tries this platform's GPU providers in order (CUDA, DirectML, CoreML, WebGPU as the
//   build lists them). Each is probed once per model: a seeded reference run on a small input,
//   compared with the CPU (max abs diff <= 2e-2 by default). The first that passes runs; when none
//   does, the CPU runs and `fallbackReason` says why, in words.
// - An explicit GPU provider that cannot work is an E_MODEL error (never a silent CPU run).
// - Sessions are cached per (model file, provider, threads).
// - GPU out of memory: rebuild the session (a failed arena stays broken), halve the tile (down to
//   a floor of 64 px or the model's minimum), then fall back to the CPU. CPU out of memory: halve
//   the tile, then E_OOM.
import os from 'node:os';
import { RestoraError, type ExecutionProvider, type Passes, type RuntimeInfo } from '../../contract/index.ts';
import { effectiveTiling, runTiled, type PlaneSource } from '../tiling/tiler.ts';
import { isOutOfMemory, type BackendSession, type ConcreteEp, type InferenceBackend, type TensorData } from './backend.ts';

/** What the runtime needs to know about a model (built from its card by the registry). */
export interface RunnableModel {
  id: string;
  path: string; // the .onnx file
  scale: number;
  sizeMultiple: number;
  tile: number; // advised tile (input pixels)
  overlap: number; // advised overlap (input pixels)
  inputs: { name: string; role: 'image' | 'sigma' | 'mask'; channels: number }[];
  output: string;
}

export interface RuntimeDefaults {
  ep?: ExecutionProvider;
  threads?: number;
  tile?: number;
  /** Max abs difference a GPU provider may show against the CPU on the probe run. */
  probeTolerance?: number;
}

export interface TiledJob {
  width: number;
  height: number;
  /** Keyed by the model's input names. */
  inputs: Record<string, PlaneSource>;
}

export interface TiledRunOptions {
  ep?: ExecutionProvider;
  threads?: number;
  tile?: number; // 0/undefined: the model's advice (or the runtime default)
  /** 8: self-ensemble (each window in its 8 rotations/mirrors, averaged); default 1. */
  passes?: Passes;
  signal?: AbortSignal;
  /** Model runs (tiles x passes) done / total of the current attempt (an OOM retry starts a new attempt). */
  onTile?: (done: number, total: number) => void;
}

export interface TiledRunResult {
  data: Float32Array; // CHW, 3 x height*scale x width*scale
  ep: ConcreteEp;
  tile: number;
  /** Set when the run ended on another provider or tile than it started with. */
  note?: string;
}

const EP_NAME: Record<ConcreteEp, string> = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML', webgpu: 'WebGPU' };

function describeLoadFailure(ep: ConcreteEp, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/adapter/i.test(msg) && ep === 'webgpu') return 'no WebGPU adapter (no supported GPU or driver)';
  if (/failed to load (shared )?library|cannot open shared object|LoadLibrary/i.test(msg)) return `${EP_NAME[ep]} libraries could not be loaded (driver or runtime missing)`;
  if (/backend not found|no available backend/i.test(msg)) return 'not included in this onnxruntime-node build';
  const first = msg.split('\n').find((l) => l.trim()) ?? msg;
  return first.replace(/^.*?\]\s*/, '').slice(0, 200);
}

/** Deterministic [0,1) values (mulberry32) so every probe feeds identical input. */
function seeded(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** Small seeded feeds for a probe run: image random, sigma 0.1, mask a binary pattern. */
export function probeFeeds(model: RunnableModel, side?: number): Record<string, TensorData> {
  const m = Math.max(1, model.sizeMultiple);
  const s = side ?? Math.max(m, Math.ceil(32 / m) * m);
  const feeds: Record<string, TensorData> = {};
  model.inputs.forEach((inp, k) => {
    const n = inp.channels * s * s;
    let data: Float32Array;
    if (inp.role === 'sigma') data = new Float32Array(n).fill(0.1);
    else if (inp.role === 'mask') data = seeded(n, 99).map((v) => (v > 0.7 ? 1 : 0));
    else data = seeded(n, 7 + k);
    feeds[inp.name] = { data, dims: [1, inp.channels, s, s] };
  });
  return feeds;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

type Probe = { ok: true; diff: number } | { ok: false; reason: string };

export class Runtime {
  private readonly sessions = new Map<string, Promise<BackendSession>>();
  private readonly probes = new Map<string, Promise<Probe>>();
  /** Human-readable log of OOM retries and fallbacks (newest last); the CLI/UI may show it. */
  readonly log: string[] = [];

  constructor(
    readonly backend: InferenceBackend,
    readonly defaults: RuntimeDefaults = {},
  ) {}

  private threadsOf(t?: number): number {
    return t ?? this.defaults.threads ?? 0;
  }

  /** A cached session for (model, provider, threads). */
  session(model: RunnableModel, ep: ConcreteEp, threads?: number): Promise<BackendSession> {
    const th = this.threadsOf(threads);
    const key = `${model.path}|${ep}|${th}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.backend.load(model.path, { ep, threads: th }).catch((e) => {
        this.sessions.delete(key);
        throw new RestoraError('E_MODEL', `model ${model.id} could not be loaded on the ${EP_NAME[ep]} (${describeLoadFailure(ep, e)})`);
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Drop and rebuild a session (after an out-of-memory error its arena cannot be trusted). */
  async rebuild(model: RunnableModel, ep: ConcreteEp, threads?: number): Promise<BackendSession> {
    const th = this.threadsOf(threads);
    const key = `${model.path}|${ep}|${th}`;
    const old = this.sessions.get(key);
    this.sessions.delete(key);
    if (old) await old.then((s) => s.dispose()).catch(() => undefined);
    return this.session(model, ep, th);
  }

  /** Probe one GPU provider for one model (once; the result is cached). */
  private probe(model: RunnableModel, ep: ConcreteEp, threads: number): Promise<Probe> {
    const key = `${model.path}|${ep}|${threads}`;
    let p = this.probes.get(key);
    if (!p) {
      p = (async (): Promise<Probe> => {
        const status = this.backend.providers().find((s) => s.ep === ep);
        if (!status) return { ok: false, reason: `not available on ${process.platform}` };
        if (!status.present) return { ok: false, reason: status.reason ?? 'not available' };
        let gpu: BackendSession;
        try {
          gpu = await this.backend.load(model.path, { ep, threads, quiet: true });
        } catch (e) {
          return { ok: false, reason: describeLoadFailure(ep, e) };
        }
        try {
          const cpu = await this.session(model, 'cpu', threads);
          const feeds = probeFeeds(model);
          const a = (await cpu.run(feeds))[model.output];
          const b = (await gpu.run(feeds))[model.output];
          const diff = a && b ? maxAbs(a.data, b.data) : Infinity;
          const tol = this.defaults.probeTolerance ?? 2e-2;
          if (!(diff <= tol)) {
            await gpu.dispose().catch(() => undefined);
            return { ok: false, reason: `its results differ from the CPU's (max abs ${Number.isFinite(diff) ? diff.toFixed(4) : 'not finite'} > ${tol})` };
          }
          this.sessions.set(`${model.path}|${ep}|${threads}`, Promise.resolve(gpu));
          return { ok: true, diff };
        } catch (e) {
          await gpu.dispose().catch(() => undefined);
          return { ok: false, reason: `failed its test run (${describeLoadFailure(ep, e)})` };
        }
      })();
      this.probes.set(key, p);
    }
    return p;
  }

  /**
   * Resolve the provider for a model: 'cpu' as is; 'auto' -> the first GPU provider whose probe
   * passes, else 'cpu' with the reasons; an explicit GPU provider -> it, or E_MODEL saying why not.
   */
  async choose(model: RunnableModel, requested?: ExecutionProvider, threads?: number): Promise<{ ep: ConcreteEp; reason?: string }> {
    const req = requested ?? this.defaults.ep ?? 'auto';
    const th = this.threadsOf(threads);
    if (req === 'cpu') return { ep: 'cpu' };
    const candidates = this.backend.providers().map((s) => s.ep);
    if (req !== 'auto') {
      if (!candidates.includes(req)) {
        throw new RestoraError('E_MODEL', `${EP_NAME[req]} cannot run here: not available on this platform (${process.platform}/${process.arch}). Use --ep auto (falls back to the CPU) or --ep cpu.`);
      }
      const p = await this.probe(model, req, th);
      if (!p.ok) throw new RestoraError('E_MODEL', `${EP_NAME[req]} cannot run here: ${p.reason}. Use --ep auto (falls back to the CPU) or --ep cpu.`);
      return { ep: req };
    }
    const reasons: string[] = [];
    for (const ep of candidates) {
      const p = await this.probe(model, ep, th);
      if (p.ok) return { ep };
      reasons.push(`${EP_NAME[ep]}: ${p.reason}`);
    }
    return { ep: 'cpu', reason: reasons.length ? `running on the CPU. ${reasons.join('. ')}` : 'no GPU provider exists for this platform' };
  }

  /** What runs and why; probes every GPU provider of this platform once (for `available`). */
  async info(model: RunnableModel | undefined, requested?: ExecutionProvider, threads?: number): Promise<RuntimeInfo> {
    const req = requested ?? this.defaults.ep ?? 'auto';
    const th = this.threadsOf(threads);
    const shownThreads = th > 0 ? th : (os.availableParallelism?.() ?? os.cpus().length);
    const available: ConcreteEp[] = ['cpu'];
    if (!model) {
      return { requested: req, active: 'cpu', available, threads: shownThreads, ...(req === 'cpu' ? {} : { fallbackReason: 'no model is installed to test the GPU providers with' }) };
    }
    const reasons: string[] = [];
    for (const ep of this.backend.providers().map((s) => s.ep)) {
      const p = await this.probe(model, ep, th);
      if (p.ok) available.push(ep);
      else reasons.push(`${EP_NAME[ep]}: ${p.reason}`);
    }
    if (req === 'cpu') return { requested: req, active: 'cpu', available, threads: shownThreads };
    if (req === 'auto') {
      const active = available.find((e) => e !== 'cpu') ?? 'cpu';
      return { requested: req, active, available, threads: shownThreads, ...(active === 'cpu' ? { fallbackReason: reasons.length ? `running on the CPU. ${reasons.join('. ')}` : 'no GPU provider exists for this platform' } : {}) };
    }
    if (available.includes(req)) return { requested: req, active: req, available, threads: shownThreads };
    const why = reasons.find((r) => r.startsWith(`${EP_NAME[req]}:`)) ?? `${EP_NAME[req]}: not available on this platform`;
    return { requested: req, active: 'cpu', available, threads: shownThreads, fallbackReason: `${why}. A run with this provider fails; choose auto or cpu.` };
  }

  /**
   * Run `model` over an image in tiles (see tiling/tiler.ts) on the chosen provider, with the
   * out-of-memory ladder. Inputs and output are planar float32 (CHW); output is 3 x H*s x W*s.
   */
  async runTiled(model: RunnableModel, job: TiledJob, opts: TiledRunOptions = {}): Promise<TiledRunResult> {
    const threads = this.threadsOf(opts.threads);
    const chosen = await this.choose(model, opts.ep, threads);
    let ep = chosen.ep;
    const m = Math.max(1, model.sizeMultiple);
    const startTile = opts.tile || this.defaults.tile || model.tile;
    let tile = effectiveTiling(startTile, model.overlap, m).tile;
    const floor = Math.max(effectiveTiling(64, model.overlap, m).tile, 2 * effectiveTiling(tile, model.overlap, m).overlap + m);
    const notes: string[] = [];
    for (;;) {
      const session = await this.session(model, ep, threads);
      try {
        const data = await runTiled({
          width: job.width,
          height: job.height,
          inputs: job.inputs,
          scale: model.scale,
          sizeMultiple: m,
          tile,
          overlap: model.overlap,
          passes: opts.passes,
          signal: opts.signal,
          onTile: opts.onTile,
          run: async (feeds) => {
            const r = await session.run(feeds);
            const out = r[model.output];
            if (!out) throw new RestoraError('E_MODEL', `model ${model.id} has no output named ${model.output}`);
            const d = out.data;
            for (let i = 0; i < d.length; i++) {
              // NaN/Inf would be written as black or white pixels without anyone noticing
              if (!Number.isFinite(d[i])) throw new RestoraError('E_MODEL', `model ${model.id} produced invalid values (NaN or infinity) on the ${EP_NAME[ep]}`);
            }
            return d;
          },
        });
        return { data, ep, tile, ...(notes.length ? { note: notes.join('; ') } : {}) };
      } catch (e) {
        if (!isOutOfMemory(e)) throw e instanceof RestoraError ? e : new RestoraError('E_MODEL', `model ${model.id} failed on the ${EP_NAME[ep]} (${describeLoadFailure(ep, e)})`);
        const half = Math.floor(tile / 2 / m) * m;
        if (ep !== 'cpu') {
          await this.rebuild(model, ep, threads);
          if (half >= floor) {
            notes.push(`${EP_NAME[ep]} ran out of memory with ${tile} px tiles; retrying with ${half} px`);
            this.log.push(notes[notes.length - 1]);
            tile = half;
            continue;
          }
          notes.push(`${EP_NAME[ep]} ran out of memory even with ${tile} px tiles; running on the CPU`);
          this.log.push(notes[notes.length - 1]);
          ep = 'cpu';
          tile = effectiveTiling(startTile, model.overlap, m).tile;
          continue;
        }
        if (half >= floor) {
          notes.push(`out of memory with ${tile} px tiles; retrying with ${half} px`);
          this.log.push(notes[notes.length - 1]);
          await this.rebuild(model, 'cpu', threads);
          tile = half;
          continue;
        }
        throw new RestoraError('E_OOM', `not enough memory to run ${model.id}, even with ${tile} px tiles`);
      }
    }
  }

  /** Release every session. */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.probes.clear();
    await Promise.all(all.map((p) => p.then((s) => s.dispose()).catch(() => undefined)));
  }
}
