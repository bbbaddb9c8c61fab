// Which door the UI talks through, chosen once at startup: window.api (Electron preload) or the
// web-mode client (restora serve). Also how dropped or picked files become paths: Electron knows
// the real path of a File; a browser does not, so web mode uploads a copy and adds that.
import type { RestoraApi } from '../../../app/contract/index.ts';
import { createWebApi, takeToken, type WebApi } from './api-web.ts';

export interface Platform {
  mode: 'electron' | 'web';
  api: RestoraApi;
  /** Web mode only: the client (uploads, connection state). */
  web?: WebApi;
  /** Paths for dropped items (files and folders). */
  pathsFromDrop(dt: DataTransfer, recursive: boolean, onProgress?: (done: number, total: number) => void): Promise<string[]>;
  /** Paths for files from an <input type=file> (with webkitdirectory, a whole folder). */
  pathsFromPicked(files: File[], onProgress?: (done: number, total: number) => void): Promise<string[]>;
}

declare global {
  interface Window {
    api?: RestoraApi;
  }
}

/** Extensions worth uploading when a folder is dropped (the engine reports anything else it gets). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jfif', 'jpe', 'png', 'tif', 'tiff', 'webp', 'heic', 'heif', 'avif', 'gif', 'bmp'];

export function looksLikeImage(name: string): boolean {
  const ext = name.toLowerCase().split('.').pop() ?? '';
  return IMAGE_EXTENSIONS.includes(ext);
}

interface Picked {
  file: File;
  rel: string;
}

function readAllEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    // readEntries returns batches (100 in Chromium) until an empty one
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function entryFile(e: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => e.file(resolve, reject));
}

async function walk(entry: FileSystemEntry, prefix: string, recursive: boolean, depth: number, out: Picked[]): Promise<void> {
  if (entry.isFile) {
    if (depth > 0 && !looksLikeImage(entry.name)) return;
    out.push({ file: await entryFile(entry as FileSystemFileEntry), rel: prefix + entry.name });
  } else if (entry.isDirectory && (depth === 0 || recursive)) {
    for (const child of await readAllEntries(entry as FileSystemDirectoryEntry)) {
      await walk(child, `${prefix}${entry.name}/`, recursive, depth + 1, out);
    }
  }
}

/** Upload picked files into one server folder; returns the paths to add (folders as folders). */
async function uploadAll(web: WebApi, picked: Picked[], onProgress?: (done: number, total: number) => void): Promise<string[]> {
  let dir: string | undefined;
  let root = '';
  const paths = new Set<string>();
  const sep = (p: string) => (p.includes('\\') && !p.includes('/') ? '\\' : '/');
  let done = 0;
  onProgress?.(0, picked.length);
  for (const p of picked) {
    const r = await web.upload(p.file, p.rel, dir);
    dir = r.dir;
    root = r.root;
    const top = p.rel.split('/')[0];
    // a file inside a dropped folder: add the folder, so its tree is kept in the output
    paths.add(p.rel.includes('/') ? `${root}${sep(root)}${top}` : r.path);
    onProgress?.(++done, picked.length);
  }
  return [...paths];
}

function electronPlatform(api: RestoraApi): Platform {
  const pathOf = (f: File) => (api.pathForFile ? api.pathForFile(f) : '');
  return {
    mode: 'electron',
    api,
    async pathsFromDrop(dt) {
      return [...dt.files].map(pathOf).filter((p) => p.length > 0);
    },
    async pathsFromPicked(files) {
      return files.map(pathOf).filter((p) => p.length > 0);
    },
  };
}

function webPlatform(web: WebApi): Platform {
  return {
    mode: 'web',
    api: web,
    web,
    async pathsFromDrop(dt, recursive, onProgress) {
      const picked: Picked[] = [];
      const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null)).filter((e): e is FileSystemEntry => e !== null);
      if (entries.length > 0) {
        for (const e of entries) await walk(e, '', recursive, 0, picked);
      } else {
        for (const f of dt.files) picked.push({ file: f, rel: f.name });
      }
      return uploadAll(web, picked, onProgress);
    },
    async pathsFromPicked(files, onProgress) {
      const picked = files
        .map((f) => ({ file: f, rel: f.webkitRelativePath || f.name }))
        .filter((p) => !p.rel.includes('/') || looksLikeImage(p.rel));
      return uploadAll(web, picked, onProgress);
    },
  };
}

export function detectPlatform(win: Window = window): Platform {
  if (win.api && typeof win.api.call === 'function') return electronPlatform(win.api);
  let storage: Storage | undefined;
  try {
    storage = win.sessionStorage;
  } catch {
    storage = undefined;
  }
  const token = takeToken(win.location, storage, win.history);
  return webPlatform(createWebApi({ token }));
}
