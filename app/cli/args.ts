// Command-line parsing (node:util parseArgs, strict): argv -> one typed command, or a UsageError.
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExecutionProvider, OutputFormat, type OutputOptions, type Passes, type Recipe, type RuntimeOptions, Task } from '../contract/index.ts';
import { parsePasses, parseRecipe, parseScale, parseSigma, stepOptions } from './recipe.ts';
import { UsageError } from './usage.ts';

export interface CommonOptions {
  modelsDir?: string;
  userModelsDir?: string;
  dataDir?: string;
  json: boolean;
}

export interface BatchCommand extends CommonOptions {
  kind: 'batch';
  command: 'denoise' | 'upscale' | 'inpaint' | 'run';
  inputs: string[];
  recipe: Recipe;
  recursive: boolean;
  resume: boolean;
  output: Partial<OutputOptions>;
  runtime: Partial<RuntimeOptions>;
}

export interface ModelsCommand extends CommonOptions {
  kind: 'models';
  id?: string; // one model's card
}
export interface ModelsAddCommand extends CommonOptions {
  kind: 'models-add';
  file: string;
  task?: Task;
  id?: string;
}
export interface InfoCommand extends CommonOptions {
  kind: 'info';
  runtime: Partial<RuntimeOptions>;
}
export interface ServeCommand extends CommonOptions {
  kind: 'serve';
  port: number;
}
export interface EvalCommand extends CommonOptions {
  kind: 'eval';
  task: Task;
  data: string;
  sigma?: number | 'auto';
  noise?: number; // synthetic denoise: the Gaussian noise level added (default: sigma, or 25)
  scale?: 2 | 4;
  masks?: string;
  model?: string; // a model id, or 'bicubic' (upscale only)
  passes?: Passes;
  grain?: boolean; // inpaint: match the photo's grain in the fill
  limit?: number;
  runtime: Partial<RuntimeOptions>;
}
export interface BenchCommand extends CommonOptions {
  kind: 'bench';
  tasks?: string[]; // denoise, upscale-x2, upscale-x4, inpaint, preview (default: all)
  width: number;
  height: number;
  repeats: number;
  passes?: Passes;
  runtime: Partial<RuntimeOptions>;
}
export interface VersionCommand {
  kind: 'version';
}
export interface HelpCommand {
  kind: 'help';
  topic?: string; // a command: its own help (restora denoise --help, restora help denoise)
}

const TOPICS = new Set(['denoise', 'upscale', 'inpaint', 'run', 'models', 'info', 'serve', 'eval', 'bench']);

export type Command = BatchCommand | ModelsCommand | ModelsAddCommand | InfoCommand | ServeCommand | EvalCommand | BenchCommand | HelpCommand | VersionCommand;

type Options = NonNullable<ParseArgsConfig['options']>;

const common: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'models-dir': { type: 'string' },
  'user-models-dir': { type: 'string' },
  'data-dir': { type: 'string' },
};
const runtimeOpts: Options = { ep: { type: 'string' }, threads: { type: 'string' }, tile: { type: 'string' } };
const batchOpts: Options = {
  ...common,
  ...runtimeOpts,
  out: { type: 'string', short: 'o' },
  recursive: { type: 'boolean', short: 'r' },
  model: { type: 'string' },
  passes: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  suffix: { type: 'string' },
  overwrite: { type: 'boolean' },
  resume: { type: 'boolean' },
  'no-resume': { type: 'boolean' },
};

const BATCH_EXTRA: Record<BatchCommand['command'], Options> = {
  denoise: { sigma: { type: 'string' } },
  upscale: { scale: { type: 'string' } },
  inpaint: { mask: { type: 'string' }, grain: { type: 'boolean' } },
  run: { recipe: { type: 'string' } },
};

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parse(argv: string[], options: Options, what: string): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // node's messages mention "parseArgs"-isms; keep the part that names the flag
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]} for "restora ${what}"`);
    const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(msg);
    if (missing) throw new UsageError(`option ${missing[1].replace(/^-\w, /, '')} needs a value`);
    throw new UsageError(msg.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

function str(v: Values, k: string): string | undefined {
  const x = v[k];
  return typeof x === 'string' ? x : undefined;
}

function int(v: Values, k: string, min: number, max: number): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${k} must be a whole number from ${min} to ${max}, not "${s}"`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`--${k} must be from ${min} to ${max}, not ${s}`);
  return n;
}

function commonOf(v: Values): CommonOptions {
  const dir = (k: string) => {
    const s = str(v, k);
    return s === undefined ? undefined : path.resolve(s);
  };
  return { json: !!v.json, modelsDir: dir('models-dir'), userModelsDir: dir('user-models-dir'), dataDir: dir('data-dir') };
}

function runtimeOf(v: Values): Partial<RuntimeOptions> {
  const rt: Partial<RuntimeOptions> = {};
  const ep = str(v, 'ep');
  if (ep !== undefined) {
    const r = ExecutionProvider.safeParse(ep);
    if (!r.success) throw new UsageError(`--ep must be one of ${ExecutionProvider.options.join(', ')}, not "${ep}"`);
    rt.ep = r.data;
  }
  const threads = int(v, 'threads', 0, 256);
  if (threads !== undefined) rt.threads = threads;
  const tile = int(v, 'tile', 0, 8192);
  if (tile !== undefined) {
    if (tile !== 0 && tile < 32) throw new UsageError(`--tile must be 0 (the model's advice) or at least 32, not ${tile}`);
    rt.tile = tile;
  }
  return rt;
}

/**
 * Suffixes usually start with a dash (`--suffix -clean`), which parseArgs would take for a flag:
 * bind the next word to --suffix explicitly (as `--suffix=-clean` does). A negative number after a
 * numeric option (`--sigma -3`) is bound the same way, so the user hears the option's range.
 */
const NUMERIC = new Set(['--sigma', '--noise', '--scale', '--quality', '--threads', '--tile', '--passes', '--limit', '--repeats', '--port']);
export function bindDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const bind = next !== undefined && ((argv[i] === '--suffix' && next.startsWith('-') && next !== '--') || (NUMERIC.has(argv[i]) && /^-\d/.test(next)));
    if (bind) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

function parseBatch(command: BatchCommand['command'], argv: string[]): BatchCommand | HelpCommand {
  const { values: v, positionals } = parse(argv, { ...batchOpts, ...BATCH_EXTRA[command] }, command);
  if (v.help) return { kind: 'help', topic: command };
  if (positionals.length === 0) throw new UsageError(`restora ${command}: name at least one file or folder`);
  if (v.resume && v['no-resume']) throw new UsageError('--resume and --no-resume contradict each other');
  const model = str(v, 'model');
  const passesS = str(v, 'passes');
  const extra = stepOptions(model, passesS);
  let recipe: Recipe;
  if (command === 'denoise') {
    recipe = [{ task: 'denoise', sigma: parseSigma(str(v, 'sigma') ?? 'auto'), ...extra }];
  } else if (command === 'upscale') {
    recipe = [{ task: 'upscale', scale: parseScale(str(v, 'scale') ?? '2'), ...extra }];
  } else if (command === 'inpaint') {
    const mask = str(v, 'mask');
    if (!mask) throw new UsageError('restora inpaint needs --mask FILE (a PNG, white = fill)');
    recipe = [{ task: 'inpaint', mask: path.resolve(mask), ...extra, ...(v.grain ? { grain: true } : {}) }];
  } else {
    const text = str(v, 'recipe');
    if (!text) throw new UsageError('restora run needs --recipe, e.g. --recipe "denoise:sigma=auto,upscale:scale=2"');
    if (model) throw new UsageError('restora run: give the model inside the recipe (denoise:model=ID), not with --model');
    if (passesS !== undefined) throw new UsageError('restora run: give passes inside the recipe (denoise:passes=8), not with --passes');
    recipe = parseRecipe(text);
  }
  const output: Partial<OutputOptions> = {};
  const out = str(v, 'out');
  if (out !== undefined) {
    if (!out) throw new UsageError('--out needs a folder');
    output.dir = path.resolve(out);
  }
  const format = str(v, 'format');
  if (format !== undefined) {
    const r = OutputFormat.safeParse(format);
    if (!r.success) throw new UsageError(`--format must be one of ${OutputFormat.options.join(', ')}, not "${format}"`);
    output.format = r.data;
  }
  const quality = int(v, 'quality', 1, 100);
  if (quality !== undefined) output.quality = quality;
  const suffix = str(v, 'suffix');
  if (suffix !== undefined) {
    if (suffix.length > 64) throw new UsageError('--suffix is longer than 64 characters');
    if (/[\\/\0]/.test(suffix) || suffix === '.' || suffix === '..') throw new UsageError(`--suffix must not contain a path separator: "${suffix}"`);
    output.suffix = suffix;
  }
  if (v.overwrite) output.overwrite = true;
  return {
    kind: 'batch',
    command,
    inputs: positionals,
    recipe,
    recursive: !!v.recursive,
    resume: !v['no-resume'],
    output,
    runtime: runtimeOf(v),
    ...commonOf(v),
  };
}

function parseEval(argv: string[]): EvalCommand | HelpCommand {
  const { values: v, positionals } = parse(
    argv,
    { ...common, ...runtimeOpts, data: { type: 'string' }, sigma: { type: 'string' }, noise: { type: 'string' }, scale: { type: 'string' }, masks: { type: 'string' }, grain: { type: 'boolean' }, model: { type: 'string' }, passes: { type: 'string' }, limit: { type: 'string' } },
    'eval',
  );
  if (v.help) return { kind: 'help', topic: 'eval' };
  const [taskName, ...rest] = positionals;
  if (!taskName) throw new UsageError('restora eval needs a task: denoise, upscale or inpaint');
  const t = Task.safeParse(taskName);
  if (!t.success) throw new UsageError(`restora eval: unknown task "${taskName}" (denoise, upscale or inpaint)`);
  if (rest.length) throw new UsageError(`restora eval: unexpected argument "${rest[0]}" (the images come from --data DIR)`);
  const data = str(v, 'data');
  if (!data) throw new UsageError('restora eval needs --data DIR (a folder of images, or one holding noisy/ and clean/)');
  const task = t.data;
  const sigmaS = str(v, 'sigma');
  const scaleS = str(v, 'scale');
  if (sigmaS !== undefined && task !== 'denoise') throw new UsageError('--sigma applies to eval denoise only');
  const noiseS = str(v, 'noise');
  if (noiseS !== undefined && task !== 'denoise') throw new UsageError('--noise applies to eval denoise only');
  const noise = noiseS === undefined ? undefined : parseSigma(noiseS, '--noise');
  if (noise === 'auto') throw new UsageError('--noise is the noise level to add to clean images, a number from 0 to 100; "auto" belongs to --sigma');
  if (scaleS !== undefined && task !== 'upscale') throw new UsageError('--scale applies to eval upscale only');
  if (str(v, 'masks') !== undefined && task !== 'inpaint') throw new UsageError('--masks applies to eval inpaint only');
  if (v.grain && task !== 'inpaint') throw new UsageError('--grain applies to eval inpaint only');
  const model = str(v, 'model');
  if (model === 'bicubic' && task !== 'upscale') throw new UsageError('--model bicubic applies to eval upscale only');
  const passesS = str(v, 'passes');
  const passes = passesS === undefined ? undefined : parsePasses(passesS);
  if (passes === 8 && model === 'bicubic') throw new UsageError('--passes 8 runs a model 8 times; --model bicubic has none');
  const masks = str(v, 'masks');
  return {
    kind: 'eval',
    task,
    data: path.resolve(data),
    ...(sigmaS !== undefined ? { sigma: parseSigma(sigmaS) } : {}),
    ...(noise !== undefined ? { noise } : {}),
    ...(task === 'upscale' ? { scale: parseScale(scaleS ?? '4') } : {}),
    ...(masks ? { masks: path.resolve(masks) } : {}),
    ...(model ? { model } : {}),
    ...(passes !== undefined ? { passes } : {}),
    ...(v.grain ? { grain: true } : {}),
    ...(int(v, 'limit', 1, 1_000_000) !== undefined ? { limit: int(v, 'limit', 1, 1_000_000) } : {}),
    runtime: runtimeOf(v),
    ...commonOf(v),
  };
}

export const BENCH_TASKS = ['denoise', 'upscale-x2', 'upscale-x4', 'inpaint', 'preview'] as const;

function parseBench(argv: string[]): BenchCommand | HelpCommand {
  const { values: v, positionals } = parse(argv, { ...common, ...runtimeOpts, task: { type: 'string', multiple: true }, size: { type: 'string' }, repeats: { type: 'string' }, passes: { type: 'string' } }, 'bench');
  if (v.help) return { kind: 'help', topic: 'bench' };
  if (positionals.length) throw new UsageError(`restora bench: unexpected argument "${positionals[0]}"`);
  let tasks: string[] | undefined;
  // --task a,b and --task a --task b both run a and b
  const t = Array.isArray(v.task) ? v.task.filter((x): x is string => typeof x === 'string') : [];
  if (t.length) {
    tasks = [];
    for (const name of t.flatMap((x) => x.split(',')).map((s) => s.trim())) {
      // `upscale` means both scales
      const expanded = name === 'upscale' ? ['upscale-x2', 'upscale-x4'] : [name];
      for (const e of expanded) {
        if (!(BENCH_TASKS as readonly string[]).includes(e)) throw new UsageError(`--task must be among ${BENCH_TASKS.join(', ')} (or upscale for both), not "${name}"`);
        tasks.push(e);
      }
    }
  }
  let width = 1000;
  let height = 1000; // one megapixel
  const size = str(v, 'size');
  if (size !== undefined) {
    const m = /^(\d+)x(\d+)$/i.exec(size);
    if (!m) throw new UsageError(`--size must be WIDTHxHEIGHT, e.g. 1000x1000, not "${size}"`);
    width = Number(m[1]);
    height = Number(m[2]);
    if (width < 16 || height < 16 || width * height > 100e6) throw new UsageError(`--size ${size}: each side at least 16 px, at most 100 megapixels in all`);
  }
  const passesS = str(v, 'passes');
  return {
    kind: 'bench',
    ...(tasks ? { tasks } : {}),
    width,
    height,
    repeats: int(v, 'repeats', 1, 100) ?? 3,
    ...(passesS !== undefined ? { passes: parsePasses(passesS) } : {}),
    runtime: runtimeOf(v),
    ...commonOf(v),
  };
}

/** Parse the arguments after `restora` (process.argv.slice(2)). */
export function parseCommand(argv: string[]): Command {
  const [cmd, ...given] = argv;
  const rest = bindDashValues(given);
  if (cmd === 'help' && rest[0] && TOPICS.has(rest[0])) return { kind: 'help', topic: rest[0] };
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') return { kind: 'help' };
  if (cmd === '--version' || cmd === '-V') return { kind: 'version' };
  if (cmd === 'denoise' || cmd === 'upscale' || cmd === 'inpaint' || cmd === 'run') return parseBatch(cmd, rest);
  if (cmd === 'models') {
    if (rest[0] === 'add') {
      const { values: v, positionals } = parse(rest.slice(1), { ...common, task: { type: 'string' }, id: { type: 'string' } }, 'models add');
      if (v.help) return { kind: 'help', topic: 'models' };
      if (positionals.length !== 1) throw new UsageError('restora models add takes one FILE.onnx');
      const task = str(v, 'task');
      let parsedTask: Task | undefined;
      if (task !== undefined) {
        const r = Task.safeParse(task);
        if (!r.success) throw new UsageError(`--task must be denoise, upscale or inpaint, not "${task}"`);
        parsedTask = r.data;
      }
      const id = str(v, 'id');
      if (id !== undefined && !/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(id)) throw new UsageError(`--id may hold letters, digits, ".", "_" and "-" (at most 64), not "${id}"`);
      return { kind: 'models-add', file: path.resolve(positionals[0]), ...(parsedTask ? { task: parsedTask } : {}), ...(id ? { id } : {}), ...commonOf(v) };
    }
    const { values: v, positionals } = parse(rest, common, 'models');
    if (v.help) return { kind: 'help', topic: 'models' };
    if (positionals.length > 1) throw new UsageError(`restora models takes at most one model id (or "add FILE.onnx")`);
    return { kind: 'models', ...(positionals[0] ? { id: positionals[0] } : {}), ...commonOf(v) };
  }
  if (cmd === 'info') {
    const { values: v, positionals } = parse(rest, { ...common, ...runtimeOpts }, 'info');
    if (v.help) return { kind: 'help', topic: 'info' };
    if (positionals.length) throw new UsageError(`restora info: unexpected argument "${positionals[0]}"`);
    return { kind: 'info', runtime: runtimeOf(v), ...commonOf(v) };
  }
  if (cmd === 'serve') {
    const { values: v, positionals } = parse(rest, { ...common, port: { type: 'string' } }, 'serve');
    if (v.help) return { kind: 'help', topic: 'serve' };
    if (positionals.length) throw new UsageError(`restora serve: unexpected argument "${positionals[0]}"`);
    return { kind: 'serve', port: int(v, 'port', 0, 65535) ?? 0, ...commonOf(v) };
  }
  if (cmd === 'eval') return parseEval(rest);
  if (cmd === 'bench') return parseBench(rest);
  throw new UsageError(`unknown command "${cmd}"`);
}
