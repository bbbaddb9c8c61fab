// onnxruntime-node behind the InferenceBackend interface. Note: the Node binding runs inference
// synchronously on the calling thread (after a setImmediate), so the engine must live in a
// utility process or worker, never in Electron's main process.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { BackendSession, ConcreteEp, InferenceBackend, LoadOptions, ProviderStatus, TensorData, ValueInfo } from './backend.ts';

const require = createRequire(import.meta.url);

/** Folder holding onnxruntime-node's native binding and provider libraries. */
function bindingDir(): string | undefined {
  try {
    const main = require.resolve('onnxruntime-node');
    const arch = process.arch;
    const platform = process.platform;
    const root = path.resolve(path.dirname(main), '..', 'bin');
    for (const napi of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      const d = path.join(root, napi, platform, arch);
      if (fs.existsSync(d)) return d;
    }
  } catch {
    // packaged layouts may differ; prechecks then say less
  }
  return undefined;
}

function nvidiaDevicePresent(): boolean {
  if (process.platform === 'linux') return fs.existsSync('/dev/nvidiactl') || fs.existsSync('/proc/driver/nvidia/version');
  return true; // Windows: cannot tell cheaply; the probe decides
}

/** Linux: a GPU shows up as a DRM render node or an NVIDIA device; without one, only software Vulkan exists. */
function linuxGpuPresent(): boolean {
  try {
    if (fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch {
    // no /dev/dri
  }
  return fs.existsSync('/dev/nvidiactl');
}

function cudaAddonPresent(dir: string | undefined): boolean {
  if (!dir) return true;
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return fs.existsSync(path.join(dir, lib));
}

/** GPU providers in preference order for this platform (CPU is always the fallback). */
export function platformCandidates(platform = process.platform, arch = process.arch): ConcreteEp[] {
  if (platform === 'darwin') return ['coreml', 'webgpu'];
  if (platform === 'win32') return arch === 'x64' ? ['cuda', 'dml', 'webgpu'] : ['dml', 'webgpu'];
  if (platform === 'linux') return arch === 'x64' ? ['cuda', 'webgpu'] : ['webgpu'];
  return ['webgpu'];
}

class OrtSession implements BackendSession {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  constructor(
    private readonly s: ort.InferenceSession,
    readonly ep: ConcreteEp,
  ) {
    const meta = (list: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] =>
      list.map((m) => ('shape' in m && m.isTensor ? { name: m.name, dims: [...m.shape], type: String(m.type) } : { name: m.name, dims: [], type: 'non-tensor' }));
    this.inputs = meta(s.inputMetadata);
    this.outputs = meta(s.outputMetadata);
  }

  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
    const r = await this.s.run(f);
    const out: Record<string, TensorData> = {};
    for (const [k, v] of Object.entries(r)) {
      if (v.type !== 'float32') throw new Error(`output ${k} is ${v.type}, expected float32`);
      out[k] = { data: v.data as Float32Array, dims: [...v.dims] };
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.s.release();
  }
}

export class OrtBackend implements InferenceBackend {
  readonly name = 'onnxruntime-node';
  private readonly dir = bindingDir();

  providers(): ProviderStatus[] {
    const listed = new Map(ort.listSupportedBackends().map((b) => [b.name, b]));
    return platformCandidates().map((ep): ProviderStatus => {
      const b = listed.get(ep);
      if (!b) return { ep, present: false, reason: `not included in this onnxruntime-node build` };
      if (ep === 'cuda') {
        const why: string[] = [];
        if (!cudaAddonPresent(this.dir)) why.push('CUDA add-on not installed (onnxruntime-node downloads it at install time; it was skipped or offline)');
        if (!nvidiaDevicePresent()) why.push('no NVIDIA GPU device');
        if (why.length) return { ep, present: false, reason: why.join('; ') };
      }
      // probing WebGPU with no GPU would only find a software Vulkan driver (and print native warnings)
      if (ep === 'webgpu' && process.platform === 'linux' && !linuxGpuPresent()) return { ep, present: false, reason: 'no GPU device (no /dev/dri render node or NVIDIA device)' };
      return { ep, present: true };
    });
  }

  async load(modelPath: string, opts: LoadOptions): Promise<BackendSession> {
    const ep = opts.ep;
    const provider: ort.InferenceSession.ExecutionProviderConfig = ep === 'cuda' ? { name: 'cuda', deviceId: 0 } : ep;
    const s = await ort.InferenceSession.create(modelPath, {
      executionProviders: [provider],
      ...(opts.threads > 0 ? { intraOpNumThreads: opts.threads } : {}),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      enableMemPattern: false, // tile shapes vary between images; patterns only waste memory
      enableCpuMemArena: true,
      logSeverityLevel: opts.quiet ? 4 : 3,
    });
    return new OrtSession(s, ep);
  }
}
