// The set of files the engine has opened as inputs in this process. The writer refuses to write
// over any of them, comparing both the resolved path and (device, inode), so neither a symlink nor
// a hard link to an original can be overwritten.
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

const byPath = new Set<string>();
/** dev:ino -> when that file was born (0: not recorded) and the paths it was opened under */
const byInode = new Map<string, { birth: number; paths: Set<string> }>();

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

/** Remember `p` as an original (called by every decode). Cheap: a stat and a realpath. */
export function markInput(p: string, st?: fs.Stats): void {
  const real = realOrResolved(p);
  byPath.add(real);
  try {
    const s = st ?? fs.statSync(p);
    const key = `${s.dev}:${s.ino}`;
    const birth = s.birthtimeMs || 0;
    const known = byInode.get(key);
    if (known && known.birth === birth) known.paths.add(real);
    else byInode.set(key, { birth, paths: new Set([real]) }); // a new file under a reused number replaces the old mark
  } catch {
    // a file that vanished cannot be overwritten by accident either
  }
}

/** True when writing `p` would replace a file opened as an input (same path, link or inode). */
export function isInput(p: string): boolean {
  if (byPath.has(realOrResolved(p))) return true;
  let s: fs.Stats;
  try {
    s = fs.statSync(p);
  } catch {
    return false;
  }
  const known = byInode.get(`${s.dev}:${s.ino}`);
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

/** For tests: forget every remembered input. */
export function clearInputs(): void {
  byPath.clear();
  byInode.clear();
}
