// The set of files the engine has opened as inputs in this process. The writer refuses to write
// over any of them, comparing both the resolved path and (device, inode), so neither a symlink nor
// a hard link to an original can be overwritten.
import fs from 'node:fs';
import path from 'node:path';

const byPath = new Set<string>();
const byInode = new Set<string>();

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

/** Remember `p` as an original (called by every decode). Cheap: a stat and a realpath. */
export function markInput(p: string, st?: fs.Stats): void {
  byPath.add(realOrResolved(p));
  try {
    const s = st ?? fs.statSync(p);
    byInode.add(`${s.dev}:${s.ino}`);
  } catch {
    // a file that vanished cannot be overwritten by accident either
  }
}

/** True when writing `p` would replace a file opened as an input (same path, link or inode). */
export function isInput(p: string): boolean {
  if (byPath.has(realOrResolved(p))) return true;
  try {
    const s = fs.statSync(p);
    return byInode.has(`${s.dev}:${s.ino}`);
  } catch {
    return false;
  }
}

/** For tests: forget every remembered input. */
export function clearInputs(): void {
  byPath.clear();
  byInode.clear();
}
