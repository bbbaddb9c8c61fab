// Batch progress on the terminal: a one-line bar on a TTY (stderr), plain lines otherwise, and
// with --json one JSON line per finished file on stdout.
import path from 'node:path';
import { describeIgnored, describeStepsUsed, type BatchReport, type EventPayload, type FileReport, type StepUsed } from '../contract/index.ts';

export interface Out {
  write(s: string): void;
  isTTY?: boolean;
  columns?: number;
}

export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '--';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

export class BatchProgress {
  private readonly err: Out;
  private readonly out: Out;
  private readonly json: boolean;
  private readonly tty: boolean;
  private lastDraw = 0;
  private barShown = false;
  private batch?: EventPayload<'batch.progress'>;
  private current?: { input: string; progress: number };
  private readonly cwd: string;

  constructor(opts: { stdout: Out; stderr: Out; json: boolean; cwd?: string }) {
    this.out = opts.stdout;
    this.err = opts.stderr;
    this.json = opts.json;
    this.tty = !!opts.stderr.isTTY;
    this.cwd = opts.cwd ?? process.cwd();
  }

  private show(p: string): string {
    const r = path.relative(this.cwd, p);
    return r && !r.startsWith('..') ? r : p;
  }

  onEvent = <N extends 'file.progress' | 'batch.progress'>(name: N, payload: EventPayload<N>): void => {
    if (name === 'batch.progress') {
      this.batch = payload as EventPayload<'batch.progress'>;
      this.draw(false);
      return;
    }
    const f = payload as EventPayload<'file.progress'>;
    if (f.status === 'running') {
      this.current = { input: f.input, progress: f.progress };
      this.draw(false);
      return;
    }
    this.current = undefined;
    if (this.json) {
      const line: Record<string, unknown> = { type: 'file', index: f.index, input: f.input, status: f.status };
      if (f.output) line.output = f.output;
      if (f.error) line.error = f.error;
      if (f.steps) line.steps = f.steps;
      if (f.notes) line.notes = f.notes;
      if (f.renamed) line.renamed = true;
      this.clearBar();
      this.out.write(JSON.stringify(line) + '\n');
    } else if (!this.tty) {
      this.err.write(this.plainLine(f) + '\n');
    } else {
      // on a TTY, failures scroll above the bar; done files only move it
      if (f.status === 'failed') {
        this.clearBar();
        this.err.write(this.plainLine(f) + '\n');
      }
    }
    this.draw(true);
  };

  private plainLine(f: EventPayload<'file.progress'>): string {
    const n = this.batch ? `[${Math.min(this.batch.total, f.index + 1)}/${this.batch.total}] ` : '';
    if (f.status === 'done') {
      const notes = [...(f.notes ?? []), ...(f.renamed ? ['numbered: the name was taken'] : [])];
      return `${n}done ${this.show(f.input)} -> ${this.show(f.output ?? '')}${usedNote(f.steps)}${notes.length ? `; ${notes.join('; ')}` : ''}`;
    }
    if (f.status === 'skipped') return `${n}skipped ${this.show(f.input)} (already done: ${this.show(f.output ?? '')})`;
    if (f.status === 'failed') return `${n}failed ${this.show(f.input)}: ${f.error?.code ?? 'E_INTERNAL'}: ${f.error?.message ?? ''}`;
    return `${n}${f.status} ${this.show(f.input)}`;
  }

  private clearBar(): void {
    if (this.tty && this.barShown) {
      this.err.write('\r\x1b[2K');
      this.barShown = false;
    }
  }

  private draw(force: boolean): void {
    if (!this.tty || !this.batch) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const b = this.batch;
    const width = 24;
    const filled = Math.round(b.progress * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const pct = `${Math.floor(b.progress * 100)}%`.padStart(4);
    const failed = b.failed ? `, ${b.failed} failed` : '';
    const cur = this.current ? `  ${path.basename(this.current.input)}` : '';
    let line = `[${bar}] ${pct} ${b.done}/${b.total} files${failed}  ETA ${formatSeconds(b.etaSeconds)}${cur}`;
    const cols = this.err.columns && this.err.columns >= 40 ? this.err.columns : 100; // 0 under some pseudo-terminals
    if (line.length > cols - 1) line = line.slice(0, Math.max(10, cols - 1));
    this.err.write('\r\x1b[2K' + line);
    this.barShown = true;
  }

  /** Remove the bar before the final report is printed. */
  finish(): void {
    this.clearBar();
  }
}

/** The human summary: counts, every failed file with its code and reason, the report's path. */
export function humanReport(
  r: { total: number; done: number; failed: number; skipped: number; cancelled: boolean; seconds: number; files: FileReport[]; journal?: string; report?: string; ignored?: BatchReport['ignored'] },
  cwd = process.cwd(),
): string {
  const show = (p: string) => {
    const rel = path.relative(cwd, p);
    return rel && !rel.startsWith('..') ? rel : p;
  };
  const lines: string[] = [];
  const parts = [`${r.done} restored`];
  if (r.skipped) parts.push(`${r.skipped} already done`);
  if (r.failed) parts.push(`${r.failed} failed`);
  const cancelledCount = r.files.filter((f) => f.status === 'cancelled').length;
  if (cancelledCount) parts.push(`${cancelledCount} cancelled`);
  lines.push(`${r.cancelled ? 'Cancelled' : 'Finished'}: ${r.total} file${r.total === 1 ? '' : 's'}, ${parts.join(', ')} in ${r.seconds.toFixed(1)} s.`);
  const failed = r.files.filter((f) => f.status === 'failed');
  if (failed.length) {
    lines.push('Failed:');
    for (const f of failed) lines.push(`  ${f.error?.code ?? 'E_INTERNAL'}  ${show(f.input)}: ${f.error?.message ?? 'unknown error'}`);
  }
  const renamed = r.files.filter((f) => f.renamed && f.output);
  if (renamed.length) {
    const one = renamed.length === 1;
    lines.push(`${renamed.length} output${one ? ' was' : 's were'} given a number (${show(renamed[0].output!)}${one ? '' : ' ...'}) because the name was taken; --overwrite replaces Restora's earlier outputs instead, never other files.`);
  }
  for (const what of describeIgnored(r.ignored, 'add -r to include {them}')) lines.push(`Left out: ${what}.`);
  if (r.report) lines.push(`Report: ${show(r.report)}`);
  else if (r.journal) lines.push(`Journal: ${show(r.journal)}`);
  return lines.join('\n') + '\n';
}

/**
 * The summary when what was given holds no image: what the folder walk left out, in the batch
 * summary's words, so that a folder of RAW files says why nothing was done. Sub-folders get the
 * hint to add -r instead of their own line (the photos may well be in them).
 */
export function nothingFound(inputs: string[], ignored: BatchReport['ignored']): string {
  const lines = [`No image files found in ${inputs.join(', ')}.${ignored?.folders ? ' It has sub-folders: add -r to include them.' : ''}`];
  for (const what of describeIgnored(ignored && { ...ignored, folders: 0 }, '')) lines.push(`Left out: ${what}.`);
  return lines.join('\n') + '\n';
}

/** ` (denoise σ 3.4, estimated; upscale ×2, 8 passes)`: what the steps used (contract's describeStepsUsed), for a done line. */
export function usedNote(steps: StepUsed[] | undefined): string {
  const parts = describeStepsUsed(steps);
  return parts.length ? ` (${parts.join('; ')})` : '';
}
