import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../../app/contract/index.ts';
import { describeRecipe, draftFromStep, estimatedSigma, modelsFor, newStep, recipeKey, recipeProblem, recipeScale, sigmaToStrength, strengthLevels, strengthToSigma, toRecipe } from './recipe.ts';

describe('recipe', () => {
  it('maps the strength slider 0-100 onto sigma 0-50 and back', () => {
    expect(strengthToSigma(0)).toBe(0);
    expect(strengthToSigma(50)).toBe(25);
    expect(strengthToSigma(100)).toBe(50);
    expect(strengthToSigma(150)).toBe(50);
    expect(sigmaToStrength(15)).toBe(30);
  });

  it('builds a chained recipe the contract accepts (denoise then upscale x2)', () => {
    const d = newStep('denoise');
    const u = newStep('upscale');
    if (d.task === 'denoise') {
      d.auto = false;
      d.strength = 30;
    }
    const r = toRecipe([d, u], undefined);
    expect(r).toEqual([
      { task: 'denoise', sigma: 15 },
      { task: 'upscale', scale: 2 },
    ]);
    expect(describeRecipe(r)).toBe('Denoise σ 15 → Upscale ×2');
    expect(recipeScale(r)).toBe(2);
  });

  it('inpaint needs a mask; an empty recipe says what to do', () => {
    expect(recipeProblem([], undefined)).toMatch(/Add a step/);
    expect(recipeProblem([newStep('inpaint')], undefined)).toMatch(/mask/);
    expect(recipeProblem([newStep('inpaint')], '/m.png')).toBeUndefined();
    expect(toRecipe([newStep('inpaint')], '/m.png')).toEqual([{ task: 'inpaint', mask: '/m.png' }]);
  });

  it('a step that no installed model runs is a problem before Run (once the models are known)', () => {
    const m = (id: string, task: ModelInfo['task'], scale = 1) => ({ id, task, scale, name: id, source: 'bundled', architecture: '', license: 'MIT', metrics: {} }) as ModelInfo;
    const models = [m('d', 'denoise'), m('u2', 'upscale', 2)];
    const up4 = { ...newStep('upscale'), scale: 4 as const };
    expect(recipeProblem([newStep('denoise'), newStep('upscale')], undefined, models)).toBeUndefined();
    expect(recipeProblem([newStep('denoise'), up4], undefined, models)).toBe('No ×4 upscale model is installed: `restora models` lists what is there.');
    expect(recipeProblem([newStep('denoise')], undefined, [])).toBe('No denoise model is installed (no models at all): `restora models` lists what is there.');
    expect(recipeProblem([newStep('denoise'), up4], undefined, undefined)).toBeUndefined(); // not listed yet: no verdict
    expect(recipeProblem([{ ...newStep('denoise'), model: 'my-denoise' }], undefined, models)).toBe('The model my-denoise chosen for the denoise step is not installed: choose another in the step.');
    expect(recipeProblem([{ ...newStep('denoise'), model: 'd' }], undefined, models)).toBeUndefined();
  });

  it('best quality is 8 passes of the step: off by default, kept by presets, named in the description', () => {
    expect(newStep('upscale')).toMatchObject({ best: false });
    const d = newStep('denoise');
    d.best = true;
    const r = toRecipe([d, newStep('upscale')], undefined);
    expect(r).toEqual([{ task: 'denoise', sigma: 'auto', passes: 8 }, { task: 'upscale', scale: 2 }]);
    expect(describeRecipe(r)).toBe('Denoise (auto), 8 passes → Upscale ×2');
    expect(draftFromStep(r[0])).toMatchObject({ task: 'denoise', auto: true, best: true });
    expect(draftFromStep(r[1])).toMatchObject({ task: 'upscale', best: false });
  });

  it('match grain on an inpaint step: off by default, kept by presets, named in the description and the cache key', () => {
    const d = newStep('inpaint');
    expect(d).toMatchObject({ grain: false });
    const plain = toRecipe([d], '/m.png');
    if (d.task === 'inpaint') d.grain = true;
    const r = toRecipe([d], '/m.png');
    expect(r).toEqual([{ task: 'inpaint', mask: '/m.png', grain: true }]);
    expect(describeRecipe(r)).toBe('Inpaint, grain matched');
    expect(recipeKey(r)).not.toBe(recipeKey(plain)); // a rerun with grain is a new result, not the old one
    expect(draftFromStep(r[0])).toMatchObject({ task: 'inpaint', grain: true });
    expect(draftFromStep(plain[0])).toMatchObject({ task: 'inpaint', grain: false });
  });

  it('round-trips presets and picks models by task and scale', () => {
    const back = draftFromStep({ task: 'denoise', sigma: 25, model: 'dn' });
    expect(back).toMatchObject({ task: 'denoise', auto: false, strength: 50, model: 'dn', best: false });
    const models = [
      { id: 'a', task: 'upscale', scale: 2 },
      { id: 'b', task: 'upscale', scale: 4 },
      { id: 'c', task: 'denoise', scale: 1 },
    ] as ModelInfo[];
    const up4 = newStep('upscale');
    if (up4.task === 'upscale') up4.scale = 4;
    expect(modelsFor(models, up4).map((m) => m.id)).toEqual(['b']);
    expect(modelsFor(models, newStep('denoise')).map((m) => m.id)).toEqual(['c']);
  });
});

describe('estimatedSigma', () => {
  it('is the level Auto chose for the last result, not a given one', () => {
    expect(estimatedSigma([{ task: 'denoise', sigma: 4.3, sigmaBy: 'estimator' }, { task: 'upscale' }])).toBe(4.3);
    expect(estimatedSigma([{ task: 'denoise', sigma: 15, sigmaBy: 'given' }])).toBeUndefined();
    expect(estimatedSigma([{ task: 'upscale' }])).toBeUndefined();
    expect(estimatedSigma(undefined)).toBeUndefined();
  });
});

describe('strengthLevels', () => {
  it('spreads around the level Auto read, on the slider grid', () => {
    expect(strengthLevels(8.13)).toEqual([4, 8, 12, 16]); // from the reading as shown, 8.1
    expect(strengthLevels(30)).toEqual([15, 30, 45, 50]); // the slider ends at σ 50
    expect(strengthLevels(50)).toEqual([25, 50]);
    // a nearly clean photo: steps that show a difference
    expect(strengthLevels(0)).toEqual([0, 2, 5, 10]);
    expect(strengthLevels(3.2)).toEqual([3, 5, 8, 13]);
    expect(strengthLevels(3.98)).toEqual([2, 4, 6, 8]); // shown as σ 4.0: the levels of 4
    for (const b of [0, 1.7, 4, 9.9, 22, 47]) for (const s of strengthLevels(b)) expect(strengthToSigma(sigmaToStrength(s))).toBe(s);
  });
});
