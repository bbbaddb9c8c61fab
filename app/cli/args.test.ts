import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand, type BatchCommand } from './args.ts';
import { formatSeconds, humanReport } from './progress.ts';
import { parseRecipe } from './recipe.ts';
import { effectiveTiling } from '../engine/tiling/index.ts';
import { helpFor, USAGE, UsageError } from './usage.ts';

const usage = (argv: string[]) => {
  try {
    parseCommand(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseCommand', () => {
  it('parses a denoise batch with every option', () => {
    const c = parseCommand([
      'denoise', 'a.jpg', 'folder', '--out', 'o', '-r', '--sigma', '15', '--model', 'm1', '--ep', 'cpu', '--tile', '256', '--threads', '2',
      '--format', 'png', '--quality', '80', '--suffix', '-clean', '--overwrite', '--no-resume', '--json', '--models-dir', 'md',
    ]);
    expect(c).toEqual({
      kind: 'batch',
      command: 'denoise',
      inputs: ['a.jpg', 'folder'],
      recipe: [{ task: 'denoise', sigma: 15, model: 'm1' }],
      recursive: true,
      resume: false,
      output: { dir: path.resolve('o'), format: 'png', quality: 80, suffix: '-clean', overwrite: true },
      runtime: { ep: 'cpu', tile: 256, threads: 2 },
      json: true,
      modelsDir: path.resolve('md'),
      userModelsDir: undefined,
      dataDir: undefined,
    });
  });

  it('defaults: sigma auto, scale 2, resume on, not recursive', () => {
    const d = parseCommand(['denoise', 'x.png']);
    expect(d).toMatchObject({ recipe: [{ task: 'denoise', sigma: 'auto' }], resume: true, recursive: false, output: {}, runtime: {}, json: false });
    expect(parseCommand(['upscale', 'x.png'])).toMatchObject({ recipe: [{ task: 'upscale', scale: 2 }] });
    expect(parseCommand(['upscale', 'x.png', '--scale', '4'])).toMatchObject({ recipe: [{ task: 'upscale', scale: 4 }] });
    expect(parseCommand(['inpaint', 'x.png', '--mask', 'm.png'])).toMatchObject({ recipe: [{ task: 'inpaint', mask: path.resolve('m.png') }] });
    expect(parseCommand(['denoise', '--', '-odd-name.jpg'])).toMatchObject({ inputs: ['-odd-name.jpg'] });
  });

  it('parses chained recipes', () => {
    expect(parseCommand(['run', 'a.jpg', '--recipe', 'denoise:sigma=auto,upscale:scale=4:model=up4'])).toMatchObject({
      recipe: [{ task: 'denoise', sigma: 'auto' }, { task: 'upscale', scale: 4, model: 'up4' }],
    });
    expect(parseRecipe('inpaint:mask=m.png, denoise:sigma=25', '/base')).toEqual([
      { task: 'inpaint', mask: path.resolve('/base', 'm.png') },
      { task: 'denoise', sigma: 25 },
    ]);
  });

  it('passes 8 (self-ensemble) on every task, in flags and in recipes', () => {
    expect(parseCommand(['denoise', 'a.jpg', '--passes', '8'])).toMatchObject({ recipe: [{ task: 'denoise', sigma: 'auto', passes: 8 }] });
    expect(parseCommand(['upscale', 'a.jpg', '--scale', '4', '--passes', '8'])).toMatchObject({ recipe: [{ task: 'upscale', scale: 4, passes: 8 }] });
    expect(parseCommand(['inpaint', 'a.jpg', '--mask', 'm.png', '--passes', '1'])).toMatchObject({ recipe: [{ task: 'inpaint', passes: 1 }] });
    expect((parseCommand(['denoise', 'a.jpg']) as BatchCommand).recipe[0]).not.toHaveProperty('passes');
    expect(parseRecipe('denoise:passes=8:sigma=15,upscale:scale=2', '/b')).toEqual([{ task: 'denoise', sigma: 15, passes: 8 }, { task: 'upscale', scale: 2 }]);
    expect(usage(['denoise', 'a.jpg', '--passes', '4'])).toMatch(/--passes must be 1 or 8/);
    expect(usage(['run', 'a.jpg', '--recipe', 'denoise:passes=2'])).toMatch(/recipe passes must be 1 or 8/);
    expect(usage(['run', 'a.jpg', '--recipe', 'denoise', '--passes', '8'])).toMatch(/inside the recipe/);
    expect(parseCommand(['eval', 'denoise', '--data', 'd', '--passes', '8'])).toMatchObject({ passes: 8 });
    expect(usage(['eval', 'upscale', '--data', 'd', '--model', 'bicubic', '--passes', '8'])).toMatch(/bicubic has none/);
    expect(parseCommand(['bench', '--task', 'denoise', '--passes', '8'])).toMatchObject({ tasks: ['denoise'], passes: 8 });
  });

  it('grain matching for inpaint: --grain, grain=1 in a recipe, eval --grain; nowhere else', () => {
    expect(parseCommand(['inpaint', 'a.jpg', '--mask', 'm.png', '--grain'])).toMatchObject({ recipe: [{ task: 'inpaint', grain: true }] });
    expect((parseCommand(['inpaint', 'a.jpg', '--mask', 'm.png']) as BatchCommand).recipe[0]).not.toHaveProperty('grain');
    expect(parseRecipe('denoise,inpaint:mask=m.png:grain=1', '/b')).toEqual([{ task: 'denoise', sigma: 'auto' }, { task: 'inpaint', mask: path.resolve('/b', 'm.png'), grain: true }]);
    expect(parseRecipe('inpaint:mask=m.png:grain=0', '/b')[0]).not.toHaveProperty('grain');
    expect(usage(['run', 'a.jpg', '--recipe', 'inpaint:mask=m.png:grain=yes'])).toMatch(/grain must be 1 .* or 0, not "yes"/);
    expect(usage(['run', 'a.jpg', '--recipe', 'denoise:grain=1'])).toMatch(/unknown parameter "grain"/);
    expect(usage(['denoise', 'a.jpg', '--grain'])).toMatch(/unknown option --grain/);
    expect(parseCommand(['eval', 'inpaint', '--data', 'd', '--grain'])).toMatchObject({ task: 'inpaint', grain: true });
    expect(usage(['eval', 'denoise', '--data', 'd', '--grain'])).toMatch(/--grain applies to eval inpaint only/);
  });

  it('rejects unknown flags, bad values and missing inputs with a usage error', () => {
    expect(usage(['denoise', 'a.jpg', '--bogus'])).toMatch(/unknown option --bogus/);
    expect(usage(['denoise', 'a.jpg', '--scale', '2'])).toMatch(/unknown option --scale/); // not a denoise flag
    expect(usage(['denoise'])).toMatch(/at least one file/);
    expect(usage(['denoise', 'a.jpg', '--sigma', 'loud'])).toMatch(/--sigma/);
    expect(usage(['denoise', 'a.jpg', '--sigma', '300'])).toMatch(/0 to 100/);
    expect(usage(['upscale', 'a.jpg', '--scale', '3'])).toMatch(/2 or 4/);
    expect(usage(['inpaint', 'a.jpg'])).toMatch(/--mask/);
    expect(usage(['denoise', 'a.jpg', '--ep', 'tpu'])).toMatch(/--ep must be one of/);
    expect(usage(['denoise', 'a.jpg', '--format', 'gif'])).toMatch(/--format/);
    expect(usage(['denoise', 'a.jpg', '--quality', '0'])).toMatch(/--quality/);
    expect(usage(['denoise', 'a.jpg', '--threads', '-1'])).toMatch(/threads/);
    expect(usage(['denoise', 'a.jpg', '--tile', '8'])).toMatch(/--tile/);
    expect(usage(['denoise', 'a.jpg', '--suffix', '../x'])).toMatch(/path separator/);
    expect(usage(['denoise', 'a.jpg', '--out'])).toMatch(/--out needs a value/);
    expect(usage(['denoise', 'a.jpg', '--resume', '--no-resume'])).toMatch(/contradict/);
    expect(usage(['run', 'a.jpg'])).toMatch(/--recipe/);
    expect(usage(['run', 'a.jpg', '--recipe', 'sharpen'])).toMatch(/unknown task "sharpen"/);
    expect(usage(['run', 'a.jpg', '--recipe', 'upscale:scale=3'])).toMatch(/2 or 4/);
    expect(usage(['run', 'a.jpg', '--recipe', 'denoise:strength=2'])).toMatch(/unknown parameter "strength"/);
    expect(usage(['run', 'a.jpg', '--recipe', 'inpaint'])).toMatch(/mask=FILE/);
    expect(usage(['frobnicate'])).toMatch(/unknown command/);
  });

  it('models, info, serve', () => {
    expect(parseCommand(['models', '--json'])).toMatchObject({ kind: 'models', json: true });
    expect(parseCommand(['models', 'add', 'm.onnx', '--task', 'upscale', '--id', 'my-x2'])).toMatchObject({ kind: 'models-add', file: path.resolve('m.onnx'), task: 'upscale', id: 'my-x2' });
    expect(usage(['models', 'add'])).toMatch(/one FILE.onnx/);
    expect(usage(['models', 'add', 'm.onnx', '--task', 'colorize'])).toMatch(/--task/);
    expect(parseCommand(['models', 'restora-denoise', '--json'])).toMatchObject({ kind: 'models', id: 'restora-denoise', json: true });
    expect(usage(['models', 'a', 'b'])).toMatch(/at most one model id/);
    expect(parseCommand(['info', '--ep', 'cuda'])).toMatchObject({ kind: 'info', runtime: { ep: 'cuda' } });
    expect(parseCommand(['serve', '--port', '8123'])).toMatchObject({ kind: 'serve', port: 8123 });
    expect(usage(['serve', '--port', '70000'])).toMatch(/--port/);
  });

  it('--version and -V, as the first argument', () => {
    expect(parseCommand(['--version'])).toEqual({ kind: 'version' });
    expect(parseCommand(['-V'])).toEqual({ kind: 'version' });
    expect(USAGE).toMatch(/^ {2}restora -V, --version +print Restora's version$/m);
    expect(helpFor('info')).not.toContain('--version'); // a command of its own, not an option of info
  });

  it('--help states the tile size below which the overlap shrinks as the tiler has it: 2 x overlap + size multiple', () => {
    // restora-denoise: overlap 192, size multiple 8 -> 392 keeps the overlap, 384 shrinks it
    expect(effectiveTiling(392, 192, 8).overlap).toBe(192);
    expect(effectiveTiling(384, 192, 8).overlap).toBeLessThan(192);
    const tile = helpFor('denoise').replace(/\s+/g, ' ');
    expect(tile).toContain("below twice the model's overlap plus its size multiple (392 for a 192 px overlap and a multiple of 8), the overlap shrinks");
    expect(tile).not.toMatch(/up to twice/);
  });

  it('a negative number after a numeric option gets that option’s range, not a parser riddle', () => {
    expect(usage(['denoise', 'a.jpg', '--sigma', '-3'])).toMatch(/--sigma/);
    expect(usage(['denoise', 'a.jpg', '--sigma', '-3'])).not.toMatch(/ambiguous/);
    expect(usage(['denoise', 'a.jpg', '--quality', '-5'])).toMatch(/--quality must be/);
    expect(usage(['eval', 'denoise', '--data', 'd', '--noise', '-1'])).toMatch(/--noise/);
    // a suffix that starts with a dash is still a suffix; a flag after a numeric option is still a flag
    expect(parseCommand(['denoise', 'a.jpg', '--suffix', '-clean'])).toMatchObject({ output: { suffix: '-clean' } });
    expect(parseCommand(['denoise', 'a.jpg', '--threads', '2', '--json'])).toMatchObject({ json: true, runtime: { threads: 2 } });
  });

  it('a command with --help (or help COMMAND) gets its own help: its lines, its options, the common ones', () => {
    expect(parseCommand(['denoise', '--help'])).toEqual({ kind: 'help', topic: 'denoise' });
    expect(parseCommand(['upscale', 'a.jpg', '-h'])).toEqual({ kind: 'help', topic: 'upscale' });
    expect(parseCommand(['help', 'eval'])).toEqual({ kind: 'help', topic: 'eval' });
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    // after --, --help is a file name
    expect(parseCommand(['denoise', '--', '--help'])).toMatchObject({ kind: 'batch', inputs: ['--help'] });
    const dn = helpFor('denoise');
    expect(dn).toContain('restora denoise <files and folders...>');
    expect(dn).toContain('Batch options');
    expect(dn).toContain('--data-dir DIR');
    expect(dn).not.toContain('restora eval');
    const ev = helpFor('eval');
    expect(ev).toContain('--masks DIR');
    expect(ev).not.toContain('Batch options');
    expect(helpFor('models')).toContain('restora models add FILE.onnx');
  });

  it('eval and bench', () => {
    expect(parseCommand(['eval', 'upscale', '--data', 'd', '--model', 'bicubic', '--scale', '2', '--json'])).toMatchObject({
      kind: 'eval', task: 'upscale', data: path.resolve('d'), model: 'bicubic', scale: 2, json: true,
    });
    expect(parseCommand(['eval', 'upscale', '--data', 'd'])).toMatchObject({ scale: 4 });
    expect(parseCommand(['eval', 'denoise', '--data', 'd', '--sigma', 'auto', '--limit', '3'])).toMatchObject({ sigma: 'auto', limit: 3 });
    expect(parseCommand(['eval', 'denoise', '--data', 'd', '--sigma', 'auto', '--noise', '25'])).toMatchObject({ sigma: 'auto', noise: 25 });
    expect(usage(['eval', 'denoise', '--data', 'd', '--noise', 'auto'])).toMatch(/--noise/);
    expect(usage(['eval', 'upscale', '--data', 'd', '--noise', '25'])).toMatch(/--noise applies to eval denoise/);
    expect(parseCommand(['eval', 'inpaint', '--data', 'd', '--masks', 'm'])).toMatchObject({ masks: path.resolve('m') });
    expect(usage(['eval', 'denoise'])).toMatch(/--data/);
    expect(usage(['eval', 'sharpen', '--data', 'd'])).toMatch(/unknown task/);
    expect(usage(['eval', 'denoise', '--data', 'd', '--scale', '2'])).toMatch(/upscale only/);
    expect(usage(['eval', 'denoise', '--data', 'd', '--model', 'bicubic'])).toMatch(/upscale only/);
    expect(parseCommand(['bench'])).toMatchObject({ kind: 'bench', width: 1000, height: 1000, repeats: 3 });
    expect(parseCommand(['bench', '--task', 'upscale,denoise', '--size', '640x480', '--threads', '2', '--repeats', '5'])).toMatchObject({
      tasks: ['upscale-x2', 'upscale-x4', 'denoise'], width: 640, height: 480, repeats: 5, runtime: { threads: 2 },
    });
    expect(parseCommand(['bench', '--task', 'upscale-x2', '--task', 'inpaint'])).toMatchObject({ tasks: ['upscale-x2', 'inpaint'] });
    expect(usage(['bench', '--size', 'big'])).toMatch(/WIDTHxHEIGHT/);
    expect(usage(['bench', '--task', 'colorize'])).toMatch(/--task/);
  });
});

describe('human output', () => {
  it('formats durations', () => {
    expect(formatSeconds(null)).toBe('--');
    expect(formatSeconds(42.4)).toBe('42s');
    expect(formatSeconds(125)).toBe('2m05s');
    expect(formatSeconds(7300)).toBe('2h01m');
  });

  it('lists every failed file with its code and reason, and the report path', () => {
    const text = humanReport(
      {
        total: 3, done: 1, failed: 2, skipped: 0, cancelled: false, seconds: 2.25, report: '/out/restora-report-x.json',
        files: [
          { input: '/in/a.jpg', status: 'done', output: '/out/a.jpg' },
          { input: '/in/b.jpg', status: 'failed', error: { code: 'E_DECODE', message: 'b.jpg is not a readable image (truncated JPEG)' } },
          { input: '/in/c.png', status: 'failed', error: { code: 'E_TOO_LARGE', message: 'c.png has 400 megapixels' } },
        ],
      },
      '/in',
    );
    expect(text).toContain('Finished: 3 files, 1 restored, 2 failed in 2.3 s.');
    expect(text).toContain('E_DECODE  b.jpg: b.jpg is not a readable image (truncated JPEG)');
    expect(text).toContain('E_TOO_LARGE  c.png: c.png has 400 megapixels');
    expect(text).toContain('Report: /out/restora-report-x.json');
  });
});
