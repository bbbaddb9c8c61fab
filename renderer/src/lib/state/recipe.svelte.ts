// The recipe being edited: a chain of steps (denoise, upscale, inpaint) run in one pass per photo.
import type { DraftStep, ModelInfo, Preset, Recipe, Step } from '../../../../app/contract/index.ts';
import { draftFromStep, newStep, recipeKey, recipeProblem, toRecipe, type StepDraft } from '../recipe.ts';

export interface SavedMask {
  /** the mask file the engine reads (white = fill) */
  path: string;
  /** the photo it was painted on */
  forPath: string;
  /** bumped on every save that changes it (the file name stays the same): previews and results of an older mask are stale */
  version: number;
  /** of the file's bytes: a save of the very same mask keeps the version (nothing done with it is stale) */
  sha256?: string;
}

export class RecipeState {
  steps = $state<StepDraft[]>([newStep('denoise')]);
  mask = $state<SavedMask | null>(null);
  /** the engine's models once listed (AppModel sets it), so that a step no model runs is a problem before Run */
  modelsOf: () => ModelInfo[] | undefined = () => undefined;
  problem = $derived(recipeProblem(this.steps, this.mask?.path, this.modelsOf()));
  recipe = $derived.by((): Recipe | null => {
    if (this.problem) return null;
    try {
      return toRecipe(this.steps, this.mask?.path);
    } catch {
      return null;
    }
  });

  add(task: Step['task']): void {
    if (this.steps.length >= 8) return;
    // upscaling last keeps the other steps on fewer pixels; so a new step goes before the upscales
    const s = newStep(task);
    if (task !== 'upscale') {
      const firstUp = this.steps.findIndex((d) => d.task === 'upscale');
      if (firstUp >= 0) {
        this.steps.splice(firstUp, 0, s);
        return;
      }
    }
    this.steps.push(s);
  }

  remove(id: number): void {
    this.steps = this.steps.filter((s) => s.id !== id);
  }

  move(id: number, delta: -1 | 1): void {
    const i = this.steps.findIndex((s) => s.id === id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= this.steps.length) return;
    const next = [...this.steps];
    [next[i], next[j]] = [next[j], next[i]];
    this.steps = next;
  }

  set(steps: (Step | DraftStep)[]): void {
    this.steps = steps.map(draftFromStep);
  }

  applyPreset(p: Preset): void {
    this.set(p.recipe);
    // a preset made with a mask (a watermark in the same place on every photo) brings it along
    const inpaint = p.recipe.find((s) => s.task === 'inpaint');
    if (inpaint && inpaint.task === 'inpaint' && !this.mask) this.mask = { path: inpaint.mask, forPath: '', version: 0 };
  }

  /** Same key, same pixels: the recipe and the version of the mask it reads. */
  key(): string {
    const r = this.recipe;
    return r ? this.keyFor(r) : '';
  }

  keyFor(r: Recipe): string {
    const mask = r.find((s) => s.task === 'inpaint');
    // the mask file keeps its name when repainted: the version tells the paintings apart
    return mask && mask.task === 'inpaint' && mask.mask === this.mask?.path ? `${recipeKey(r)}#mask${this.mask.version}` : recipeKey(r);
  }

  hasInpaint(): boolean {
    return this.steps.some((s) => s.task === 'inpaint');
  }
}
