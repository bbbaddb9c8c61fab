// Output naming: `<out dir>/<rel folder>/<base><suffix><ext>`, with `-1`, `-2` ... on a collision.
import path from 'node:path';
import type { OutputFormat } from '../../contract/index.ts';

const FORMAT_EXT: Record<Exclude<OutputFormat, 'keep'>, string> = { png: '.png', jpeg: '.jpg', tiff: '.tif', webp: '.webp' };

/** The extension of an output: the input's own (case kept) for 'keep', else the format's (as the writer's EXTENSION). */
export function outputExtension(input: string, format: OutputFormat): string {
  if (format !== 'keep') return FORMAT_EXT[format];
  const ext = path.extname(input);
  // the writer encodes HEIF sources as AVIF (no HEVC encoder): name them for what they hold
  return /^\.hei[cf]$/i.test(ext) ? '.avif' : ext;
}

/**
 * sharp's format name for the writer. For 'keep', the format the output's name says (the input's
 * extension, HEIF as AVIF), so a JPEG someone named `x.png` comes out as a real PNG named `x.png`;
 * the decoded format only when the extension says nothing the writer knows.
 */
export function writerFormat(input: string, format: OutputFormat, decoded?: string): string {
  if (format !== 'keep') return format;
  const ext = outputExtension(input, 'keep').toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg' || ext === '.jpe' || ext === '.jfif') return 'jpeg';
  if (ext === '.tif' || ext === '.tiff') return 'tiff';
  if (ext === '.png' || ext === '.webp' || ext === '.avif') return ext.slice(1);
  return decoded ?? ext.slice(1);
}

/** A key for claimed paths: case-folded where the usual file systems fold case. */
export function pathKey(p: string, platform: string = process.platform): string {
  const r = path.resolve(p);
  return platform === 'darwin' || platform === 'win32' ? r.normalize('NFC').toLowerCase() : r;
}

/** The natural output path of an input (no collision number). */
export function naturalOutput(input: string, rel: string, outDir: string, suffix: string, format: OutputFormat): string {
  const ext = outputExtension(input, format);
  const base = path.basename(input, path.extname(input)) + suffix;
  return path.join(outDir, path.dirname(rel), base + ext);
}

/** The n-th alternative of a natural output path: `photo.jpg` -> `photo-2.jpg`. */
export function numbered(natural: string, n: number): string {
  if (n === 0) return natural;
  const ext = path.extname(natural);
  return natural.slice(0, natural.length - ext.length) + `-${n}` + ext;
}
