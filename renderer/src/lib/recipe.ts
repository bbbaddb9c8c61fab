// The recipe editor's model: the steps as the UI shows them, and the Recipe the engine runs.
import { Recipe, type DraftStep, type ModelInfo, type Step } from '../../../app/contract/index.ts';

/** The strength slider runs 0-100; the denoiser's noise level is sigma 0-50 on the 0-255 scale. */
export const SIGMA_MAX = 50;

export function strengthToSigma(strength: number): number {
  const s = Math.min(100, Math.max(0, strength));
  return Math.round(((s / 100) * SIGMA_MAX) * 10) / 10;
}

/** The noise level Auto chose for a photo's last result (undefined when it has none), by the denoiser `model` if one is named. */
export function estimatedSigma(steps: readonly { task: string; model?: string; sigma?: number; sigmaBy?: string }[] | undefined, model = ''): number | undefined {
  const s = steps?.find((x) => x.task === 'denoise' && x.sigma !== undefined && x.sigmaBy !== undefined && x.sigmaBy !== 'given' && (!model || x.model === model));
  return s?.sigma;
}

export function sigmaToStrength(sigma: number): number {
  return Math.round((Math.min(SIGMA_MAX, Math.max(0, sigma)) / SIGMA_MAX) * 100);
}

/**
 * `best`: run the step as a self-ensemble (passes 8: about 8x the time, a little cleaner).
 * `grain` (inpaint): give the fill the photo's own grain, copied from around the hole.
 */
export type StepDraft =
  | { id: number; task: 'denoise'; auto: boolean; strength: number; model: string; best: boolean }
  | { id: number; task: 'upscale'; scale: 2 | 4; model: string; best: boolean }
  | { id: number; task: 'inpaint'; model: string; best: boolean; grain: boolean };

let nextId = 1;

export function newStep(task: Step['task']): StepDraft {
  const id = nextId++;
  if (task === 'denoise') return { id, task, auto: true, strength: 50, model: '', best: false };
  if (task === 'upscale') return { id, task, scale: 2, model: '', best: false };
  return { id, task, model: '', best: false, grain: false };
}

/**
 * The noise levels "Compare strengths" shows around `base` (Auto's reading for the photo, or the
 * slider's σ): half, the same, 1.5x and twice, or for a nearly clean photo (below σ 4, where those
 * would hardly differ) base, +2, +5 and +10; each on the slider's grid (σ in steps of 0.5, at most 50),
 * without repeats.
 */
export function strengthLevels(reading: number): number[] {
  const base = Math.round(reading * 10) / 10; // as the reading is shown (σ 3.98 is "4.0")
  const raw = base >= 4 ? [0.5, 1, 1.5, 2].map((k) => k * base) : [base, base + 2, base + 5, base + 10];
  return [...new Set(raw.map((s) => strengthToSigma(sigmaToStrength(s))))];
}

/** The editor's draft of a step (a saved recipe, a preset, the work kept from last time). */
export function draftFromStep(step: Step | DraftStep): StepDraft {
  const id = nextId++;
  const model = step.model ?? '';
  const best = step.passes === 8;
  if (step.task === 'denoise') {
    const auto = step.sigma === 'auto' || step.sigma === undefined;
    return { id, task: 'denoise', auto, strength: auto ? 50 : sigmaToStrength(step.sigma as number), model, best };
  }
  if (step.task === 'upscale') return { id, task: 'upscale', scale: step.scale, model, best };
  return { id, task: 'inpaint', model, best, grain: step.grain === true };
}

/** Why a recipe cannot run yet, in words; undefined when it can. */
export function recipeProblem(drafts: StepDraft[], maskPath: string | undefined, models?: ModelInfo[]): string | undefined {
  if (drafts.length === 0) return 'Add a step: denoise, upscale or inpaint.';
  if (drafts.length > 8) return 'A recipe has at most 8 steps.';
  // the models known (once the engine has listed them): a step no model can run is said before Run, not per photo
  const missing = models ? drafts.find((d) => modelsFor(models, d).length === 0) : undefined;
  if (missing) return `No ${missing.task === 'upscale' ? `×${missing.scale} upscale` : missing.task} model is installed${models!.length ? '' : ' (no models at all)'}: \`restora models\` lists what is there.`;
  // a step that names its model (a preset made with a model added since removed)
  const gone = models ? drafts.find((d) => d.model && !modelsFor(models, d).some((m) => m.id === d.model)) : undefined;
  if (gone) return `The model ${gone.model} chosen for the ${gone.task === 'upscale' ? `×${gone.scale} upscale` : gone.task} step is not installed: choose another in the step.`;
  if (drafts.some((d) => d.task === 'inpaint') && !maskPath) return 'Inpaint needs a mask: paint one in the Mask view first.';
  return undefined;
}

/** The steps as the engine names them, an Inpaint step without its mask (kept with the window's work). */
export function draftSteps(drafts: StepDraft[]): DraftStep[] {
  return drafts.map((d) => {
    const model = { ...(d.model ? { model: d.model } : {}), ...(d.best ? { passes: 8 as const } : {}) };
    if (d.task === 'denoise') return { task: 'denoise', sigma: d.auto ? 'auto' : strengthToSigma(d.strength), ...model };
    if (d.task === 'upscale') return { task: 'upscale', scale: d.scale, ...model };
    return { task: 'inpaint', ...model, ...(d.grain ? { grain: true } : {}) };
  });
}

/** The Recipe for the engine; the inpaint steps use the saved mask at `maskPath`. */
export function toRecipe(drafts: StepDraft[], maskPath: string | undefined): Recipe {
  return Recipe.parse(draftSteps(drafts).map((s) => (s.task === 'inpaint' ? { ...s, mask: maskPath ?? '' } : s)));
}

export function describeStep(s: Step): string {
  const base = s.task === 'denoise' ? (s.sigma === 'auto' || s.sigma === undefined ? 'Denoise (auto)' : `Denoise σ ${s.sigma}`) : s.task === 'upscale' ? `Upscale ×${s.scale}` : s.grain ? 'Inpaint, grain matched' : 'Inpaint';
  return s.passes === 8 ? `${base}, 8 passes` : base;
}

export function describeRecipe(r: Recipe): string {
  return r.map(describeStep).join(' → ');
}

/** Models that can run a step: same task, and for upscale the same scale. */
export function modelsFor(models: ModelInfo[], d: { task: StepDraft['task']; scale?: number }): ModelInfo[] {
  return models.filter((m) => m.task === d.task && (d.task !== 'upscale' || m.scale === d.scale));
}

/** The model a step runs: the one it names, else the first that fits (the engine's default, bundled first). */
export function modelOf(models: ModelInfo[], d: { task: StepDraft['task']; scale?: number; model?: string }): ModelInfo | undefined {
  return d.model ? models.find((m) => m.id === d.model) : modelsFor(models, d)[0];
}

/** Total scale of a recipe (the output is this many times larger). */
export function recipeScale(r: Recipe): number {
  return r.reduce((s, step) => (step.task === 'upscale' ? s * step.scale : s), 1);
}

/** A stable key for caching previews: same key, same pixels. */
export function recipeKey(r: Recipe): string {
  return JSON.stringify(r);
}
