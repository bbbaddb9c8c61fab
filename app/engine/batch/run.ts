// The batch runner: files and folders in, one output per image, a journal beside the outputs.
//
// Guarantees (tested in run.test.ts and by the reliability suite):
// - Originals are only ever read. An output path that is an input (same path, or the same file
//   through a link: same device and inode) is refused for that file.
// - Every output path is claimed in the journal before any pixel is processed; a claimed path is
//   never handed to another file, and an existing file is never replaced unless the journal says it
//   is this batch's own output (a rerun after a crash) or, with `overwrite`, a journal in the output
//   folder lists it as a Restora output and it still holds the bytes written then. Any other file
//   (a photo that shares the name) keeps its name: the output gets a number.
// - Outputs go through the core's writer (temp file in the same folder, fsync, then an exclusive
//   publish), so a crash leaves either the complete file or none under its final name, and a file
//   that takes the claimed name while the batch runs (another batch into the same folder, the user)
//   is not replaced: the output takes the next free number. Stale temps of ours are removed on
//   the next run.
// - One failing file is recorded (code + sentence) and the batch goes on, except when the output
//   disk is full or read-only: then the files not yet started are reported with that reason.
// - One file at a time, and no reference to its pixels is kept after it is written, so memory stays
//   flat however many files there are.
// - Running the same command again (same inputs as given, recipe and output options) resumes: done
//   outputs are verified (exists, size, SHA-256; input size and mtime unchanged) and skipped.
import { constants, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { access, mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  BatchReport,
  describeStepsUsed,
  type ErrorInfo,
  type EventPayload,
  type FileEntry,
  type FileReport,
  OutputOptions,
  Recipe,
  RestoraError,
  StepUsed,
} from '../../contract/index.ts';
import type { BatchOptions, EngineCore, RgbImage, RunOptions } from '../api.ts';
import { EtaEstimator, type RestOfBatch } from './eta.ts';
import { expand, OUTPUT_DIR_NAME, rootOf } from './expand.ts';
import { FileMarks } from '../image/inputs.ts';
import { probeImage } from '../image/decode.ts';
import { type Publish, writeFileAtomic, writeLosses } from '../image/writer.ts';
import { hashFile, type JournalData, type JournalEntry, journalKey, journalPath, readJournal, recordedOutputs, reportPath, writeJournal } from './journal.ts';
import { naturalOutput, numbered, pathKey, writerFormat } from './naming.ts';
import { restoraVersion } from '../version.ts';

/** Journal rewrites: after every file for batches up to this size, else at most once a second. */
const JOURNAL_EVERY_FILE_UP_TO = 200;
const JOURNAL_MIN_INTERVAL_MS = 1000;

interface Planned {
  file: FileEntry;
  entry: JournalEntry;
  skip: boolean; // verified done in an earlier run
  refused?: ErrorInfo; // planning refused this file (output would be an input, folder read-only)
  renamed?: boolean; // the natural output name was taken: a number was added
  natural?: string; // the output name without a number
  n?: number; // the number of the claimed name (0: none)
  own?: { path: string; hash: string }; // an earlier output of this batch at the claimed name, which may be replaced if it is still the same
}

function errorWithFile(e: unknown, file: string): ErrorInfo {
  const err = RestoraError.from(e);
  const name = path.basename(file);
  const message = err.message.includes(name) ? err.message : `${name}: ${err.message}`;
  return { code: err.code, message, file };
}

/**
 * What an earlier run recorded for a file it finished (steps used, notes), kept for the file when
 * this run skips it: the σ used stays on record. A journal from before they were recorded has
 * neither; anything that is not what the contract allows is dropped rather than failing the batch.
 */
function recorded(prev: JournalEntry): Pick<JournalEntry, 'steps' | 'notes'> {
  const steps = StepUsed.array().safeParse(prev.steps);
  const notes = Array.isArray(prev.notes) ? prev.notes.filter((n): n is string => typeof n === 'string') : [];
  return { ...(steps.success && steps.data.length ? { steps: steps.data } : {}), ...(notes.length ? { notes } : {}) };
}

function ioCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);

/** The file-system calls that make an output folder; tests pass their own (root ignores modes, and a read-only mount needs privileges). */
export interface DirFs {
  mkdir(p: string, o?: { recursive?: boolean }): Promise<unknown>;
  stat(p: string): Promise<Pick<Stats, 'isDirectory'>>;
  access(p: string, mode: number): Promise<void>;
  /** Create and remove an empty file in folder `d`: whether a file can really be written there. */
  probe(d: string): Promise<void>;
}
const nodeDirFs: DirFs = {
  mkdir,
  stat,
  access,
  async probe(d) {
    // named as the writer's temp files: one a crash leaves is removed by the next run (isStaleTemp)
    const f = path.join(d, `.restora-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(f, '', { flag: 'wx' });
    await unlink(f).catch(() => undefined);
  },
};

/**
 * Make an output folder and the folders above it. On a read-only mount Node's recursive mkdir
 * fails with ENOENT (the missing level's error, not the parent's EROFS), which would read as
 * "cannot be created"; so on ENOENT the nearest folder that exists is asked whether it can be
 * written, and its error (EROFS, EACCES, EPERM) is thrown, naming it in `readOnly`.
 */
export async function makeOutputDir(d: string, fs: DirFs = nodeDirFs): Promise<void> {
  try {
    await fs.mkdir(d, { recursive: true });
  } catch (e) {
    if (ioCode(e) !== 'ENOENT') throw e;
    await probeNearestFolder(d, e, fs);
    await fs.mkdir(d, { recursive: true }); // the next level could be made: the rest can follow
  }
  const st = await fs.stat(d);
  if (!st.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
}

/**
 * Whether files can really be written in output folder `d` (it may be there and refuse them: mode 555,
 * another user's, ACLs): an empty file made and removed. Asked of the folders that will receive a photo
 * to run, so that it is known before any photo is processed, not after the first one's minutes of work.
 */
export async function probeOutputDir(d: string, fs: Pick<DirFs, 'probe'> = nodeDirFs): Promise<void> {
  await fs.probe(d);
}

async function probeNearestFolder(d: string, original: unknown, fs: DirFs): Promise<void> {
  const readOnly = (folder: string) => (e: unknown) => {
    throw READ_ONLY_CODES.has(ioCode(e) ?? '') ? Object.assign(new Error(`${folder} is read-only`), { code: ioCode(e), readOnly: folder }) : e;
  };
  let next = d;
  for (let up = path.dirname(d); up !== next; next = up, up = path.dirname(up)) {
    const st = await fs.stat(up).catch(() => null);
    if (!st) continue;
    if (!st.isDirectory()) throw original;
    // access can pass where writing is still refused (ACLs, security modules, network file
    // systems): a plain mkdir of the next level says EROFS/EACCES/EPERM where the recursive one said ENOENT
    await fs.access(up, constants.W_OK).catch(readOnly(up));
    await fs.mkdir(next).catch((e: unknown) => (ioCode(e) === 'EEXIST' ? undefined : readOnly(up)(e)));
    return;
  }
  throw original; // nothing above it exists (a drive that is gone)
}

/** Why an output folder cannot be used, for every file that would go there (code + sentence + the folder). */
export function outputDirProblem(d: string, e: unknown): ErrorInfo {
  const c = ioCode(e);
  const code = c && READ_ONLY_CODES.has(c) ? 'E_READ_ONLY' : c === 'ENOSPC' ? 'E_NO_SPACE' : 'E_WRITE';
  const above = (e as { readOnly?: unknown } | null)?.readOnly;
  const readOnly = typeof above === 'string' && above !== d ? `cannot be created: ${above} is read-only` : 'is read-only';
  const why = code === 'E_READ_ONLY' ? readOnly : code === 'E_NO_SPACE' ? 'is on a full disk' : `cannot be created (${c ?? String(e)})`;
  return { code, message: `the output folder ${d} ${why}`, file: d };
}

/** Whether `file` holds the bytes whose hash was recorded (`hash`); a file that cannot be read does not. */
async function holds(file: string, hash: string | undefined): Promise<boolean> {
  return !!hash && (await hashFile(file).catch(() => '')) === hash;
}

async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch {
    return null;
  }
}

/**
 * Temp files of the one writer (`.restora-<pid>-<12 hex>.tmp`, app/engine/image/writer.ts) whose
 * process is gone: left by a crash between write and rename, safe to remove. A live process's
 * temp (another batch writing into the same folder) is left alone.
 */
export function isStaleTemp(name: string, alive: (pid: number) => boolean = pidAlive): boolean {
  const m = /^\.restora-(\d+)-[0-9a-f]+\.tmp$/.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  return pid !== process.pid && !alive(pid);
}

let procIsOurs: boolean | undefined;

/**
 * Whether /proc numbers processes as this process sees them. In some sandboxes /proc belongs to another
 * PID namespace (or is missing): /proc/<pid> is then another process or none, and must not decide
 * whether a writer is gone.
 */
export function procShowsOurPids(): boolean {
  if (procIsOurs === undefined) {
    try {
      procIsOurs = readlinkSync('/proc/self') === String(process.pid);
    } catch {
      procIsOurs = false;
    }
  }
  return procIsOurs;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // exists, owned by someone else
  }
  // a killed process stays a zombie until its parent reaps it, and signal 0 still reaches a zombie:
  // after `kill -9` of restora's process group the worker's parent dies with it, so the worker waits
  // for init to reap it while a resumed batch is already looking at its temp files (Linux only; elsewhere
  // a zombie counts as alive and its temp is removed by the next run)
  if (!procShowsOurPids()) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/**
 * Give each file below one of `roots` its path under the nearest one as `rel` (kept as the file's
 * own spelling, so `rootOf` gives that root back). Other files keep what `expand` gave them.
 */
export function withRoots(files: FileEntry[], roots: string[]): FileEntry[] {
  const rs = roots.map((r) => path.resolve(r)).sort((x, y) => y.length - x.length);
  return files.map((f) => {
    const p = path.resolve(f.path);
    for (const r of rs) {
      const rel = path.relative(r, p);
      if (rel && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel) && p.endsWith(rel)) return { ...f, rel };
    }
    return f;
  });
}

/**
 * Run a recipe over files and folders.
 * Progress: `file.progress` (running with tile progress, then done/failed/skipped/cancelled) and
 * `batch.progress` (fraction over the whole batch and an ETA in seconds, null until a file is done)
 * through `opts.onEvent`. Cancellation through `opts.signal`: the running file stops between tiles,
 * files not started are reported as cancelled.
 * @returns the report: every input with its status, output and error (code + sentence)
 */
/** A done file's steps for its XMP history: `denoise σ 8.1, estimated (restora-denoise) → upscale ×2 (restora-upscale-x2)`. */
export function historyParameters(steps: readonly StepUsed[]): string {
  const words = describeStepsUsed(steps);
  return steps.map((s, i) => `${words[i]} (${s.model})`).join(' → ');
}

export async function runBatch(core: EngineCore, opts: BatchOptions): Promise<BatchReport> {
  const t0 = performance.now();
  const recipe = Recipe.parse(opts.recipe);
  const output = OutputOptions.parse(opts.output ?? {});
  const recursive = opts.recursive ?? true;
  const outDirOpt = output.dir ? path.resolve(output.dir) : undefined;
  const masks: string[] = [];
  for (const step of recipe) if (step.task === 'inpaint') masks.push(await hashFile(step.mask).catch(() => 'missing'));
  const key = journalKey({ paths: opts.files, roots: opts.roots, recursive, recipe, output, masks });
  const batchId = opts.batchId ?? key;
  const emit = opts.onEvent ?? (() => {});

  const expanded = await expand(opts.files, recursive, { exclude: outDirOpt ? [outDirOpt] : [] });
  if (opts.roots?.length) expanded.files = withRoots(expanded.files, opts.roots);
  const errors = expanded.errors;
  const outDirOf = (f: FileEntry) => outDirOpt ?? path.join(rootOf(f), OUTPUT_DIR_NAME);

  // ---- journal
  const journalDir = outDirOpt ?? (expanded.files[0] ? outDirOf(expanded.files[0]) : undefined);
  const jPath = journalDir ? journalPath(journalDir, key) : undefined;
  const previous = jPath && opts.resume !== false ? await readJournal(jPath, key) : undefined;
  const prevByInput = new Map<string, JournalEntry>();
  for (const e of previous?.entries ?? []) prevByInput.set(e.input, e);
  // a finished earlier run (nothing left queued or cancelled) rerun with --overwrite is a request to
  // render again, in place; an interrupted one is resumed either way
  const redoFinished = output.overwrite && !!previous && previous.entries.every((e) => e.status === 'done' || e.status === 'failed');
  // outputs of an earlier run of this batch written among its inputs (--out = an input folder)
  // are ours, not new inputs: a rerun must not process its own results
  const ownOutputs = new Set((previous?.entries ?? []).filter((e) => e.output).map((e) => pathKey(e.output!)));
  const files = expanded.files.filter((f) => !ownOutputs.has(pathKey(f.path)));

  // ---- identities of all inputs: no output may be one of them
  const inputKeys = new Set<string>();
  const inputMarks = new FileMarks(); // by path and inode, as the writer knows originals
  const inputStats = new Map<string, Stats>();
  for (const f of files) {
    inputKeys.add(pathKey(f.path));
    const st = await statOrNull(f.path);
    if (st) {
      inputStats.set(f.path, st);
      inputMarks.add(f.path, st);
    }
  }
  // the recipe's masks too: no output may replace one
  for (const step of recipe) {
    if (step.task !== 'inpaint') continue;
    inputKeys.add(pathKey(step.mask));
    const st = await statOrNull(step.mask);
    if (st) inputMarks.add(step.mask, st);
  }
  const isInput = async (p: string): Promise<boolean> => inputKeys.has(pathKey(p)) || inputMarks.has(p);

  // ---- output folders: create them up front, so a read-only disk is known before any work
  const dirProblem = new Map<string, ErrorInfo>();
  for (const d of new Set(files.map(outDirOf))) {
    try {
      await makeOutputDir(d);
    } catch (e) {
      dirProblem.set(d, outputDirProblem(d, e));
    }
  }

  // ---- what --overwrite may replace: outputs the journals in the output folders list (any batch's),
  // while they hold the bytes recorded; never a photo that only shares a name
  const restoraMade = new Map<string, string>();
  if (output.overwrite) {
    for (const d of new Set([...files.map(outDirOf), ...(journalDir ? [journalDir] : [])])) {
      for (const [k, h] of await recordedOutputs(d, (x) => pathKey(x))) restoraMade.set(k, h);
    }
  }
  const isRestoraOutput = async (p: string): Promise<boolean> => {
    const h = restoraMade.get(pathKey(p));
    return holds(p, h);
  };

  // ---- plan: claim an output path for every file before any pixel is processed
  const claimed = new Set<string>();
  const planned: Planned[] = [];
  const cleanDirs = new Set<string>(); // folders outputs will be written to
  for (const f of files) {
    const st = inputStats.get(f.path);
    const entry: JournalEntry = { input: f.path, rel: f.rel, status: 'queued', inputSize: st?.size ?? f.size, inputMtimeMs: st?.mtimeMs ?? 0 };
    const p: Planned = { file: f, entry, skip: false };
    planned.push(p);
    const outDir = outDirOf(f);
    const problem = dirProblem.get(outDir);
    if (problem) {
      p.refused = { ...problem, message: `${path.basename(f.path)} was not processed: ${problem.message}`, file: f.path };
      continue;
    }
    const natural = naturalOutput(f.path, f.rel, outDir, output.suffix, output.format);
    p.natural = natural;
    if (await isInput(natural)) {
      p.refused = {
        code: 'E_WRITE',
        message: `${path.basename(f.path)} was not processed: its output would replace the original (${natural}); choose another output folder or a suffix`,
        file: f.path,
      };
      continue;
    }
    const prev = prevByInput.get(f.path);
    const inputSame = !!prev && !!st && prev.inputSize === st.size && prev.inputMtimeMs === st.mtimeMs;
    let chosen: string | undefined;
    if (prev?.output && !claimed.has(pathKey(prev.output)) && !(await isInput(prev.output))) {
      const ost = await statOrNull(prev.output);
      if (prev.status === 'done' && ost) {
        const intact = ost.size === prev.outputSize && (await holds(prev.output, prev.outputHash));
        if (intact && inputSame && !redoFinished) {
          Object.assign(entry, { status: 'done', output: prev.output, outputSize: prev.outputSize, outputHash: prev.outputHash, seconds: prev.seconds, ...recorded(prev) });
          p.skip = true;
          chosen = prev.output;
        } else if (intact) {
          chosen = prev.output; // our own output of an input that changed since: redo in place
          p.own = { path: prev.output, hash: prev.outputHash! };
        }
        // an output changed by someone else since is left alone: a new name below
      } else if (!ost) {
        chosen = prev.output; // claimed by an earlier run, nothing there yet
      } else if (prev.status !== 'done' && prev.outputHash && ost.size === prev.outputSize && (await holds(prev.output, prev.outputHash))) {
        // claimed and not recorded as done, but the bytes there are the ones that run recorded just
        // before publishing them (it stopped before recording the file as done): redone in place.
        // Anything else there came from elsewhere and is left alone: a new name below
        chosen = prev.output;
        p.own = { path: prev.output, hash: prev.outputHash };
      }
    }
    if (!chosen) {
      for (let n = 0; ; n++) {
        const cand = numbered(natural, n);
        if (claimed.has(pathKey(cand))) continue;
        if (await isInput(cand)) continue;
        if ((await statOrNull(cand)) && !(output.overwrite && (await isRestoraOutput(cand)))) continue;
        chosen = cand;
        p.renamed = n > 0;
        p.n = n;
        break;
      }
    }
    entry.output = chosen;
    claimed.add(pathKey(chosen));
    if (!p.skip) cleanDirs.add(path.dirname(chosen));
  }

  // ---- the folders that will receive a photo to run can really be written (a rerun of a finished batch on
  // a folder made read-only since asks nothing): a few at a time, a cancel heard between them
  const toProbe = [...new Set(planned.filter((p) => !p.skip && !p.refused).map((p) => outDirOf(p.file)))];
  for (let k = 0; k < toProbe.length && !opts.signal?.aborted; k += 8) {
    await Promise.all(
      toProbe.slice(k, k + 8).map((d) =>
        probeOutputDir(d).catch((e: unknown) => {
          const problem = outputDirProblem(d, e);
          for (const p of planned) {
            if (p.skip || p.refused || outDirOf(p.file) !== d) continue;
            p.refused = { ...problem, message: `${path.basename(p.file.path)} was not processed: ${problem.message}`, file: p.file.path };
          }
        }),
      ),
    );
  }

  // ---- the journal, written before any work
  const journal: JournalData = {
    version: 1,
    key,
    batchId,
    created: previous?.created ?? new Date().toISOString(),
    updated: '',
    recipe,
    output: { ...output, dir: outDirOpt },
    entries: planned.filter((p) => !p.refused).map((p) => p.entry),
  };
  let journalOk = !!jPath;
  let lastFlush = 0;
  const flush = async (force: boolean): Promise<void> => {
    if (!jPath || !journalOk) return;
    const now = Date.now();
    if (!force && journal.entries.length > JOURNAL_EVERY_FILE_UP_TO && now - lastFlush < JOURNAL_MIN_INTERVAL_MS) return;
    lastFlush = now;
    try {
      await writeJournal(jPath, journal);
    } catch {
      journalOk = false; // the outputs matter more than the journal: go on without it
    }
  };
  if (journal.entries.length) await flush(true);

  // ---- stale temps of ours (a crash between temp write and rename) where outputs will go
  if (journalDir) cleanDirs.add(journalDir);
  for (const d of cleanDirs) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const name of names) if (isStaleTemp(name)) await unlink(path.join(d, name)).catch(() => {});
  }

  // ---- process, one file at a time
  const reports: FileReport[] = [];
  const total = files.length + errors.length;
  let done = 0;
  let failed = errors.length;
  let skipped = 0;
  let finished = errors.length; // files with a final status
  let cancelled = false;
  let stopAll: ErrorInfo | undefined; // disk full / read-only: no point in going on
  const eta = new EtaEstimator();
  // the photos to process, and their sizes read from their headers beside the work (a few ms each): the ETA
  // and the progress weigh what is left by it, so a 24 MP photo left is not counted as a 1 MP one. Running
  // totals keep each event's cost flat however many files the batch has.
  const toRun = (p: Planned) => !p.skip && !p.refused;
  const sizes: (number | undefined)[] = new Array(planned.length);
  const runCount = planned.filter(toRun).length;
  let knownMp = 0;
  let knownCount = 0;
  let endedUpTo = 0; // every file before this index has ended
  let endedCount = 0; // of those, the ones to run
  let endedKnownMp = 0;
  let endedKnownCount = 0;
  let batchOver = false;
  const sized = (j: number, mp: number) => {
    sizes[j] = mp;
    knownMp += mp;
    knownCount++;
    if (j < endedUpTo) {
      endedKnownMp += mp;
      endedKnownCount++;
    }
  };
  void (async () => {
    for (let j = 0; j < planned.length; j++) {
      if (batchOver || opts.signal?.aborted) return;
      if (!toRun(planned[j]) || sizes[j] !== undefined) continue;
      // a header that cannot be read: that photo fails at once when its turn comes (its run says why)
      const h = await probeImage(planned[j].file.path).catch(() => undefined);
      if (sizes[j] === undefined) sized(j, h ? (h.width * h.height) / 1e6 : 0);
    }
  })();
  const endUpTo = (to: number) => {
    for (; endedUpTo < to; endedUpTo++) {
      if (!toRun(planned[endedUpTo])) continue;
      endedCount++;
      const mp = sizes[endedUpTo];
      if (mp !== undefined) {
        endedKnownMp += mp;
        endedKnownCount++;
      }
    }
  };
  /** The files to run after `i` (its own run under way when `running`): how many, how many of known size, their size. */
  const rest = (i: number, running: boolean): RestOfBatch => {
    endUpTo(running ? i : i + 1);
    const self = running && i >= 0 && toRun(planned[i]);
    const selfMp = self ? sizes[i] : undefined;
    return {
      files: runCount - endedCount - (self ? 1 : 0),
      sized: knownCount - endedKnownCount - (selfMp !== undefined ? 1 : 0),
      megapixels: knownMp - endedKnownMp - (selfMp ?? 0),
    };
  };
  // progress by size once every photo's is known (by count until then), never backwards
  let shownProgress = 0;
  const progressAt = (i: number, current?: { progress: number }): number => {
    if (!total) return 1;
    let frac = (finished + (current?.progress ?? 0)) / total;
    if (knownCount === runCount && knownMp > 0) {
      endUpTo(current ? i : i + 1);
      frac = (endedKnownMp + (current && i >= 0 && toRun(planned[i]) ? current.progress * (sizes[i] ?? 0) : 0)) / knownMp;
    }
    shownProgress = Math.max(shownProgress, Math.min(1, frac));
    return shownProgress;
  };

  const batchProgress = (i: number, current?: { megapixels?: number; progress: number; elapsed?: number }) => {
    const payload: EventPayload<'batch.progress'> = {
      batchId,
      total,
      done: done + skipped,
      failed,
      progress: progressAt(i, current),
      etaSeconds: eta.estimate(rest(i, !!current), current),
    };
    emit('batch.progress', payload);
  };
  const fileEvent = (i: number, p: Planned, status: FileReport['status'], progress: number, error?: ErrorInfo, steps?: StepUsed[], notes?: string[]) => {
    emit('file.progress', {
      batchId,
      index: i,
      input: p.file.path,
      status,
      progress,
      ...(p.entry.output && (status === 'done' || status === 'skipped') ? { output: p.entry.output } : {}),
      ...(error ? { error } : {}),
      ...(steps?.length ? { steps } : {}),
      ...(notes?.length ? { notes } : {}),
      ...(status === 'done' && p.renamed ? { renamed: true } : {}),
    });
  };

  for (const e of errors) reports.push({ input: e.file ?? '', status: 'failed', error: e });
  batchProgress(-1); // totals known before the first file

  for (let i = 0; i < planned.length; i++) {
    const p = planned[i];
    const { entry } = p;
    if (p.skip) {
      skipped++;
      finished++;
      reports.push({ input: p.file.path, output: entry.output, status: 'skipped', seconds: entry.seconds, ...(entry.steps ? { steps: entry.steps } : {}), ...(entry.notes ? { notes: entry.notes } : {}) });
      fileEvent(i, p, 'skipped', 1, undefined, entry.steps, entry.notes);
      batchProgress(i);
      continue;
    }
    if (p.refused || stopAll) {
      const error = p.refused ?? { ...stopAll!, message: `${path.basename(p.file.path)} was not processed: ${stopAll!.message}`, file: p.file.path };
      failed++;
      finished++;
      if (!p.refused) entry.status = 'failed';
      reports.push({ input: p.file.path, status: 'failed', error });
      fileEvent(i, p, 'failed', 0, error);
      batchProgress(i);
      continue;
    }
    if (cancelled || opts.signal?.aborted || opts.skips?.has(p.file.path)) {
      // the whole batch cancelled, or this photo skipped by the user (the batch goes on): left untouched
      if (!opts.skips?.has(p.file.path)) cancelled = true;
      entry.status = 'cancelled';
      finished++;
      reports.push({ input: p.file.path, status: 'cancelled' });
      fileEvent(i, p, 'cancelled', 0);
      continue;
    }

    // the photo's own stop: the batch's cancel, or a skip of this photo while it runs
    const fileAc = new AbortController();
    const stopFile = () => fileAc.abort(new RestoraError('E_CANCELLED', `${path.basename(p.file.path)} was skipped`));
    if (opts.skips) opts.skips.onAdd = (added) => added === p.file.path && stopFile();
    const fileSignal = opts.signal ? AbortSignal.any([opts.signal, fileAc.signal]) : fileAc.signal;
    const started = performance.now();
    let megapixels: number | undefined;
    fileEvent(i, p, 'running', 0);
    batchProgress(i, { progress: 0 });
    try {
      // the photo as it is when read: the result is of this version (the journal records it), and a
      // change while it is processed is told apart from one made before its turn
      const read = await statOrNull(p.file.path);
      if (read) {
        entry.inputSize = read.size;
        entry.inputMtimeMs = read.mtimeMs;
      }
      let img: RgbImage | undefined = await core.readImage(p.file.path);
      megapixels = (img.width * img.height) / 1e6;
      const srcFormat = img.meta?.format;
      const srcDepth = img.meta?.bitDepth ?? 8;
      let lastEmit = 0;
      const runOpts: RunOptions = {
        signal: fileSignal,
        runtime: opts.runtime,
        onProgress: (pr) => {
          const frac = pr.total > 0 ? Math.min(1, pr.done / pr.total) : 0;
          opts.onProgress?.(pr);
          const now = performance.now();
          if (now - lastEmit < 100 && frac < 1) return; // a few events a second is plenty
          lastEmit = now;
          fileEvent(i, p, 'running', frac);
          batchProgress(i, { megapixels, progress: frac, elapsed: (now - started) / 1000 });
        },
      };
      // the engine's core also takes the photo's path (not in RunOptions), to name it in mask
      // errors, and fills `trace` with what each step used (model, provider, noise level)
      const trace: StepUsed[] = [];
      Object.assign(runOpts, { source: p.file.path, trace });
      let out: RgbImage | undefined = await core.run(img, recipe, runOpts);
      img = undefined; // let the input's pixels go before the output is encoded
      const target = entry.output!;
      await mkdir(path.dirname(target), { recursive: true });
      const format = writerFormat(p.file.path, output.format, srcFormat);
      const bitDepth: 8 | 16 = format === 'png' || format === 'tiff' ? srcDepth : 8;
      // said with the file: what a step could not do as asked (grain with no photo around the hole, an
      // out-of-memory retry), and what the output cannot keep (transparency in a JPEG)
      const notes = [...trace.flatMap((t) => (t.note ? [`${t.task}: ${t.note}`] : [])), ...writeLosses(out, format)];
      // the photo saved over while it was processed (an editor, a sync client): the result is of what was
      // read, and the journal keeps the size and time seen at the start, so the next Run makes it again
      const now = read && (await statOrNull(p.file.path));
      if (read && now && (now.size !== read.size || now.mtimeMs !== read.mtimeMs)) notes.push('the photo changed while it was processed: this result is of the version read before; run it again (Run on selected) for the new one');
      const steps = trace.flatMap((t) => { const r = StepUsed.safeParse(t); return r.success ? [r.data] : []; });
      // the output says what made it, in its XMP processing history (what photo apps show as its history)
      const history = { software: `Restora ${restoraVersion()}`, parameters: historyParameters(steps), when: new Date() };
      let k = p.n ?? 0;
      const publish: Publish = {
        // names are claimed at the start, but a file can take one since (another batch writing into
        // this folder, the user): only what this batch may replace is replaced, anything else keeps
        // its name and the output takes the next free number
        mayReplace: async (t) => (!!p.own && pathKey(t) === pathKey(p.own.path) && (await holds(t, p.own.hash))) || (output.overwrite && (await isRestoraOutput(t))),
        nextName: async () => {
          for (;;) {
            const cand = numbered(p.natural!, ++k);
            if (claimed.has(pathKey(cand)) || (await isInput(cand))) continue;
            claimed.add(pathKey(cand));
            // the journal names the file the bytes (their hash already recorded) are about to take
            entry.output = cand;
            await flush(false);
            return cand;
          }
        },
        // recorded before the bytes take the name: a rerun after a crash in between knows them as
        // ours (in a batch past JOURNAL_EVERY_FILE_UP_TO files the write may be skipped; a crash in that
        // instant then leaves the rerun's output numbered beside it, never a file replaced)
        beforePublish: async ({ size, hash }) => {
          entry.outputSize = size;
          entry.outputHash = hash;
          await flush(false);
        },
      };
      const written = await core.writeImage(out, target, { format, quality: output.quality, bitDepth, history, publish });
      out = undefined;
      const ost = await stat(written);
      p.renamed = pathKey(written) !== pathKey(p.natural!);
      entry.output = written;
      entry.outputSize = ost.size;
      entry.outputHash = await hashFile(written);
      entry.status = 'done';
      entry.seconds = (performance.now() - started) / 1000;
      delete entry.error;
      done++;
      finished++;
      eta.add(entry.seconds, megapixels);
      // in the journal too, so that a rerun that skips this file still reports them
      if (steps.length) entry.steps = steps;
      if (notes.length) entry.notes = notes;
      reports.push({ input: p.file.path, output: written, status: 'done', seconds: entry.seconds, ...(steps.length ? { steps } : {}), ...(p.renamed ? { renamed: true } : {}), ...(notes.length ? { notes } : {}) });
      await flush(false); // recorded before it is announced: a 'done' event means it survives a crash
      fileEvent(i, p, 'done', 1, undefined, steps, notes);
    } catch (e) {
      const error = errorWithFile(e, p.file.path);
      const seconds = (performance.now() - started) / 1000;
      finished++;
      if (error.code === 'E_CANCELLED' || opts.signal?.aborted) {
        if (!fileAc.signal.aborted || opts.signal?.aborted) cancelled = true; // a skipped photo: the batch goes on
        entry.status = 'cancelled';
        reports.push({ input: p.file.path, status: 'cancelled', seconds });
        fileEvent(i, p, 'cancelled', 0);
      } else {
        failed++;
        entry.status = 'failed';
        entry.error = error;
        delete entry.outputHash; // a failed write's bytes were never published
        delete entry.outputSize;
        reports.push({ input: p.file.path, status: 'failed', error, seconds });
        await flush(false);
        fileEvent(i, p, 'failed', 0, error);
        if (error.code === 'E_NO_SPACE' || error.code === 'E_READ_ONLY') stopAll = { code: error.code, message: error.code === 'E_NO_SPACE' ? 'the output disk is full' : 'the output folder is read-only' };
      }
    }
    batchProgress(i);
  }
  batchOver = true; // the headers not read yet are not needed any more
  await flush(true);

  const report: BatchReport = {
    batchId,
    total,
    done,
    failed,
    skipped,
    cancelled,
    seconds: (performance.now() - t0) / 1000,
    files: reports,
    ...(jPath && journalOk ? { journal: jPath } : {}),
    ...(expanded.ignored.files || expanded.ignored.folders ? { ignored: expanded.ignored } : {}),
  };
  // the human-readable record of the run, beside the journal (the journal is for resuming)
  if (journalDir && jPath && journalOk && total > 0) {
    const rPath = reportPath(journalDir, key);
    try {
      await writeFileAtomic(rPath, JSON.stringify({ ...report, report: rPath, recipe, output: journal.output }, null, 2) + '\n');
      report.report = rPath;
    } catch {
      // no report file; the returned report still lists everything
    }
  }
  return BatchReport.parse(report);
}
