import fsp from 'node:fs/promises';
import path from 'node:path';
import { RestoraError } from '../contract/index.ts';

/**
 * The engine's cache folder (<dataDir>/cache: region previews and display copies) holds only
 * files derived from photos, so it is kept under a size cap: when it outgrows the cap, the files
 * used longest ago go first until it is back under 80 % of it. Files younger than `minAgeMs` stay
 * (a preview the window is about to show, a temp file still being written), and so do files used
 * since `keepSince` (the CacheKeeper's start: the window may show any display copy it has been
 * given, for as long as it runs), so a folder full of fresh files may stay over the cap until the
 * next start. Symbolic links are never followed.
 */
export interface PruneOptions {
  maxBytes: number;
  minAgeMs?: number; // default 10 minutes
  keepSince?: number; // epoch ms: files used since then stay
  now?: number; // for tests
}

export interface PruneResult {
  files: number; // found before pruning
  bytes: number;
  removed: number;
  freed: number;
}

export const DEFAULT_CACHE_MB = 2048;
const DEFAULT_MIN_AGE_MS = 10 * 60_000;
const LOW_WATER = 0.8;

interface Entry {
  file: string;
  size: number;
  used: number; // mtime: a cache hit touches the file
}

async function walk(dir: string, out: Entry[], depth = 0): Promise<void> {
  if (depth > 8) return;
  let names: import('node:fs').Dirent[];
  try {
    names = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return; // missing or unreadable: nothing to prune there
  }
  for (const d of names) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) await walk(p, out, depth + 1);
    else if (d.isFile()) {
      const st = await fsp.lstat(p).catch(() => undefined);
      if (st?.isFile()) out.push({ file: p, size: st.size, used: st.mtimeMs });
    }
  }
}

export async function pruneCache(dir: string, o: PruneOptions): Promise<PruneResult> {
  const entries: Entry[] = [];
  await walk(dir, entries);
  const bytes = entries.reduce((s, e) => s + e.size, 0);
  const res: PruneResult = { files: entries.length, bytes, removed: 0, freed: 0 };
  if (bytes <= o.maxBytes) return res;
  const now = o.now ?? Date.now();
  const minAge = o.minAgeMs ?? DEFAULT_MIN_AGE_MS;
  const cutoff = Math.min(now - minAge, o.keepSince ?? Infinity);
  const target = o.maxBytes * LOW_WATER;
  let total = bytes;
  entries.sort((a, b) => a.used - b.used);
  for (const e of entries) {
    if (total <= target) break;
    if (e.used >= cutoff) break; // sorted: everything after is younger still
    try {
      await fsp.unlink(e.file);
      res.removed++;
      res.freed += e.size;
      total -= e.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') total -= e.size; // someone else removed it
    }
  }
  return res;
}

/** The cap from $RESTORA_CACHE_MB (megabytes), else DEFAULT_CACHE_MB. */
export function cacheMaxBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RESTORA_CACHE_MB;
  if (raw === undefined || raw.trim() === '') return DEFAULT_CACHE_MB * 1024 * 1024;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new RestoraError('E_USAGE', `RESTORA_CACHE_MB must be a positive number of megabytes (got "${raw}")`);
  }
  return Math.round(mb * 1024 * 1024);
}

/**
 * Keeps one cache folder under its cap: prunes on first use (`used`), then again whenever a tenth
 * of the cap has been written since the last prune. Only files last used
 * before the keeper was made can go: what this run made or used stays while it runs. One prune
 * runs at a time; failures are reported to `onError` and never reach the caller that wrote.
 */
export class CacheKeeper {
  private written = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private readonly since = Date.now();

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly onError: (e: unknown) => void = () => undefined,
    private readonly minAgeMs?: number,
  ) {}

  /** Start (or queue) a prune; resolves when the folder has been pruned. */
  prune(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.written = 0;
    this.running = pruneCache(this.dir, { maxBytes: this.maxBytes, keepSince: this.since, ...(this.minAgeMs !== undefined ? { minAgeMs: this.minAgeMs } : {}) })
      .then(
        () => undefined,
        (e) => this.onError(e),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.prune();
        }
      });
    return this.running;
  }

  /** The cache was used: a file of `bytes` written (0: a hit). The first use prunes what earlier runs left. */
  used(bytes = 0): void {
    if (!this.started) {
      this.started = true;
      void this.prune();
    } else this.added(bytes);
  }

  /** A file of `bytes` was added to the cache. */
  added(bytes: number): void {
    this.written += bytes;
    if (this.written >= this.maxBytes / 10) void this.prune();
  }

  /** A cached file was used: it becomes the newest, so it is pruned last. */
  async touch(file: string): Promise<void> {
    const t = new Date();
    await fsp.utimes(file, t, t).catch(() => undefined);
  }

  /** Wait for a prune in progress (tests, close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
