// What every case file shares: the case shape, the suite's environment (models, paths) and the
// usual "run a denoise batch and look at its report" helpers.
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { BatchReport, FileReport } from '../../../app/contract/index.ts';
import { check, decodeStrict, errorNames, type CliOptions, type CliResult, type Ctx, type Decoded } from '../harness.ts';

export interface SuiteEnv {
  root: string; // the suite's temp root
  modelsDir: string; // fixture models plus the suite's identity denoiser
  denoiser: string; // the fixture denoiser's id
  identity: string; // a 3->3 identity "denoiser" with the fixture's I/O: exact colour checks
  broken: string; // a registered "denoiser" whose every output value is NaN/Inf
  upscaler?: string; // the fixture x2 upscaler's id
}

export interface Case {
  id: string;
  title: string;
  plan: number[]; // rows of the plan in shared/reference/reliability.md
  timeoutMs?: number;
  /** Returns a one-line detail for the report; throws CaseFailure / CaseSkip. */
  run(ctx: Ctx, env: SuiteEnv): Promise<string>;
}

/** `restora denoise <inputs> --out <ctx.out> --threads 1 --json ...` */
export async function denoise(ctx: Ctx, env: SuiteEnv, inputs: string[], extra: string[] = [], opts: CliOptions = {}): Promise<CliResult> {
  const args = ['denoise', ...inputs, '--out', ctx.out, '--threads', '1', '--sigma', '10', '--json', ...extra];
  if (!extra.includes('--model')) args.push('--model', env.denoiser);
  return ctx.cli(args, { timeoutMs: 90_000, ...opts });
}

/** The run ended by itself with a contract BatchReport on stdout; returns it. */
export function reportOf(r: CliResult, expectExit?: number | number[]): BatchReport {
  check(!r.timedOut, `the CLI did not finish within the limit (${r.ms} ms)`);
  check(!r.overMemory, `the CLI's memory passed the harness limit (peak ${r.peakRssMB.toFixed(0)} MB) and was killed`);
  check(r.signal === null, `the CLI died of ${r.signal}; stderr: ${tail(r.stderr)}`);
  if (expectExit !== undefined) {
    const codes = Array.isArray(expectExit) ? expectExit : [expectExit];
    check(codes.includes(r.code ?? -1), `exit code ${r.code}, expected ${codes.join(' or ')}; stderr: ${tail(r.stderr)}`);
  }
  check(r.report, `no JSON batch report on stdout (exit ${r.code}); stdout: ${tail(r.stdout)} stderr: ${tail(r.stderr)}`);
  return r.report;
}

export function tail(s: string, n = 300): string {
  const t = s.trim().replace(/\s+/g, ' ');
  return t.length > n ? '…' + t.slice(-n) : t || '(empty)';
}

export function entryFor(rep: BatchReport, input: string): FileReport {
  const abs = resolve(input);
  const e = rep.files.find((f) => resolve(f.input) === abs) ?? rep.files.find((f) => basename(f.input) === basename(input));
  check(e, `the report does not list ${basename(input)} (it lists ${rep.files.map((f) => basename(f.input)).join(', ') || 'nothing'})`);
  return e;
}

/** The file failed with one of `codes`, a message naming it, and no output. */
export function expectFailed(rep: BatchReport, input: string, codes: string | string[]): FileReport {
  const e = entryFor(rep, input);
  check(e.status === 'failed', `${basename(input)}: status ${e.status}, expected failed`);
  const why = errorNames(e.error, codes, basename(input));
  check(!why, `${basename(input)}: ${why}`);
  check(!e.output || !existsSync(e.output), `${basename(input)} failed but an output exists: ${e.output}`);
  return e;
}

/** The file was processed; its output exists and decodes completely. */
export async function expectDone(rep: BatchReport, input: string): Promise<{ entry: FileReport; out: Decoded }> {
  const e = entryFor(rep, input);
  check(e.status === 'done', `${basename(input)}: status ${e.status}${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}, expected done`);
  check(e.output && existsSync(e.output), `${basename(input)}: output ${e.output} missing`);
  const out = await decodeStrict(e.output);
  return { entry: e, out };
}

/** The human output of the CLI (stdout + stderr, as a user sees it in a terminal). */
export function human(r: CliResult): string {
  return `${r.stdout}\n${r.stderr}`;
}
