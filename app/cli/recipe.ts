// `--recipe "denoise:sigma=auto,upscale:scale=2,inpaint:mask=m.png"`: steps separated by commas,
// each a task name followed by `:key=value` parameters (several allowed: `denoise:sigma=25:model=x`;
// every task takes `passes=8`, the self-ensemble; inpaint takes `grain=1`, the photo's grain in the fill).
// A comma inside a mask path is not supported (name the mask file without one).
import path from 'node:path';
import { Recipe, type Passes, type Step } from '../contract/index.ts';
import { UsageError } from './usage.ts';

/** Parse a sigma value: 'auto' or a number on the 0-255 scale (0..100). */
export function parseSigma(v: string, flag = '--sigma'): number | 'auto' {
  if (v === 'auto') return 'auto';
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${flag} must be a number from 0 to 100 (on the 0-255 scale) or "auto", not "${v}"`);
  const n = Number(v);
  if (n < 0 || n > 100) throw new UsageError(`${flag} must be from 0 to 100 (on the 0-255 scale), not ${v}`);
  return n;
}

export function parseScale(v: string, flag = '--scale'): 2 | 4 {
  if (v === '2') return 2;
  if (v === '4') return 4;
  throw new UsageError(`${flag} must be 2 or 4, not "${v}"`);
}

/** Model runs per tile: 1, or 8 (self-ensemble: the 8 rotations and mirrors, averaged). */
export function parsePasses(v: string, flag = '--passes'): Passes {
  if (v === '1') return 1;
  if (v === '8') return 8;
  throw new UsageError(`${flag} must be 1 or 8 (8: each tile runs in its 8 rotations and mirrors, averaged; about 8x the time), not "${v}"`);
}

/** What every task's step takes besides its own parameters: a model id, and passes (a string to parse). */
export function stepOptions(model: string | undefined, passes: string | undefined, passesFlag = '--passes'): { model?: string; passes?: Passes } {
  return { ...(model ? { model } : {}), ...(passes !== undefined ? { passes: parsePasses(passes, passesFlag) } : {}) };
}

export function parseRecipe(text: string, cwd = process.cwd()): Recipe {
  const steps: Step[] = [];
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new UsageError('--recipe is empty; e.g. --recipe "denoise:sigma=auto,upscale:scale=2"');
  for (const part of parts) {
    const [task, ...params] = part.split(':');
    const kv = new Map<string, string>();
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new UsageError(`recipe step "${part}": "${p}" is not key=value`);
      const k = p.slice(0, eq).trim();
      if (kv.has(k)) throw new UsageError(`recipe step "${part}": ${k} is given twice`);
      kv.set(k, p.slice(eq + 1).trim());
    }
    const allowed = (keys: string[]) => {
      for (const k of kv.keys()) if (!keys.includes(k)) throw new UsageError(`recipe step "${part}": unknown parameter "${k}" (${task} takes ${keys.join(', ')})`);
    };
    const extra = stepOptions(kv.get('model'), kv.get('passes'), 'recipe passes');
    if (task === 'denoise') {
      allowed(['sigma', 'model', 'passes']);
      steps.push({ task, sigma: parseSigma(kv.get('sigma') ?? 'auto', 'recipe sigma'), ...extra });
    } else if (task === 'upscale') {
      allowed(['scale', 'model', 'passes']);
      steps.push({ task, scale: parseScale(kv.get('scale') ?? '2', 'recipe scale'), ...extra });
    } else if (task === 'inpaint') {
      allowed(['mask', 'model', 'passes', 'grain']);
      const mask = kv.get('mask');
      if (!mask) throw new UsageError(`recipe step "${part}": inpaint needs mask=FILE (white = fill)`);
      const grain = kv.get('grain');
      if (grain !== undefined && grain !== '0' && grain !== '1') throw new UsageError(`recipe step "${part}": grain must be 1 (match the photo's grain in the fill) or 0, not "${grain}"`);
      steps.push({ task, mask: path.resolve(cwd, mask), ...extra, ...(grain === '1' ? { grain: true } : {}) });
    } else {
      throw new UsageError(`recipe step "${part}": unknown task "${task}" (denoise, upscale or inpaint)`);
    }
  }
  const r = Recipe.safeParse(steps);
  if (!r.success) throw new UsageError(`--recipe: ${r.error.issues[0]?.message ?? 'invalid'} (at most 8 steps)`);
  return r.data;
}
