// The batch journal: one JSON file beside the outputs (`<outdir>/.restora-batch-<key>.json`),
// rewritten atomically (temp file, fsync, rename) so that after a crash it is either the previous
// or the next complete version, never a torn one. It records, per input, the output path claimed
// for it before any pixel is processed, then its status and, when done, the output's size and
// SHA-256, so that a rerun can verify finished outputs instead of redoing them, and what the run
// used and noted (steps, notes), so that the rerun's report still says it for the files it skips.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorInfo, OutputOptions, Recipe, StepUsed } from '../../contract/index.ts';
import { writeFileAtomic } from '../image/writer.ts';
import { JOURNAL_PREFIX } from './expand.ts';

export const JOURNAL_VERSION = 1;

export type JournalStatus = 'queued' | 'done' | 'failed' | 'cancelled';

export interface JournalEntry {
  input: string; // absolute path
  rel: string;
  output?: string; // absolute path claimed (queued) or written (done)
  status: JournalStatus;
  inputSize: number;
  inputMtimeMs: number;
  outputSize?: number;
  outputHash?: string; // 'sha256:<hex>' of the output file's bytes (recorded, still queued, just before they take the name)
  seconds?: number;
  error?: ErrorInfo;
  // done: what each step used (σ given to the denoiser ...) and what could not be done as asked;
  // absent in journals written before they were recorded
  steps?: StepUsed[];
  notes?: string[];
}

export interface JournalData {
  version: number;
  key: string;
  batchId: string;
  created: string;
  updated: string;
  recipe: Recipe;
  output: Omit<OutputOptions, 'overwrite'> & { overwrite: boolean };
  entries: JournalEntry[];
}

/** The key that names a journal: same command (inputs as given, recipe, output options) -> same key. */
export function journalKey(parts: { paths: string[]; roots?: string[]; recursive: boolean; recipe: Recipe; output: Omit<OutputOptions, 'overwrite'>; masks?: string[] }): string {
  const canonical = JSON.stringify({
    v: JOURNAL_VERSION,
    paths: parts.paths.map((p) => path.resolve(p)).sort(),
    // roots change the output names; absent, the key is what it always was
    ...(parts.roots?.length ? { roots: parts.roots.map((p) => path.resolve(p)).sort() } : {}),
    recursive: parts.recursive,
    recipe: parts.recipe,
    // the masks' contents: a mask painted again at the same path is new work, not a finished batch
    ...(parts.masks?.length ? { masks: parts.masks } : {}),
    output: { dir: parts.output.dir ? path.resolve(parts.output.dir) : null, suffix: parts.output.suffix, format: parts.output.format, quality: parts.output.quality },
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function journalPath(dir: string, key: string): string {
  return path.join(dir, `${JOURNAL_PREFIX}${key}.json`);
}

/** The batch's JSON report (BatchReport plus recipe and output options), beside the journal. */
export function reportPath(dir: string, key: string): string {
  return path.join(dir, `restora-report-${key}.json`);
}

/** Read a journal; a missing, unreadable or foreign file reads as none (the batch starts afresh). */
export async function readJournal(file: string, key: string): Promise<JournalData | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(text) as JournalData;
    if (j.version !== JOURNAL_VERSION || j.key !== key || !Array.isArray(j.entries)) return undefined;
    return j;
  } catch {
    return undefined;
  }
}

/**
 * Outputs recorded in the journals of a folder (any batch's): path key (as `key` gives it) -> the
 * SHA-256 ('sha256:<hex>') of the bytes written there. What --overwrite may replace, while the
 * file still holds those bytes. Unreadable or foreign files are passed over.
 */
export async function recordedOutputs(dir: string, key: (p: string) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.startsWith(JOURNAL_PREFIX) || !name.endsWith('.json')) continue;
    try {
      const j = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Partial<JournalData>;
      if (!Array.isArray(j.entries)) continue;
      for (const e of j.entries) {
        if (e && typeof e.output === 'string' && typeof e.outputHash === 'string') out.set(key(e.output), e.outputHash);
      }
    } catch {
      // not a journal we can read: its outputs are not known as ours
    }
  }
  return out;
}

export async function writeJournal(file: string, data: JournalData): Promise<void> {
  data.updated = new Date().toISOString();
  await writeFileAtomic(file, JSON.stringify(data));
}

/** SHA-256 of a file's bytes, streamed (outputs can be hundreds of MB). */
export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file);
    s.on('data', (chunk) => h.update(chunk));
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  return `sha256:${h.digest('hex')}`;
}

