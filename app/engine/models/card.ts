// Model cards: the JSON document beside every model.onnx, checked against models/card.schema.json
// (JSON Schema draft-07, ajv) and then for the few rules a schema cannot say.
import AjvModule, { type ErrorObject } from 'ajv';
import cardSchema from '../../../models/card.schema.json' with { type: 'json' };

export type Role = 'image' | 'sigma' | 'mask';

export interface CardTensor {
  name: string;
  role: Role;
  channels: 1 | 3;
  layout: 'NCHW';
  range: [number, number];
  dtype: 'float32';
}

/**
 * A denoiser's noise-level estimator (card.json `estimator`): an ONNX file beside the model,
 * input `input` (N,3,H,W) RGB [0,1], H and W multiples of `size_multiple`; output `output` (N,1),
 * the noise std on the [0,1] scale. Used for sigma 'auto' (app/engine/pipelines/estimator.ts).
 */
export interface CardEstimator {
  file: string;
  sha256: string;
  input: string;
  output: string;
  crop: number;
  crops: number;
  size_multiple: number;
  description?: string;
  architecture?: string;
  params?: number;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/**
 * A denoiser's net for strengths above the noise (card.json `above_noise`): an ONNX file beside the
 * model with the model's inputs and output, trained with noise maps above the noise a crop carries.
 * The engine runs it instead of the model when a manual sigma is more than `from_ratio` times what
 * the card's estimator reads on the image (app/engine/pipelines/index.ts).
 */
export interface CardAboveNoise {
  file: string;
  sha256: string;
  from_ratio: number;
  description?: string;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** A model card (snake_case as in card.json). */
export interface ModelCard {
  id: string;
  name: string;
  task: 'denoise' | 'upscale' | 'inpaint';
  version: string;
  scale: number;
  file?: string;
  sha256?: string;
  inputs: CardTensor[];
  outputs: CardTensor[];
  size_multiple: number;
  tiling: { tile: number; overlap: number };
  fp16_safe: boolean;
  color_space: 'sRGB';
  license: string;
  architecture: string;
  params?: number;
  macs_per_pixel?: number;
  training?: { data?: string | string[]; steps?: number; hours?: number; hardware?: string; [k: string]: unknown };
  metrics?: Record<string, number>;
  description?: string;
  source?: string;
  estimator?: CardEstimator;
  above_noise?: CardAboveNoise;
}

// ajv is CommonJS; under NodeNext its default export arrives as the module object
type AjvCtor = new (o: { allErrors: boolean; strict: boolean }) => { compile(s: object): ((d: unknown) => boolean) & { errors?: ErrorObject[] | null } };
const Ajv = ((AjvModule as unknown as { default?: AjvCtor }).default ?? AjvModule) as unknown as AjvCtor;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(cardSchema);

export { cardSchema };

/**
 * Check a parsed card.json. Returns the card, or the reasons it is invalid (schema errors as
 * "path: message", then semantic rules: one 3-channel image input, sigma only for denoise, a mask
 * for inpaint, scale 1 unless upscaling, a 3-channel output, an estimator only for a denoiser, an
 * above-noise net only for a denoiser with an estimator).
 */
export function validateCard(json: unknown): { ok: true; card: ModelCard } | { ok: false; reasons: string[] } {
  if (!validateSchema(json)) {
    const reasons = (validateSchema.errors ?? []).map((e: ErrorObject) => {
      const where = e.instancePath || '(card)';
      const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty?: string }).additionalProperty})` : e.keyword === 'enum' ? ` (${(e.params as { allowedValues?: unknown[] }).allowedValues?.join(', ')})` : '';
      return `${where}: ${e.message ?? 'invalid'}${extra}`;
    });
    return { ok: false, reasons };
  }
  const card = json as ModelCard;
  const reasons: string[] = [];
  const images = card.inputs.filter((i) => i.role === 'image');
  if (images.length !== 1 || images[0].channels !== 3) reasons.push('inputs: needs exactly one image input with 3 channels');
  for (const i of card.inputs) if (i.role !== 'image' && i.channels !== 1) reasons.push(`inputs: ${i.role} input ${i.name} must have 1 channel`);
  const roles = card.inputs.map((i) => i.role);
  if (new Set(card.inputs.map((i) => i.name)).size !== card.inputs.length) reasons.push('inputs: names must be unique');
  if (roles.includes('sigma') && card.task !== 'denoise') reasons.push('inputs: a sigma input only makes sense for a denoiser');
  if (card.task === 'inpaint' && !roles.includes('mask')) reasons.push('inputs: an inpainter needs a mask input');
  if (roles.includes('mask') && card.task !== 'inpaint') reasons.push('inputs: a mask input only makes sense for an inpainter');
  if (card.task === 'upscale' ? card.scale < 2 : card.scale !== 1) reasons.push(`scale: ${card.scale} does not fit task ${card.task}`);
  if (card.outputs[0].channels !== 3 || card.outputs[0].role !== 'image') reasons.push('outputs: the output must be a 3-channel image');
  if (card.tiling.overlap * 2 >= card.tiling.tile) reasons.push('tiling: overlap must be less than half the tile');
  if (card.estimator && card.task !== 'denoise') reasons.push('estimator: a noise estimator only makes sense for a denoiser');
  // (compared without case: on macOS and Windows Model.onnx is model.onnx)
  const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
  if (card.estimator && same(card.estimator.file, card.file ?? 'model.onnx')) reasons.push('estimator: its file must not be the model file');
  const above = card.above_noise;
  if (above && (card.task !== 'denoise' || !roles.includes('sigma'))) reasons.push('above_noise: only a denoiser with a sigma input can have a net for strengths above the noise');
  if (above && !card.estimator) reasons.push('above_noise: needs the estimator, whose reading tells when a strength is above the noise');
  if (above && (same(above.file, card.file ?? 'model.onnx') || same(above.file, card.estimator?.file))) reasons.push('above_noise: its file must not be the model file or the estimator file');
  return reasons.length ? { ok: false, reasons } : { ok: true, card };
}

/** "a denoise", "an upscale", "an inpaint": the article a task's name takes in a sentence. */
export function aOrAn(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}
