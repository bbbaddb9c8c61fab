// The set of files and folders the user chose (dialog, drop, files.add) plus what Restora made for
// them (outputs, previews, display copies, masks). Both the host (which paths calls may use) and
// main (which files restora:// may serve) keep one. Containment is decided on real paths, so `..`,
// symlinks and case tricks cannot reach a file outside the set; pure Node, no electron.
import fs from 'node:fs';
import path from 'node:path';

export interface GrantSet {
  /** Grant a file (just that file) or, with `tree`, a folder and everything under it. */
  grant(absPath: string, opts?: { tree?: boolean }): void;
  /** True if the real path of `p` is a granted file or lies inside a granted tree. */
  isGranted(p: string): boolean;
  /** True if `p` (real path) is a granted tree or inside one, or the folder of a granted file. */
  isGrantedDir(p: string): boolean;
  /** Every granted file and tree (real paths), to seed a restarted host. */
  list(): { files: string[]; trees: string[] };
  clear(): void;
  size(): number;
}

/**
 * Resolve `p` to its real path. A path that does not exist yet (an output folder still to be made)
 * resolves through its deepest existing ancestor, so a symlinked parent is still followed.
 */
export function realPath(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    if (parent === abs) return abs;
    return path.join(realPath(parent), path.basename(abs));
  }
}

/** `child` equals `parent` or lies inside it (both real, absolute). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function createGrantSet(): GrantSet {
  const files = new Set<string>();
  const trees = new Set<string>();
  const fileDirs = new Set<string>();
  const key = (p: string): string => (process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p);
  return {
    grant(absPath, opts) {
      const real = realPath(absPath);
      if (opts?.tree) trees.add(key(real));
      else {
        files.add(key(real));
        fileDirs.add(key(path.dirname(real)));
      }
    },
    isGranted(p) {
      const real = key(realPath(p));
      if (files.has(real)) return true;
      for (const t of trees) if (isInside(t, real)) return true;
      return false;
    },
    isGrantedDir(p) {
      const real = key(realPath(p));
      if (fileDirs.has(real)) return true;
      for (const t of trees) if (isInside(t, real)) return true;
      return false;
    },
    list: () => ({ files: [...files], trees: [...trees] }),
    clear() {
      files.clear();
      trees.clear();
      fileDirs.clear();
    },
    size: () => files.size + trees.size,
  };
}
