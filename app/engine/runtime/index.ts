// Inference: the backend seam, onnxruntime-node behind it, provider choice and the OOM ladder.
export { isOutOfMemory } from './backend.ts';
export type { BackendSession, ConcreteEp, InferenceBackend, LoadOptions, ProviderStatus, TensorData, ValueInfo } from './backend.ts';
export { OrtBackend, platformCandidates } from './ort-backend.ts';
export { Runtime, probeFeeds } from './runtime.ts';
export type { RunnableModel, RuntimeDefaults, TiledJob, TiledRunOptions, TiledRunResult } from './runtime.ts';
