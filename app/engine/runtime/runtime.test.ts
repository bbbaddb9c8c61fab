import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import { FIXTURE_MODELS, maxAbsDiff, rng } from '../../../test/fixtures/images/make.ts';
import { isOutOfMemory, type BackendSession, type ConcreteEp, type InferenceBackend, type LoadOptions, type ProviderStatus, type TensorData } from './backend.ts';
import { OrtBackend } from './ort-backend.ts';
import { Runtime, type RunnableModel } from './runtime.ts';

const MODEL: RunnableModel = {
  id: 'fake', path: '/models/fake.onnx', scale: 1, sizeMultiple: 4, tile: 256, overlap: 16,
  inputs: [{ name: 'image', role: 'image', channels: 3 }], output: 'output',
};

const OOM = 'Non-zero status code returned while running Conv node. Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 1073741824';

interface FakeOpts {
  providers?: ProviderStatus[];
  loadFails?: Partial<Record<ConcreteEp, string>>;
  /** a GPU session throws an OOM-looking error for tiles wider than this (Infinity: never; 0: always) */
  oomAbove?: Partial<Record<ConcreteEp, number>>;
  /** added to a provider's outputs (to fail the probe) */
  bias?: Partial<Record<ConcreteEp, number>>;
}

/** out = 0.5 * image + 0.25 (+ bias): per-pixel, so tiling never changes it. */
class FakeBackend implements InferenceBackend {
  readonly name = 'fake';
  loads: { ep: ConcreteEp; threads: number }[] = [];
  runs: { ep: ConcreteEp; side: number }[] = [];
  disposed = 0;
  constructor(private readonly o: FakeOpts = {}) {}
  providers(): ProviderStatus[] {
    return this.o.providers ?? [{ ep: 'cuda', present: true }, { ep: 'webgpu', present: true }];
  }
  async load(_p: string, opts: LoadOptions): Promise<BackendSession> {
    const fail = this.o.loadFails?.[opts.ep];
    if (fail) throw new Error(fail);
    this.loads.push({ ep: opts.ep, threads: opts.threads });
    const ep = opts.ep;
    const runs = this.runs;
    const o = this.o;
    const onDispose = () => this.disposed++;
    return {
      ep,
      inputs: [{ name: 'image', dims: ['N', 3, 'H', 'W'], type: 'float32' }],
      outputs: [{ name: 'output', dims: ['N', 3, 'H', 'W'], type: 'float32' }],
      async run(feeds: Record<string, TensorData>) {
        const img = feeds.image;
        runs.push({ ep, side: img.dims[3] });
        const limit = o.oomAbove?.[ep] ?? Infinity;
        if (img.dims[3] > limit) throw new Error(OOM);
        const b = o.bias?.[ep] ?? 0;
        return { output: { data: img.data.map((v) => 0.5 * v + 0.25 + b), dims: img.dims } };
      },
      async dispose() {
        onDispose();
      },
    };
  }
}

function job(w: number, h: number) {
  const r = rng(w + h);
  const data = Float32Array.from({ length: 3 * w * h }, () => r());
  return { width: w, height: h, inputs: { image: { channels: 3, data } }, want: data.map((v) => 0.5 * v + 0.25) };
}

describe('provider choice', () => {
  it('auto falls back to the CPU with the reasons in words', async () => {
    const be = new FakeBackend({
      providers: [{ ep: 'cuda', present: false, reason: 'CUDA add-on not installed; no NVIDIA GPU device' }, { ep: 'webgpu', present: true }],
      loadFails: { webgpu: 'Failed to get a WebGPU adapter: No supported adapters' },
    });
    const rt = new Runtime(be);
    const c = await rt.choose(MODEL, 'auto');
    expect(c.ep).toBe('cpu');
    expect(c.reason).toMatch(/CUDA: CUDA add-on not installed; no NVIDIA GPU device/);
    expect(c.reason).toMatch(/WebGPU: no WebGPU adapter/);
    const info = await rt.info(MODEL, 'auto');
    expect(info).toMatchObject({ requested: 'auto', active: 'cpu', available: ['cpu'] });
    expect(info.fallbackReason).toMatch(/CUDA add-on not installed/);
  });

  it('auto picks the first provider whose probe matches the CPU, probing once per model', async () => {
    const be = new FakeBackend();
    const rt = new Runtime(be);
    expect((await rt.choose(MODEL, 'auto')).ep).toBe('cuda');
    expect((await rt.choose(MODEL, 'auto')).ep).toBe('cuda');
    expect(be.loads.filter((l) => l.ep === 'cuda').length).toBe(1);
    expect(be.loads.filter((l) => l.ep === 'cpu').length).toBe(1);
  });

  it('a provider whose results differ from the CPU is not used', async () => {
    const be = new FakeBackend({ bias: { cuda: 0.1 }, loadFails: { webgpu: 'Failed to get a WebGPU adapter' } });
    const c = await new Runtime(be).choose(MODEL, 'auto');
    expect(c.ep).toBe('cpu');
    expect(c.reason).toMatch(/CUDA: its results differ from the CPU's \(max abs 0\.1000/);
  });

  it('an explicit provider that cannot work is a clear E_MODEL error', async () => {
    const be = new FakeBackend({ providers: [{ ep: 'cuda', present: false, reason: 'CUDA add-on not installed' }] });
    const rt = new Runtime(be);
    await expect(rt.choose(MODEL, 'cuda')).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/^CUDA cannot run here: CUDA add-on not installed\. Use --ep auto/) });
    await expect(rt.choose(MODEL, 'coreml')).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/CoreML cannot run here: not available on this platform/) });
    const info = await rt.info(MODEL, 'cuda');
    expect(info.active).toBe('cpu');
    expect(info.fallbackReason).toMatch(/CUDA: CUDA add-on not installed/);
  });

  it('sessions are cached per (model, provider, threads)', async () => {
    const be = new FakeBackend();
    const rt = new Runtime(be);
    const a = await rt.session(MODEL, 'cpu', 2);
    const b = await rt.session(MODEL, 'cpu', 2);
    const c = await rt.session(MODEL, 'cpu', 1);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(be.loads).toEqual([{ ep: 'cpu', threads: 2 }, { ep: 'cpu', threads: 1 }]);
    await rt.close();
    expect(be.disposed).toBe(2);
  });
});

describe('out-of-memory ladder', () => {
  it('recognises OOM messages of the providers', () => {
    expect(isOutOfMemory(new Error(OOM))).toBe(true);
    expect(isOutOfMemory(new Error('CUDA failure 2: out of memory'))).toBe(true);
    expect(isOutOfMemory(new Error('Got invalid dimensions for input'))).toBe(false);
  });

  it('GPU OOM: rebuild the session and halve the tile until it fits; result unchanged', async () => {
    const be = new FakeBackend({ oomAbove: { cuda: 64 } });
    const rt = new Runtime(be, { ep: 'auto' });
    const j = job(300, 200);
    const r = await rt.runTiled(MODEL, j);
    expect(r.ep).toBe('cuda');
    expect(r.tile).toBe(64);
    expect(maxAbsDiff(r.data, j.want)).toBeLessThan(1e-6);
    // probe session + a rebuild after each of the two OOMs (256 -> 128 -> 64)
    expect(be.loads.filter((l) => l.ep === 'cuda').length).toBe(3);
    expect(be.disposed).toBe(2);
    expect(r.note).toMatch(/CUDA ran out of memory with 256 px tiles; retrying with 128 px; CUDA ran out of memory with 128 px tiles; retrying with 64 px/);
  });

  it('GPU OOM even at the smallest tile: fall back to the CPU', async () => {
    const be = new FakeBackend({ oomAbove: { cuda: 32 } });
    const rt = new Runtime(be);
    const j = job(150, 90);
    const r = await rt.runTiled(MODEL, j);
    expect(r.ep).toBe('cpu');
    expect(r.tile).toBe(256);
    expect(maxAbsDiff(r.data, j.want)).toBeLessThan(1e-6);
    expect(r.note).toMatch(/CUDA ran out of memory even with 64 px tiles; running on the CPU/);
    expect(rt.log.length).toBeGreaterThanOrEqual(3);
  });

  it('CPU OOM at the smallest tile is E_OOM', async () => {
    const be = new FakeBackend({ oomAbove: { cpu: 0 } });
    const rt = new Runtime(be, { ep: 'cpu' });
    await expect(rt.runTiled(MODEL, job(100, 100))).rejects.toMatchObject({ code: 'E_OOM' });
  });

  it('non-finite model output is an E_MODEL error, not a silently black pixel', async () => {
    const be = new FakeBackend({ bias: { cpu: NaN } });
    const rt = new Runtime(be, { ep: 'cpu' });
    await expect(rt.runTiled(MODEL, job(20, 20))).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/produced invalid values \(NaN or infinity\)/) });
  });

  it('other model failures are E_MODEL, not retried', async () => {
    const be = new FakeBackend();
    const rt = new Runtime(be, { ep: 'cpu' });
    const bad = { ...MODEL, output: 'nope' };
    await expect(rt.runTiled(bad, job(40, 40))).rejects.toBeInstanceOf(RestoraError);
    expect(be.runs.length).toBe(1);
  });
});

describe('onnxruntime-node backend on this machine', () => {
  const tiny: RunnableModel = {
    id: 'tiny-denoise', path: path.join(FIXTURE_MODELS, 'tiny-denoise', 'model.onnx'), scale: 1, sizeMultiple: 4, tile: 64, overlap: 16,
    inputs: [{ name: 'image', role: 'image', channels: 3 }, { name: 'sigma', role: 'sigma', channels: 1 }], output: 'output',
  };

  it('lists this build\'s GPU providers with reasons, and auto falls back to the CPU here', async () => {
    const be = new OrtBackend();
    const ps = be.providers();
    if (process.platform === 'linux' && process.arch === 'x64') expect(ps.map((p) => p.ep)).toEqual(['cuda', 'webgpu']);
    const rt = new Runtime(be, { threads: 1 });
    const info = await rt.info(tiny, 'auto');
    expect(info.requested).toBe('auto');
    if (info.active === 'cpu') {
      expect(info.fallbackReason).toMatch(/running on the CPU/);
      // the CUDA add-on is deliberately not installed here (ONNXRUNTIME_NODE_INSTALL=skip)
      const cuda = ps.find((p) => p.ep === 'cuda');
      if (cuda && !cuda.present) expect(info.fallbackReason).toContain(cuda.reason);
    }
    expect(info.threads).toBe(1);
    await rt.close();
  });

  it('runs a real model with a configured thread count', async () => {
    const rt = new Runtime(new OrtBackend(), { ep: 'cpu', threads: 1 });
    const w = 70;
    const h = 50;
    const r = rng(5);
    const image = Float32Array.from({ length: 3 * w * h }, () => r());
    const res = await rt.runTiled(tiny, { width: w, height: h, inputs: { image: { channels: 3, data: image }, sigma: { channels: 1, value: 0.1 } } });
    expect(res.ep).toBe('cpu');
    expect(res.data.length).toBe(3 * w * h);
    expect(res.data.every(Number.isFinite)).toBe(true);
    await rt.close();
  });
});
