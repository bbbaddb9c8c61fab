// Usage text and the usage error (exit status 2).

export class UsageError extends Error {
  readonly code = 'E_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: restora <command> [options]

Restore photographs: denoise, inpaint (fill masked gaps), upscale x2/x4.
Originals are never modified; results go to <input folder>/restored unless --out is given.

Commands
  restora denoise <files and folders...> [--sigma N|auto]
  restora upscale <files and folders...> [--scale 2|4]
  restora inpaint <files and folders...> --mask FILE [--grain]
               (mask: a PNG the photo's size, white = fill; --grain: the fill gets the
               photo's own grain, read around the hole)
  restora run <files and folders...> --recipe "denoise:sigma=auto:passes=8,upscale:scale=2"
               (steps: denoise:sigma=N|auto, upscale:scale=2|4, inpaint:mask=FILE:grain=1;
               each also takes model=ID and passes=8)
  restora models [ID] [--json]                 list the models, or show one model's card
  restora models add FILE.onnx [--task T] [--id ID]   inspect a model and add it
  restora info [--ep E] [--json]               execution provider in use, and why (and the version)
  restora -V, --version                        print Restora's version
  restora serve [--port N]                     web mode on 127.0.0.1 (prints its URL)
  restora eval denoise|upscale|inpaint --data DIR [--sigma N|auto] [--noise N] [--scale 2|4]
               [--masks DIR] [--grain] [--model ID|bicubic] [--passes 1|8] [--limit N] [--json]
               (a folder of clean images gets Gaussian noise of --noise, default the
               --sigma given or 25; --sigma auto then lets the engine estimate it)
  restora bench [--task T] [--size WxH] [--threads N] [--ep E] [--repeats N] [--passes 1|8] [--json]

Batch options (denoise, upscale, inpaint, run)
  --out DIR            output folder (default: <input folder>/restored, tree kept)
  -r, --recursive      walk sub-folders of the folders given
  --model ID           model to use (see: restora models)
  --passes 1|8         8: best quality; the model sees each tile in its 8 rotations and
                       mirrors and the results are averaged (about 8x the time; default 1;
                       for run, per step in the recipe: denoise:passes=8)
  --ep E               execution provider: auto, cpu, cuda, dml, coreml, webgpu (default auto)
  --tile N             tile size in pixels (0: the model's advice); below twice the model's
                       overlap plus its size multiple (392 for a 192 px overlap and a multiple
                       of 8), the overlap shrinks and faint tile seams can appear
  --threads N          CPU threads (0: let the runtime choose)
  --format F           keep, png, jpeg, tiff, webp (default keep)
  --quality N          JPEG/WebP quality 1-100 (default 92, or a JPEG source's own when it
                       was saved higher)
  --suffix S           added to output names (default none)
  --overwrite          replace Restora's earlier outputs (those a batch journal in the output
                       folder lists, unchanged since); any other file keeps its name and the
                       output gets -1, -2 ...; rerunning a finished batch with it renders every
                       file again
  --resume             continue a batch that was interrupted (the default)
  --no-resume          start afresh (existing outputs are kept; new ones get -1, -2 ...)
  --json               one JSON line per file on stdout, then a summary line

Common options
  --models-dir DIR     bundled models folder (or RESTORA_MODELS_DIR)
  --user-models-dir DIR  user models folder (or RESTORA_USER_MODELS_DIR)
  --data-dir DIR       settings and caches (or RESTORA_DATA_DIR)
  -h, --help           this text

Exit status: 0 all files done, 1 some failed or no image found, 2 usage error, 130 cancelled with Ctrl-C.
`;

const BATCH = new Set(['denoise', 'upscale', 'inpaint', 'run']);

/** One command's help: its lines of the usage, its options, the common options and the exit status. */
export function helpFor(topic: string): string {
  const lines = USAGE.split('\n');
  const section = (title: string) => {
    const i = lines.indexOf(title);
    if (i < 0) return [];
    const out: string[] = [];
    for (let j = i; j < lines.length && lines[j] !== ''; j++) out.push(lines[j]);
    return out;
  };
  const commands = section('Commands');
  const mine: string[] = [];
  for (let i = 1; i < commands.length; i++) {
    if (!commands[i].startsWith(`  restora ${topic}`)) continue;
    mine.push(commands[i]);
    // continuation lines are indented deeper and do not start a command
    for (let j = i + 1; j < commands.length && !commands[j].trimStart().startsWith('restora '); j++) mine.push(commands[j]);
  }
  if (!mine.length) return USAGE;
  const parts = [`Usage:`, ...mine, ''];
  if (BATCH.has(topic)) parts.push(...section('Batch options (denoise, upscale, inpaint, run)'), '');
  parts.push(...section('Common options'), '', lines.find((l) => l.startsWith('Exit status')) ?? '', '');
  return parts.join('\n');
}
