// Model cards, the registry, and inspection of users' models.
export { validateCard, cardSchema } from './card.ts';
export type { ModelCard, CardEstimator, CardTensor, Role } from './card.ts';
export { ModelRegistry, toModelInfo, toRunnable } from './registry.ts';
export type { ModelEntry, SkippedCard } from './registry.ts';
export { inspectModel, installModel, MAX_MODEL_BYTES } from './inspect.ts';
export { scanOnnx, OnnxFormatError } from './onnx-proto.ts';
export type { OnnxScan } from './onnx-proto.ts';
