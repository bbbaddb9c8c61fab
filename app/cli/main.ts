// The `restora` command: headless batch work, model management, eval and bench, web mode.
// Exit status: 0 all files done, 1 some failed (or a command failed), 2 usage error, 130 cancelled
// with Ctrl-C (or SIGTERM); a second one ends the process at once (killed by that signal: a
// shell reports 130 for SIGINT).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RestoraError, type ModelInfo, type RuntimeOptions } from '../contract/index.ts';
import type { EngineImpl } from '../engine/index.ts';
import { restoraVersion } from '../engine/version.ts';
import { type BatchCommand, type Command, type CommonOptions, parseCommand } from './args.ts';
import { BatchProgress, humanReport, nothingFound } from './progress.ts';
import { helpFor, USAGE, UsageError } from './usage.ts';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const io: Io = { stdout: process.stdout, stderr: process.stderr };

/** Restora's version, from its package.json (the one bin/restora.js runs this file from). */
export const version = restoraVersion;

/**
 * Whether this process has had SIGINT or SIGTERM (from the terminal, a kill, or relayed by
 * bin/restora.js): the launcher's relay of a signal this process already had is not delivered again.
 */
let interrupted = false;

/**
 * Call `handler` on the first SIGINT or SIGTERM, then let the next one end the process at once:
 * the listeners are removed, so the kernel's default action applies (killed by the signal; a
 * shell says 130 for SIGINT). A handler could not do that: a tile's inference runs on this thread
 * (onnxruntime-node's run is synchronous) and blocks it for seconds, so no JS runs before the tile
 * ends. What a stop at any moment leaves is safe: outputs are published whole or not at all, the
 * next run removes this process's temp files (isStaleTemp) and resumes from the journal.
 * Returns the function that removes the listeners when the work ends normally.
 */
function onFirstInterrupt(handler: (sig: NodeJS.Signals) => void): () => void {
  const off = () => {
    process.off('SIGINT', once);
    process.off('SIGTERM', once);
  };
  function once(sig: NodeJS.Signals) {
    interrupted = true;
    off();
    handler(sig);
  }
  process.on('SIGINT', once);
  process.on('SIGTERM', once);
  return off;
}

function say(s: string): void {
  io.stdout.write(s);
}
function warn(s: string): void {
  io.stderr.write(s);
}

/** Make the engine with the CLI's folders (flags first, then RESTORA_* variables, then defaults). */
export async function makeEngine(c: CommonOptions, runtime?: Partial<RuntimeOptions>): Promise<EngineImpl> {
  const { createEngine } = await import('../engine/index.ts');
  const env = process.env;
  const modelsDir = c.modelsDir ?? env.RESTORA_MODELS_DIR;
  const userModelsDir = c.userModelsDir ?? env.RESTORA_USER_MODELS_DIR;
  const dataDir = c.dataDir ?? env.RESTORA_DATA_DIR;
  return createEngine({
    ...(modelsDir ? { modelsDir: path.resolve(modelsDir) } : {}),
    ...(userModelsDir ? { userModelsDir: path.resolve(userModelsDir) } : {}),
    ...(dataDir ? { dataDir: path.resolve(dataDir) } : {}),
    ...(runtime ? { runtime } : {}),
  });
}

async function runBatchCommand(cmd: BatchCommand): Promise<number> {
  const engine = await makeEngine(cmd, cmd.runtime);
  try {
    await preflight(engine, cmd);
  } catch (e) {
    await engine.close();
    throw e;
  }
  const ac = new AbortController();
  let cancelledBySignal = false;
  const stopListening = onFirstInterrupt(() => {
    cancelledBySignal = true;
    ac.abort();
    warn('\nCancelling: the current file stops after its current tile (press Ctrl-C again to quit at once).\n');
  });
  const progress = new BatchProgress({ stdout: io.stdout, stderr: io.stderr, json: cmd.json });
  try {
    const report = await engine.runBatch({
      files: cmd.inputs,
      recursive: cmd.recursive,
      recipe: cmd.recipe,
      output: cmd.output,
      runtime: cmd.runtime,
      resume: cmd.resume,
      signal: ac.signal,
      onEvent: progress.onEvent,
    });
    progress.finish();
    const human = report.total === 0 ? nothingFound(cmd.inputs, report.ignored) : humanReport(report);
    if (cmd.json) {
      say(JSON.stringify({ type: 'summary', ...report }) + '\n');
      warn(human);
    } else {
      say(human);
    }
    if (report.cancelled && cancelledBySignal) return 130; // as a shell reports a Ctrl-C
    return report.failed > 0 || report.cancelled || report.total === 0 ? 1 : 0;
  } finally {
    stopListening();
    await engine.close();
  }
}

/**
 * What would fail every file is said once, before any work: a mask that is missing or not an image,
 * an --out that is a file, a --model that is not there or is for another task, an --ep that cannot
 * run here (auto and cpu always can): usage, exit 2; a task with no model installed: exit 1.
 */
async function preflight(engine: EngineImpl, cmd: BatchCommand): Promise<void> {
  for (const step of cmd.recipe) {
    if (step.task !== 'inpaint') continue;
    let isFile = false;
    try {
      isFile = statSync(step.mask).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) throw new UsageError(`E_MASK: the mask ${step.mask} does not exist or is not a file`);
    try {
      await engine.readImage(step.mask);
    } catch (e) {
      throw new UsageError(`E_MASK: the mask ${step.mask} cannot be read as an image (${RestoraError.from(e).message})`);
    }
  }
  if (cmd.output.dir && existsSync(cmd.output.dir) && !statSync(cmd.output.dir).isDirectory()) {
    throw new UsageError(`--out ${cmd.output.dir} is a file, not a folder`);
  }
  engine.models(); // reload: user models added since
  for (const step of cmd.recipe) {
    const model = 'model' in step ? step.model : undefined;
    const scale = step.task === 'upscale' ? step.scale : undefined;
    let entry;
    try {
      entry = engine.registry.pick(step.task, scale, model);
    } catch (e) {
      if (model) throw new UsageError(`--model: ${RestoraError.from(e).message}`);
      throw e;
    }
    // a tile too small for the model's overlap works, but the tiler shrinks the overlap: say so once
    const tile = cmd.runtime.tile ?? 0;
    const need = 2 * entry.card.tiling.overlap + entry.card.size_multiple;
    if (tile > 0 && tile < need) {
      warn(`restora: --tile ${tile} is below ${need} px, what ${entry.card.id} needs for its ${entry.card.tiling.overlap} px overlap: the overlap shrinks and faint tile seams can show (--tile 0 uses the model's advice).\n`);
    }
  }
  const ep = cmd.runtime.ep;
  if (ep && ep !== 'auto' && ep !== 'cpu') {
    const info = await engine.runtimeInfo({ ep });
    if (info.active !== ep) throw new UsageError(`--ep ${ep}: ${info.fallbackReason ?? 'not available here'}`);
  }
}

/** One model's card, for people: what it is, how it was trained, what it measured. */
export function cardText(m: ModelInfo, card: Record<string, unknown> = {}): string {
  const lines: string[] = [];
  const row = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== '') lines.push(`${(k + ':').padEnd(14)}${String(v)}`);
  };
  const num = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : undefined);
  row('ID', m.id);
  row('Name', m.name);
  row('Task', m.task + (m.scale > 1 ? ` x${m.scale}` : ''));
  row('Source', m.source);
  row('Architecture', m.architecture);
  row('Parameters', num(m.params));
  row('MACs/pixel', num(m.macsPerPixel));
  row('Licence', m.license);
  const t = card.training as { data?: string; steps?: number; hours?: number; hardware?: string } | undefined;
  if (t) {
    row('Trained', [t.steps ? `${num(t.steps)} steps` : '', t.hours ? `${t.hours} h` : '', t.hardware ?? ''].filter(Boolean).join(', '));
    row('Data', t.data);
  }
  const above = card.above_noise as { file?: string; from_ratio?: number } | undefined;
  if (above?.file) row('Stronger', `${above.file}, a second net for strengths above the noise: runs instead when a manual sigma is more than ${above.from_ratio}x what the estimator reads`);
  const metrics = Object.entries(m.metrics);
  if (metrics.length) {
    lines.push('Measured (restora eval):');
    // keys such as Kodak24/sigma25/passes8/psnr are long: a fixed width ran them into their values
    const width = Math.max(...metrics.map(([k]) => k.length)) + 2;
    for (const [k, v] of metrics) lines.push(`  ${k.padEnd(width)}${v}`);
  }
  return lines.join('\n') + '\n';
}

async function runModels(cmd: Extract<Command, { kind: 'models' }>): Promise<number> {
  const engine = await makeEngine(cmd);
  try {
    const models = engine.models();
    if (cmd.id) {
      const m = models.find((x) => x.id === cmd.id);
      if (!m) throw new RestoraError('E_MODEL', `there is no model named ${cmd.id} (\`restora models\` lists them)`);
      const card = (engine.registry.get(cmd.id)?.card ?? {}) as Record<string, unknown>;
      say(cmd.json ? JSON.stringify({ ...m, card }) + '\n' : cardText(m, card));
      return 0;
    }
    if (cmd.json) {
      say(JSON.stringify(models) + '\n');
      return 0;
    }
    if (models.length === 0) {
      say('No models found.\n');
      return 0;
    }
    const rows = models.map((m) => [m.id, m.task, m.scale > 1 ? `x${m.scale}` : '', m.source, m.name]);
    const head = ['ID', 'TASK', 'SCALE', 'SOURCE', 'NAME'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n';
    say(fmt(head) + rows.map(fmt).join(''));
    return 0;
  } finally {
    await engine.close();
  }
}

async function runModelsAdd(cmd: Extract<Command, { kind: 'models-add' }>): Promise<number> {
  if (!existsSync(cmd.file)) throw new RestoraError('E_NOT_FOUND', `${cmd.file} does not exist`, cmd.file);
  const engine = await makeEngine(cmd);
  try {
    const m = await engine.addModel(cmd.file, { ...(cmd.task ? { task: cmd.task } : {}), ...(cmd.id ? { id: cmd.id } : {}) });
    if (cmd.json) say(JSON.stringify(m) + '\n');
    else say(`Added ${m.id}: ${m.task}${m.scale > 1 ? ` x${m.scale}` : ''} (${m.name}). Use it with --model ${m.id}.\n`);
    return 0;
  } finally {
    await engine.close();
  }
}

async function runInfo(cmd: Extract<Command, { kind: 'info' }>): Promise<number> {
  const engine = await makeEngine(cmd, cmd.runtime);
  try {
    const info = await engine.runtimeInfo(cmd.runtime);
    if (cmd.json) {
      say(JSON.stringify({ version: version(), ...info }) + '\n');
      return 0;
    }
    say(`Restora ${version()}\n`);
    say(`Execution provider: ${info.active} (requested: ${info.requested})\n`);
    say(`Available in this build: ${info.available.join(', ') || 'cpu'}\n`);
    if (info.fallbackReason) say(`Why not a GPU: ${info.fallbackReason}\n`);
    say(`Threads: ${info.threads || 'runtime default'}\n`);
    say(`Models: ${engine.models().length}\n`);
    return 0;
  } finally {
    await engine.close();
  }
}

async function runServe(cmd: Extract<Command, { kind: 'serve' }>): Promise<number> {
  const { startServer } = await import('../server/index.ts');
  const modelsDir = cmd.modelsDir ?? process.env.RESTORA_MODELS_DIR;
  const dataDir = cmd.dataDir ?? process.env.RESTORA_DATA_DIR;
  const server = await startServer({ port: cmd.port, ...(modelsDir ? { modelsDir } : {}), ...(dataDir ? { dataDir } : {}) });
  say(`Restora web mode: ${server.url}\n`);
  if (!cmd.json) warn('Open the address above in a browser on this machine. Press Ctrl-C to stop.\n');
  else say(JSON.stringify({ url: server.url, port: server.port }) + '\n');
  await new Promise<void>((resolve) => onFirstInterrupt(() => resolve()));
  await server.close();
  return 0;
}

async function runEval(cmd: Extract<Command, { kind: 'eval' }>): Promise<number> {
  const { evaluateCommand } = await import('../engine/eval/index.ts');
  const needsEngine = !(cmd.task === 'upscale' && cmd.model === 'bicubic');
  const engine = needsEngine ? await makeEngine(cmd, cmd.runtime) : undefined;
  try {
    return await evaluateCommand(engine, cmd, { out: (s) => say(s), err: (s) => warn(s) });
  } finally {
    await engine?.close();
  }
}

async function runBench(cmd: Extract<Command, { kind: 'bench' }>): Promise<number> {
  const { benchCommand } = await import('../engine/bench/index.ts');
  const engine = await makeEngine(cmd, cmd.runtime);
  try {
    return await benchCommand(engine, { ...cmd, registry: engine.registry }, { out: (s) => say(s), err: (s) => warn(s) });
  } finally {
    await engine.close();
  }
}

/** Run one command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      warn(`restora: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  try {
    switch (cmd.kind) {
      case 'help':
        say(cmd.topic ? helpFor(cmd.topic) : USAGE);
        return 0;
      case 'version':
        say(`restora ${version()}\n`);
        return 0;
      case 'batch':
        return await runBatchCommand(cmd);
      case 'models':
        return await runModels(cmd);
      case 'models-add':
        return await runModelsAdd(cmd);
      case 'info':
        return await runInfo(cmd);
      case 'serve':
        return await runServe(cmd);
      case 'eval':
        return await runEval(cmd);
      case 'bench':
        return await runBench(cmd);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      warn(`restora: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    const err = RestoraError.from(e);
    if (err.code === 'E_USAGE') {
      // found while running (a port in use, a bad RESTORA_* value): the whole usage text would bury it
      warn(`restora: ${err.message}\n(restora --help lists the commands and options)\n`);
      return 2;
    }
    if ('json' in cmd && cmd.json) say(JSON.stringify({ type: 'error', error: err.toJSON() }) + '\n');
    warn(`restora: ${err.code}: ${err.message}\n`);
    if (err.code === 'E_INTERNAL' && e instanceof Error && e.stack && process.env.RESTORA_DEBUG) warn(e.stack + '\n');
    return 1;
  }
}

function flush(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
}

const isEntry = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  // started by bin/restora.js: its IPC channel closes when it dies (even by SIGKILL); then stop as
  // on SIGTERM (a batch cancels after its current tile, a server closes), and leave soon after
  if (process.send) {
    process.channel?.unref();
    // the launcher relays the first SIGINT/SIGTERM it gets as a message, not as the signal: a Ctrl-C
    // in a terminal reaches this process too (one process group), and a second copy as a signal
    // would find the listeners gone and end the batch at once. Sent to the launcher alone
    // (kill -INT <pid>), the message is read when the loop next turns (after the tile running now, as
    // a signal's handler would be), and then cancels as the first signal does. A second kill to the
    // launcher during that same tile arrives as a signal while the listeners are still there: it too
    // cancels after the tile instead of ending the process at once (a Ctrl-C in the terminal does)
    process.on('message', (m: unknown) => {
      const sig = (m as { restoraSignal?: unknown } | null)?.restoraSignal;
      if ((sig !== 'SIGINT' && sig !== 'SIGTERM') || interrupted) return;
      if (process.listenerCount(sig) > 0) process.emit(sig, sig);
      else process.kill(process.pid, sig);
    });
    process.on('disconnect', () => {
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => process.exit(143), 5000).unref();
    });
  }
  let code: number;
  try {
    code = await main(process.argv.slice(2));
  } catch (e) {
    warn(`restora: E_INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  }
  await Promise.all([flush(io.stdout), flush(io.stderr)]);
  // native add-ons (onnxruntime's thread pool) may keep the loop alive: leave explicitly
  process.exit(code);
}
