// The files the engine has opened as inputs in this process. The writer refuses to write over any
// of them, comparing both the resolved path and (device, inode), so neither a symlink nor a hard
// link to an original can be overwritten. A batch keeps its own set of its inputs the same way
// (batch/run.ts): no output may be one of them.
//
// An inode number is only an identity while its file exists: once an original is deleted, the file
// system hands the number to the next new file (with atomic writes, often a temp file renamed over
// settings.json or an output). So an inode match counts only when it is still the same file: born
// at the same time where the file system records birth times, or else still reachable under a path
// it was opened as. Without that check a long-running app (web mode, the desktop app) refused to
// save its settings after some originals were deleted ("refusing to write over the original
// settings.json").
import fs from 'node:fs';
import path from 'node:path';

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

/** A set of files, known by resolved path and by (device, inode) while each is still the same file. */
export class FileMarks {
  readonly #byPath = new Set<string>();
  /** dev:ino -> when that file was born (0: not recorded) and the paths it was marked under */
  readonly #byInode = new Map<string, { birth: number; paths: Set<string> }>();

  /** Remember `p` (its stat, when the caller has one). Cheap: a stat and a realpath. */
  add(p: string, st?: fs.Stats): void {
    const real = realOrResolved(p);
    this.#byPath.add(real);
    try {
      const s = st ?? fs.statSync(p);
      const key = `${s.dev}:${s.ino}`;
      const birth = s.birthtimeMs || 0;
      const known = this.#byInode.get(key);
      if (known && known.birth === birth) known.paths.add(real);
      else this.#byInode.set(key, { birth, paths: new Set([real]) }); // a new file under a reused number replaces the old mark
    } catch {
      // a file that vanished cannot be overwritten by accident either
    }
  }

  /** True when `p` is one of the files (same path, a link to one, or the same inode). */
  has(p: string): boolean {
    if (this.#byPath.has(realOrResolved(p))) return true;
    let s: fs.Stats;
    try {
      s = fs.statSync(p);
    } catch {
      return false;
    }
    const known = this.#byInode.get(`${s.dev}:${s.ino}`);
    if (!known) return false;
    if (known.birth && s.birthtimeMs) return known.birth === s.birthtimeMs;
    for (const q of known.paths) {
      try {
        const t = fs.statSync(q);
        if (t.dev === s.dev && t.ino === s.ino) return true;
      } catch {
        // that path is gone: it proves nothing
      }
    }
    return false;
  }

  clear(): void {
    this.#byPath.clear();
    this.#byInode.clear();
  }
}

const engineInputs = new FileMarks();

/** Remember `p` as an original (called by every decode). */
export function markInput(p: string, st?: fs.Stats): void {
  engineInputs.add(p, st);
}

/** True when writing `p` would replace a file opened as an input (same path, link or inode). */
export function isInput(p: string): boolean {
  return engineInputs.has(p);
}

/** For tests: forget every remembered input. */
export function clearInputs(): void {
  engineInputs.clear();
}
