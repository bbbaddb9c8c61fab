// The one model registry: bundled models (<modelsDir>/<id>/card.json + model.onnx) and the user's
// models folder, every card schema-checked. A bad card is skipped with a reason (see `skipped`),
// never a crash. Default model of a task (and scale): bundled before user, then by id.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RestoraError, type ModelInfo, type Task } from '../../contract/index.ts';
import type { RunnableModel } from '../runtime/runtime.ts';
import { aOrAn, validateCard, type ModelCard } from './card.ts';

export interface ModelEntry {
  card: ModelCard;
  dir: string;
  file: string; // absolute path of the .onnx
  source: 'bundled' | 'user';
}

export interface SkippedCard {
  path: string;
  reason: string;
}

/** Engine-facing view of a card. */
export function toModelInfo(e: ModelEntry): ModelInfo {
  const c = e.card;
  return {
    id: c.id,
    task: c.task,
    name: c.name,
    scale: c.scale,
    source: e.source,
    architecture: c.architecture,
    ...(c.params !== undefined ? { params: c.params } : {}),
    ...(c.macs_per_pixel !== undefined ? { macsPerPixel: c.macs_per_pixel } : {}),
    license: c.license,
    metrics: c.metrics ?? {},
    ...(c.description ? { description: c.description } : {}),
    ...(c.above_noise ? { aboveNoiseFrom: c.above_noise.from_ratio } : {}),
  };
}

/** Runtime-facing view of a card (tensor names, roles, scale, padding and tiling advice). */
export function toRunnable(e: ModelEntry): RunnableModel {
  const c = e.card;
  return {
    id: c.id,
    path: e.file,
    scale: c.scale,
    sizeMultiple: c.size_multiple,
    tile: c.tiling.tile,
    overlap: c.tiling.overlap,
    inputs: c.inputs.map((i) => ({ name: i.name, role: i.role, channels: i.channels })),
    output: c.outputs[0].name,
  };
}

export class ModelRegistry {
  private entries: ModelEntry[] = [];
  skipped: SkippedCard[] = [];
  private readonly verified = new Map<string, Promise<void>>();

  constructor(readonly dirs: { bundled?: string; user?: string }) {
    this.reload();
  }

  /** Rescan both folders. */
  reload(): void {
    this.entries = [];
    this.skipped = [];
    const seen = new Set<string>();
    for (const source of ['bundled', 'user'] as const) {
      const root = this.dirs[source];
      if (!root || !fs.existsSync(root)) continue;
      let names: string[];
      try {
        names = fs.readdirSync(root).sort();
      } catch (e) {
        this.skipped.push({ path: root, reason: `cannot read the folder (${(e as NodeJS.ErrnoException).code ?? e})` });
        continue;
      }
      for (const name of names) {
        const dir = path.join(root, name);
        const cardPath = path.join(dir, 'card.json');
        if (!fs.existsSync(cardPath)) continue; // not a model folder
        let json: unknown;
        try {
          json = JSON.parse(fs.readFileSync(cardPath, 'utf8'));
        } catch (e) {
          this.skipped.push({ path: cardPath, reason: `card.json is not valid JSON (${e instanceof Error ? e.message : e})` });
          continue;
        }
        const v = validateCard(json);
        if (!v.ok) {
          this.skipped.push({ path: cardPath, reason: `card.json does not match the schema: ${v.reasons.slice(0, 4).join('; ')}` });
          continue;
        }
        const card = v.card;
        const file = path.join(dir, card.file ?? 'model.onnx');
        if (!fs.existsSync(file)) {
          this.skipped.push({ path: cardPath, reason: `${path.basename(file)} is missing beside card.json` });
          continue;
        }
        if (seen.has(card.id)) {
          this.skipped.push({ path: cardPath, reason: `another model already has the id ${card.id}` });
          continue;
        }
        seen.add(card.id);
        this.entries.push({ card, dir, file, source });
      }
    }
  }

  all(): ModelEntry[] {
    return [...this.entries];
  }

  list(): ModelInfo[] {
    return this.entries.map(toModelInfo);
  }

  get(id: string): ModelEntry | undefined {
    return this.entries.find((e) => e.card.id === id);
  }

  /**
   * The model for a recipe step: `id` when given (checked against the task/scale), else the
   * default for (task, scale): bundled before user, then by id. Throws E_MODEL with a sentence.
   */
  pick(task: Task, scale?: number, id?: string): ModelEntry {
    if (id) {
      const e = this.get(id);
      if (!e) throw new RestoraError('E_MODEL', `there is no model named ${id} (\`restora models\` lists them)`);
      if (e.card.task !== task) throw new RestoraError('E_MODEL', `model ${id} is ${aOrAn(e.card.task)} model, not ${aOrAn(task)} model`);
      if (scale !== undefined && task === 'upscale' && e.card.scale !== scale) throw new RestoraError('E_MODEL', `model ${id} upscales x${e.card.scale}, not x${scale}`);
      return e;
    }
    const ok = this.entries.filter((e) => e.card.task === task && (task !== 'upscale' || scale === undefined || e.card.scale === scale));
    if (!ok.length) {
      const what = task === 'upscale' && scale ? `x${scale} upscale` : task;
      throw new RestoraError('E_MODEL', `no ${what} model is installed`);
    }
    return ok.sort((a, b) => (a.source === b.source ? a.card.id.localeCompare(b.card.id) : a.source === 'bundled' ? -1 : 1))[0];
  }

  /** Check the model file against the card's sha256 (once per file and mtime). */
  verify(e: ModelEntry): Promise<void> {
    if (!e.card.sha256) return Promise.resolve();
    return this.checkFile(e.file, e.card.sha256, {
      missing: `model ${e.card.id}: ${path.basename(e.file)} is missing`,
      unreadable: (why) => `model ${e.card.id} cannot be read (${why})`,
      damaged: `model ${e.card.id} is damaged: its file does not match the sha256 in its card; reinstall it`,
    });
  }

  /** The absolute path of a denoiser's noise estimator (card `estimator.file`), if it declares one. */
  estimatorFile(e: ModelEntry): string | undefined {
    return e.card.estimator ? path.join(e.dir, e.card.estimator.file) : undefined;
  }

  /**
   * Check a denoiser's noise estimator file against `estimator.sha256` (once per file and mtime),
   * as `verify` checks the model file. E_MODEL naming the file when it is missing or differs.
   */
  verifyEstimator(e: ModelEntry): Promise<void> {
    const est = e.card.estimator;
    if (!est) return Promise.resolve();
    const file = path.join(e.dir, est.file);
    return this.checkFile(file, est.sha256, {
      missing: `model ${e.card.id}: its noise estimator ${est.file} is missing beside card.json; reinstall the model`,
      unreadable: (why) => `model ${e.card.id}: its noise estimator ${est.file} cannot be read (${why})`,
      damaged: `model ${e.card.id} is damaged: its noise estimator ${est.file} does not match the sha256 in its card; reinstall it`,
    });
  }

  /** The absolute path of a denoiser's net for strengths above the noise (card `above_noise.file`), if it declares one. */
  aboveNoiseFile(e: ModelEntry): string | undefined {
    return e.card.above_noise ? path.join(e.dir, e.card.above_noise.file) : undefined;
  }

  /** Check a denoiser's above-noise net against `above_noise.sha256`, as `verify` checks the model file. */
  verifyAboveNoise(e: ModelEntry): Promise<void> {
    const above = e.card.above_noise;
    if (!above) return Promise.resolve();
    return this.checkFile(path.join(e.dir, above.file), above.sha256, {
      missing: `model ${e.card.id}: its net for strengths above the noise, ${above.file}, is missing beside card.json; reinstall the model`,
      unreadable: (why) => `model ${e.card.id}: its net for strengths above the noise, ${above.file}, cannot be read (${why})`,
      damaged: `model ${e.card.id} is damaged: its net for strengths above the noise, ${above.file}, does not match the sha256 in its card; reinstall it`,
    });
  }

  private checkFile(file: string, sha256: string, say: { missing: string; unreadable: (why: string) => string; damaged: string }): Promise<void> {
    let mtime = 0;
    try {
      mtime = fs.statSync(file).mtimeMs;
    } catch {
      return Promise.reject(new RestoraError('E_MODEL', say.missing));
    }
    const key = `${file}|${mtime}|${sha256}`;
    let p = this.verified.get(key);
    if (!p) {
      p = new Promise<void>((resolve, reject) => {
        const h = crypto.createHash('sha256');
        fs.createReadStream(file)
          .on('data', (d) => h.update(d))
          .on('error', (err) => reject(new RestoraError('E_MODEL', say.unreadable(String((err as NodeJS.ErrnoException).code ?? err.message)))))
          .on('end', () => {
            if (h.digest('hex') === sha256) resolve();
            else reject(new RestoraError('E_MODEL', say.damaged));
          });
      });
      p.catch(() => this.verified.delete(key));
      this.verified.set(key, p);
    }
    return p;
  }
}
