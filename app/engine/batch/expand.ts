// Expand what the user dropped or named (files and folders) into the image files of a batch.
//
// Rules (documented for the UI and the CLI alike):
// - A named file is taken as given (the user chose it), whatever its link status; it must have an
//   image extension, otherwise it is reported (E_UNSUPPORTED) rather than silently dropped.
// - A named folder is walked (recursively when asked). Inside it: hidden entries (dot files, which
//   include our own temp files and macOS `._` forks), our own output folders (named `restored`, or
//   holding a `.restora-batch-*.json` journal) and files without an image extension are skipped.
// - Symbolic links inside a folder are followed only when their real target lies inside the real
//   path of the dropped folder; a link that leads out of it (say to /etc) is skipped, and every
//   real folder is visited once, so link loops end.
// - `rel` is the file's path relative to the dropped folder (for a named file: its base name), so
//   an output tree can mirror the input tree. The dropped root is `path` minus `rel`.
// - A path that does not exist or cannot be read is an error naming it (E_NOT_FOUND); the walk goes on.
// - The same real file reached twice (named and inside a named folder, or through a link) is kept once.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { ErrorInfo, FileEntry, Ignored } from '../../contract/index.ts';

/** Extensions (lower case, with the dot) of the formats the engine decodes. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.tif', '.tiff', '.webp', '.heic', '.heif', '.avif',
]);

/** The default output folder's name (`<input folder>/restored`); such folders are never walked. */
export const OUTPUT_DIR_NAME = 'restored';

/** File names of batch journals; a folder holding one is one of our output folders. */
export const JOURNAL_PREFIX = '.restora-batch-';

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(p).toLowerCase());
}

export interface ExpandOptions {
  /** Extra folders never to walk (e.g. an explicit --out folder inside a dropped folder). */
  exclude?: string[];
}

function describe(e: unknown): string {
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  if (code === 'ELOOP') return 'is a link that loops';
  if (code === 'ENAMETOOLONG') return 'has a name that is too long for this system';
  return `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`;
}

function notFound(p: string, e: unknown): ErrorInfo {
  return { code: 'E_NOT_FOUND', message: `${p} ${describe(e)}`, file: p };
}

function isInside(child: string, parent: string): boolean {
  const r = path.relative(parent, child);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/**
 * Expand files and folders into image files.
 * @param paths files and folders, absolute or relative to the current directory
 * @param recursive walk sub-folders of named folders (default true)
 * @returns files sorted by root then `rel` (byte order), one error per unreadable path, and what
 *   the walk left out on purpose: files without an image extension (by extension) and, when not
 *   recursive, sub-folders (hidden entries and our own output folders are not counted)
 */
export async function expand(
  paths: string[],
  recursive = true,
  opts: ExpandOptions = {},
): Promise<{ files: FileEntry[]; errors: ErrorInfo[]; ignored: Ignored }> {
  const files: FileEntry[] = [];
  const errors: ErrorInfo[] = [];
  const ignored: Ignored = { files: 0, byExtension: {}, folders: 0 };
  const seenFiles = new Set<string>(); // real paths
  const exclude = new Set<string>();
  for (const ex of opts.exclude ?? []) {
    exclude.add(path.resolve(ex));
    try {
      exclude.add(await realpath(ex));
    } catch {
      // an excluded folder that does not exist yet excludes nothing
    }
  }

  const addFile = async (abs: string, real: string, rel: string, st: Stats): Promise<void> => {
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    files.push({ path: abs, size: st.size, rel });
  };

  /** A file in a folder that is not a photo Restora reads: left out, and counted by its extension ('.cr2' -> 12, '(none)'). */
  const leaveOut = (name: string): void => {
    const ext = path.extname(name).toLowerCase() || '(none)';
    ignored.files++;
    ignored.byExtension[ext] = (ignored.byExtension[ext] ?? 0) + 1;
  };

  for (const given of paths) {
    const abs = path.resolve(given);
    let st: Stats;
    let real: string;
    try {
      st = await stat(abs);
      real = await realpath(abs);
    } catch (e) {
      errors.push(notFound(given, e));
      continue;
    }
    if (st.isFile()) {
      if (!isImagePath(abs)) {
        errors.push({ code: 'E_UNSUPPORTED', message: `${given} is not an image file this app reads (${path.extname(abs) || 'no extension'}): Restora reads JPEG, PNG, TIFF, WebP and AVIF, so save it as PNG or TIFF first`, file: given });
        continue;
      }
      await addFile(abs, real, path.basename(abs), st);
      continue;
    }
    if (!st.isDirectory()) {
      errors.push({ code: 'E_UNSUPPORTED', message: `${given} is neither a file nor a folder`, file: given });
      continue;
    }
    const visited = new Set<string>([real]);
    const rootReal = real;
    // depth-first with an explicit stack: no recursion limit on deep trees
    const stack: { abs: string; rel: string; real: string }[] = [{ abs, rel: '', real }];
    const found: FileEntry[] = [];
    while (stack.length) {
      const dir = stack.pop()!;
      let names: string[];
      try {
        // read as bytes: a name that is not UTF-8 (an old Windows or network drive's archive) comes out of a
        // plain readdir with its bad bytes replaced, a path that then "does not exist"; say what it is instead
        names = [];
        for (const raw of await readdir(dir.abs, { encoding: 'buffer' })) {
          const name = raw.toString('utf8');
          if (Buffer.from(name, 'utf8').equals(raw)) names.push(name);
          else if (!name.startsWith('.') && isImagePath(name)) {
            const shown = path.join(dir.abs, name);
            errors.push({ code: 'E_UNSUPPORTED', message: `${shown} cannot be opened: its name is not valid UTF-8 (made on an old system or a network drive); rename it and add it again`, file: shown });
          } else if (!name.startsWith('.')) {
            leaveOut(name); // not a photo (or a folder): left out as other files are, and counted
          }
        }
        names.sort();
      } catch (e) {
        errors.push(notFound(dir.abs, e));
        continue;
      }
      if (dir.rel !== '' && names.some((n) => n.startsWith(JOURNAL_PREFIX))) continue; // one of our output folders
      const subdirs: { abs: string; rel: string; real: string }[] = [];
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const childAbs = path.join(dir.abs, name);
        const childRel = dir.rel ? path.join(dir.rel, name) : name;
        let lst: Stats;
        try {
          lst = await lstat(childAbs);
        } catch (e) {
          errors.push(notFound(childAbs, e));
          continue;
        }
        let cst = lst;
        let childReal = path.join(dir.real, name);
        if (lst.isSymbolicLink()) {
          try {
            childReal = await realpath(childAbs);
            cst = await stat(childAbs);
          } catch {
            continue; // dangling or looping link: nothing to process
          }
          if (!isInside(childReal, rootReal)) continue; // never leave the dropped folder
        }
        if (cst.isDirectory()) {
          if (name === OUTPUT_DIR_NAME) continue;
          if (exclude.has(childAbs) || exclude.has(childReal)) continue;
          if (!recursive) {
            ignored.folders++;
            continue;
          }
          if (visited.has(childReal)) continue;
          visited.add(childReal);
          subdirs.push({ abs: childAbs, rel: childRel, real: childReal });
        } else if (cst.isFile() && isImagePath(name)) {
          if (seenFiles.has(childReal)) continue;
          seenFiles.add(childReal);
          found.push({ path: childAbs, size: cst.size, rel: childRel });
        } else if (cst.isFile() && !name.startsWith(JOURNAL_PREFIX)) {
          leaveOut(name);
        }
      }
      // push in reverse so that the walk visits sub-folders in name order
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
    }
    found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    files.push(...found);
  }
  return { files, errors, ignored };
}

/** The folder a file was dropped from: `path` minus `rel`. */
export function rootOf(f: FileEntry): string {
  const p = path.resolve(f.path);
  const cut = p.length - f.rel.length;
  return cut > 0 && p.slice(cut) === f.rel ? p.slice(0, cut).replace(/[\\/]+$/, '') || path.sep : path.dirname(p);
}
