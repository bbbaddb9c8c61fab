// The suite's harness: per-case temp folders, before/after snapshots of every protected file
// (sha256, size, mtime, inode), the `restora` CLI as a child process (its own process group, so
// a case can SIGKILL it and everything it started), process-tree peak RSS, report parsing and
// tolerant image comparison.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { BatchReport } from '../../app/contract/index.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// ---------------------------------------------------------------------------------------------
// assertions

export class CaseFailure extends Error {}
export class CaseSkip extends Error {}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CaseFailure(message);
}

export function skip(reason: string): never {
  throw new CaseSkip(reason);
}

// ---------------------------------------------------------------------------------------------
// snapshots

export interface Snap {
  kind: 'file' | 'link' | 'dir' | 'other';
  size: number;
  mtimeMs: number;
  ino: number;
  mode: number;
  sha256?: string;
  link?: string;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Snapshot a file or folder tree without following symlinks. */
export function snapshot(roots: string[]): Map<string, Snap> {
  const out = new Map<string, Snap>();
  const visit = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    const base = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode };
    if (st.isSymbolicLink()) out.set(p, { kind: 'link', ...base, link: readlinkSync(p) });
    else if (st.isFile()) out.set(p, { kind: 'file', ...base, sha256: sha256(p) });
    else if (st.isDirectory()) {
      out.set(p, { kind: 'dir', ...base, mtimeMs: 0, size: 0 }); // folders change when siblings are added
      for (const e of readdirSync(p)) visit(join(p, e));
    } else out.set(p, { kind: 'other', ...base });
  };
  for (const r of roots) visit(r);
  return out;
}

export interface SnapDiff {
  changed: string[]; // still there but different bytes, mtime, size, inode or link target
  lost: string[]; // no longer there
}

export function diffSnapshots(before: Map<string, Snap>, after: Map<string, Snap>): SnapDiff {
  const changed: string[] = [];
  const lost: string[] = [];
  for (const [p, a] of before) {
    const b = after.get(p);
    if (!b) {
      lost.push(p);
      continue;
    }
    const why: string[] = [];
    if (a.kind !== b.kind) why.push(`${a.kind}->${b.kind}`);
    if (a.sha256 !== b.sha256) why.push('content');
    if (a.kind !== 'dir' && a.mtimeMs !== b.mtimeMs) why.push('mtime');
    if (a.size !== b.size) why.push('size');
    if (a.ino !== b.ino) why.push('inode');
    if (a.link !== b.link) why.push('link target');
    if ((a.mode & 0o7777) !== (b.mode & 0o7777)) why.push('mode');
    if (why.length) changed.push(`${p} (${why.join(', ')})`);
  }
  return { changed, lost };
}

// ---------------------------------------------------------------------------------------------
// the CLI as a child process

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
  killed: boolean; // killed by the case (kill callback), not by the timeout
  overMemory: boolean; // killed by the harness because its tree passed maxRssMB
  msAfterInterrupt?: number; // from the interrupt signal to the child's exit
  peakRssMB: number; // largest VmHWM of any process in the child's tree
  report?: BatchReport; // the --json batch report, when one was printed
  json: unknown[]; // every JSON value printed on stdout (one per line, or the whole stdout)
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Called every ~30 ms while the child runs; return true to SIGKILL its whole process group. */
  killWhen?: () => boolean;
  /** Send `signal` once when `when()` turns true: to the whole process group (a terminal's Ctrl-C) or to the CLI process only. */
  interrupt?: { when: () => boolean; signal: NodeJS.Signals; group: boolean };
  /** Kill the child's tree when its RSS sum passes this (protects the machine). Default 6000 MB. */
  maxRssMB?: number;
  /** Sample process-tree RSS (MB) every `everyMs` with a caller-defined x (e.g. files done). */
  sample?: { everyMs: number; x: () => number; onSample: (x: number, rssMB: number) => void };
}

/** How the CLI is started: the launcher if it exists, else the TypeScript entry through tsx. */
export function cliCommand(): string[] {
  const bin = join(REPO, 'bin/restora.js');
  if (existsSync(bin)) return [process.execPath, bin];
  return [process.execPath, '--import', 'tsx', join(REPO, 'app/cli/main.ts')];
}

export function cliAvailable(): boolean {
  return existsSync(join(REPO, 'bin/restora.js')) || existsSync(join(REPO, 'app/cli/main.ts'));
}

function childrenOf(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(e));
      kids.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  return kids;
}

export function processTree(pid: number): number[] {
  const kids = childrenOf();
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** VmRSS and VmHWM of one process in MB (0 when it is gone). */
export function procMem(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const [cmd, ...pre] = cliCommand();
  const t0 = Date.now();
  const child = spawn(cmd, [...pre, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
    detached: true, // own process group: kill(-pid) reaches every process it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let peak = 0;
  let timedOut = false;
  let killed = false;
  let overMemory = false;
  let interruptedAt = 0;
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const hwmTree = () => {
    if (!child.pid) return;
    const pids = processTree(child.pid);
    let rss = 0;
    for (const p of pids) {
      const m = procMem(p);
      peak = Math.max(peak, m.hwm);
      rss += m.rss;
    }
    return rss;
  };
  let lastSample = 0;
  let lastHwm = 0;
  const tick = setInterval(() => {
    const now = Date.now();
    let rss: number | undefined;
    if (opts.sample && now - lastSample >= opts.sample.everyMs) {
      lastSample = now;
      rss = hwmTree();
      if (rss) opts.sample.onSample(opts.sample.x(), rss);
    } else if (now - lastHwm >= 250) {
      lastHwm = now;
      rss = hwmTree();
    }
    if (rss && rss > (opts.maxRssMB ?? 6000) && !overMemory) {
      overMemory = true;
      killGroup();
    }
    if (opts.interrupt && !interruptedAt && opts.interrupt.when()) {
      interruptedAt = Date.now();
      try {
        process.kill(opts.interrupt.group ? -child.pid! : child.pid!, opts.interrupt.signal);
      } catch {
        /* gone */
      }
    }
    if (opts.killWhen && !killed && opts.killWhen()) {
      killed = true;
      killGroup();
    }
  }, 30);
  const limit = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs ?? 120_000);
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => {
      clearInterval(tick);
      clearTimeout(limit);
      killGroup(); // nothing it started may outlive it
      const json = parseJsonOutput(stdout);
      const report = findReport(json);
      res({
        code,
        signal,
        stdout,
        stderr,
        ms: Date.now() - t0,
        timedOut,
        killed,
        overMemory,
        ...(interruptedAt ? { msAfterInterrupt: Date.now() - interruptedAt } : {}),
        peakRssMB: peak,
        report,
        json,
      });
    });
  });
}

/** Every JSON value on stdout: the whole text if it is one value, else one per line. */
export function parseJsonOutput(stdout: string): unknown[] {
  const t = stdout.trim();
  if (!t) return [];
  try {
    return [JSON.parse(t)];
  } catch {
    /* lines */
  }
  const out: unknown[] = [];
  for (const line of t.split('\n')) {
    const l = line.trim();
    if (!l.startsWith('{') && !l.startsWith('[')) continue;
    try {
      out.push(JSON.parse(l));
    } catch {
      /* not JSON */
    }
  }
  return out;
}

/** The last value that is (or wraps) a contract BatchReport. */
export function findReport(values: unknown[]): BatchReport | undefined {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i] as Record<string, unknown> | null;
    for (const cand of [v, v?.report, v?.batch, v?.payload, v?.data]) {
      const r = BatchReport.safeParse(cand);
      if (r.success) return r.data;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// images

export interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
  depth: 8 | 16;
  format: string;
  pages: number;
  orientation?: number;
  icc?: Buffer;
  space?: string;
  hasAlpha: boolean;
}

/** Decode a whole file strictly (any warning fails), as the user's viewer would display it. */
export async function decodeStrict(file: string, opts: { keep16?: boolean; srgb?: boolean } = {}): Promise<Decoded> {
  const meta = await sharp(file, { failOn: 'warning' }).metadata();
  const deep = meta.depth === 'ushort' && opts.keep16;
  let s = sharp(file, { failOn: 'warning' }).autoOrient();
  if (opts.srgb) s = s.toColourspace(deep ? 'rgb16' : 'srgb');
  else if (deep) s = s.toColourspace('rgb16');
  const { data, info } = await s.raw({ depth: deep ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  return {
    data,
    width: info.width,
    height: info.height,
    channels: info.channels,
    depth: deep ? 16 : 8,
    format: meta.format ?? '?',
    pages: meta.pages ?? 1,
    orientation: meta.orientation,
    icc: meta.icc,
    space: meta.space,
    hasAlpha: !!meta.hasAlpha,
  };
}

export interface PixelDiff {
  mean: number; // mean absolute difference on the image's own scale (0-255 or 0-65535)
  max: number;
  p99: number;
}

/** Compare two decoded images channel by channel (first `channels` channels of each). */
export function pixelDiff(a: Decoded, b: Decoded, channels = 3): PixelDiff {
  if (a.width !== b.width || a.height !== b.height) throw new CaseFailure(`size ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  const read = (d: Decoded, i: number) => (d.depth === 16 ? d.data.readUInt16LE(2 * i) : d.data[i]);
  const n = a.width * a.height;
  const hist: number[] = [];
  let sum = 0;
  let max = 0;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) {
      const ca = Math.min(c, a.channels - 1);
      const cb = Math.min(c, b.channels - 1);
      const d = Math.abs(read(a, p * a.channels + ca) - read(b, p * b.channels + cb));
      sum += d;
      if (d > max) max = d;
      hist.push(d);
    }
  }
  hist.sort((x, y) => x - y);
  return { mean: sum / hist.length, max, p99: hist[Math.floor(hist.length * 0.99)] ?? 0 };
}

export const IMAGE_EXT = /\.(jpe?g|png|tiff?|webp|gif|avif|heic|heif)$/i;

/** Image files under dir (recursive, no symlink following), relative paths sorted. */
/** Non-directory entries under dir (relative, sorted), without following symlinks, that `keep` accepts. */
function listFiles(dir: string, keep: (name: string, st: Stats) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      // a batch may be renaming its temp file while we look: a vanished entry is not an error
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (keep(e, st)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export function listImages(dir: string): string[] {
  return listFiles(dir, (e, st) => st.isFile() && IMAGE_EXT.test(e));
}

export function listAll(dir: string): string[] {
  return listFiles(dir, () => true);
}

/**
 * Every image under a final name in `dir` must decode completely (no partial file under a final
 * name). Returns the names that do not.
 */
export async function undecodable(dir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const f of listImages(dir)) {
    try {
      await sharp(join(dir, f), { failOn: 'truncated' }).raw().toBuffer();
    } catch (e) {
      bad.push(`${f}: ${(e as Error).message}`);
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------
// per-case context

export interface CaseResult {
  id: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
  ms: number;
  originalsChanged: number;
  filesLost: number;
}

export class Ctx {
  readonly dir: string;
  readonly in: string; // inputs: everything in here is protected automatically
  readonly out: string;
  readonly home: string;
  private protectedRoots: string[] = [];
  private before = new Map<string, Snap>();
  notes: string[] = [];
  readonly env: Record<string, string>;
  /** Output names (relative to `out`) the case itself damaged: exempt from the partial-file check. */
  readonly damaged = new Set<string>();
  private cleanups: (() => void)[] = [];

  constructor(
    readonly id: string,
    root: string,
    modelsDir: string,
  ) {
    this.dir = mkdtempSync(join(root, `${id}-`));
    this.in = join(this.dir, 'in');
    this.out = join(this.dir, 'out');
    this.home = join(this.dir, 'home');
    for (const d of [this.in, this.home]) mkdirSync(d, { recursive: true });
    this.env = {
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      RESTORA_MODELS_DIR: modelsDir,
      RESTORA_USER_MODELS_DIR: join(this.home, 'user-models'),
      RESTORA_DATA_DIR: join(this.home, 'data'),
      NO_COLOR: '1',
    };
  }

  /** Files or folders (outside `in`) that must survive byte for byte: earlier outputs, canaries. */
  protect(...paths: string[]): void {
    this.protectedRoots.push(...paths);
  }

  /** Take the "before" snapshot; called by the case once its fixtures exist. */
  seal(): void {
    this.before = snapshot([this.in, ...this.protectedRoots]);
  }

  /** Compare with the "before" snapshot. */
  verifyOriginals(): SnapDiff & { inputs: number } {
    const after = snapshot([this.in, ...this.protectedRoots]);
    return { ...diffSnapshots(this.before, after), inputs: [...this.before.values()].filter((s) => s.kind !== 'dir').length };
  }

  note(s: string): void {
    this.notes.push(s);
  }

  /** Run the CLI with this case's isolated HOME and models. */
  cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
    return runCli(args, { ...opts, env: { ...this.env, ...opts.env } });
  }

  /** Run at the end of the case, pass or fail (unmounts, closes). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  runCleanups(): string[] {
    const errs: string[] = [];
    for (const fn of this.cleanups.reverse()) {
      try {
        fn();
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    this.cleanups = [];
    return errs;
  }

  removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function makeRoot(): string {
  return mkdtempSync(join(tmpdir(), 'restora-reliability-'));
}

/** The text a user sees for one failed file must carry the code and name the file. */
export function errorNames(e: { code: string; message: string; file?: string } | undefined, code: string | string[], basename: string): string | undefined {
  const codes = Array.isArray(code) ? code : [code];
  if (!e) return 'no error reported';
  if (!codes.includes(e.code)) return `code ${e.code}, expected ${codes.join('|')} (${e.message})`;
  if (!e.message.includes(basename) && !(e.file ?? '').includes(basename)) return `message does not name ${basename}: "${e.message}"`;
  return undefined;
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
