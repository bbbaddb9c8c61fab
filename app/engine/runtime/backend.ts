// The seam between the engine and an inference library (onnxruntime's own backend split): the
// engine only talks to an InferenceBackend; onnxruntime-node is one implementation
// (ort-backend.ts), tests use fakes.
import type { ExecutionProvider } from '../../contract/index.ts';

/** An execution provider that can actually run ('auto' is resolved before a backend sees it). */
export type ConcreteEp = Exclude<ExecutionProvider, 'auto'>;

/** A float32 tensor, row-major; for our models NCHW with N = 1. */
export interface TensorData {
  data: Float32Array;
  dims: number[];
}

/** Input/output metadata as the model declares it; symbolic dimensions are strings. */
export interface ValueInfo {
  name: string;
  dims: (number | string)[];
  type: string; // 'float32', 'float16', 'int64' ...
}

export interface BackendSession {
  readonly ep: ConcreteEp;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** Run once. Feeds and results are keyed by tensor name. */
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  ep: ConcreteEp;
  /** intra-op threads; 0 lets the runtime choose (physical cores). */
  threads: number;
  /** quieter logging, used while probing providers that are expected to fail. */
  quiet?: boolean;
}

/** Whether the build has a provider and, if it certainly cannot work here, why (in words). */
export interface ProviderStatus {
  ep: ConcreteEp;
  present: boolean;
  reason?: string;
}

export interface InferenceBackend {
  readonly name: string;
  /** The GPU providers worth trying on this platform, in preference order, with prechecks. */
  providers(): ProviderStatus[];
  /** Build a session. Throws (any error) when the model or the provider cannot be used. */
  load(modelPath: string, opts: LoadOptions): Promise<BackendSession>;
}

/** Errors that mean "this tile did not fit in (GPU) memory" across providers. */
export function isOutOfMemory(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /out of memory|failed to allocate|bfc_?arena|cuda_?error_?out_?of_?memory|cudaErrorMemoryAllocation|CUDNN_STATUS_ALLOC_FAILED|std::bad_alloc|E_OUTOFMEMORY|DXGI_ERROR_DEVICE_REMOVED|not enough memory|\bOOM\b/i.test(msg);
}
