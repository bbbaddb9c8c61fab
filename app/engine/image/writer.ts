// The one writer. Every file the engine (and the app around it) writes goes through
// `writeFileAtomic`: temp file in the destination folder, fsync, rename, fsync the folder. A crash
// leaves either the old file or the new one, never half of one. Outputs of a batch are published
// exclusively instead (`Publish`): a file already under the name, or one that appears there
// while the output is being made, is never replaced unless the caller says it is its own. Images are encoded by
// `writeImage`, which re-embeds ICC (converting the sRGB pixels back to the original profile),
// EXIF (orientation reset to 1), XMP and the resolution, writes grey sources back as grey, and
// refuses to write over any file opened as an input.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { RestoraError } from '../../contract/index.ts';
import type { RgbImage } from '../api.ts';
import { isInput } from './inputs.ts';
import {
  exifTiff, getExifResolution, iccIsGrey, iccIsRgb, setExifOrientation, setExifPixelSize, setExifResolution, spliceExifJpeg, spliceExifPng, spliceExifWebp, spliceIccPng, xmpAddHistory, xmpResetOrientation, type XmpHistoryEvent,
} from './metadata.ts';
import { planarToInterleaved } from './pixels.ts';

export type WriteFormat = 'png' | 'jpeg' | 'tiff' | 'webp' | 'avif';

export interface WriteImageOptions {
  /** 'keep' (the source format), png, jpeg/jpg, tiff/tif, webp, avif/heif. Default: from the extension, else the source format. */
  format?: string;
  /** 1-100 for JPEG, WebP and AVIF (WebP at 100 is lossless). Default 92. */
  quality?: number;
  /** 8 or 16 bits per sample; 16 only for PNG and TIFF. Default: the source's depth where the format allows. */
  bitDepth?: 8 | 16;
  /** What made this output, added to the XMP processing history (`xmpMM:History`) the source's XMP carries */
  history?: XmpHistoryEvent;
  /** Publish exclusively: never over a file the caller does not call its own (see `Publish`). Absent: replace what is there. */
  publish?: Publish;
}

/**
 * How a finished temp file takes its final name when it must not replace what is there (batch
 * outputs): hard-linked in, which fails when the name exists, however late the other file came.
 */
export interface Publish {
  /**
   * Whether an existing file at `target` may be replaced (a batch's own earlier output, checked
   * now, not when the batch began). Absent: never.
   */
  mayReplace?: (target: string) => boolean | Promise<boolean>;
  /** The next name to try after `taken` was in the way (same folder); undefined: give up (E_WRITE). */
  nextName: (taken: string) => string | undefined | Promise<string | undefined>;
  /**
   * Told the bytes' size and SHA-256 ('sha256:<hex>') once they are on disk, before they take any
   * final name: a batch records them first, so that after a crash it knows the file as its own.
   */
  beforePublish?: (info: { size: number; hash: string }) => void | Promise<void>;
}

const FORMAT_ALIASES: Record<string, WriteFormat> = {
  png: 'png', jpeg: 'jpeg', jpg: 'jpeg', tiff: 'tiff', tif: 'tiff', webp: 'webp', avif: 'avif', heif: 'avif', heic: 'avif',
};

/** The extension the writer uses for a format. */
export const EXTENSION: Record<WriteFormat, string> = { png: '.png', jpeg: '.jpg', tiff: '.tif', webp: '.webp', avif: '.avif' };

/** Resolve a requested format ('keep', alias, or none) against the output name and the source. */
export function resolveFormat(requested: string | undefined, outPath: string, sourceFormat?: string): WriteFormat {
  const fromExt = FORMAT_ALIASES[path.extname(outPath).slice(1).toLowerCase()];
  const fromSource = sourceFormat ? FORMAT_ALIASES[sourceFormat] : undefined;
  if (!requested) return fromExt ?? fromSource ?? 'png';
  if (requested === 'keep') return fromSource ?? fromExt ?? 'png';
  const f = FORMAT_ALIASES[requested.toLowerCase()];
  if (!f) throw new RestoraError('E_USAGE', `unknown output format "${requested}" (use keep, png, jpeg, tiff or webp)`);
  return f;
}

function writeError(e: unknown, file: string): RestoraError {
  if (e instanceof RestoraError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const base = path.basename(file);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new RestoraError('E_READ_ONLY', `cannot write ${base}: the folder is read-only or not writable`, file);
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') return new RestoraError('E_NO_SPACE', `cannot write ${base}: the disk is full`, file);
  if (code === 'ENAMETOOLONG') return new RestoraError('E_WRITE', `cannot write ${base}: the file name is too long`, file);
  if (code === 'ENOTDIR' || code === 'EEXIST') return new RestoraError('E_WRITE', `cannot write ${base}: a file is in the way of its folder`, file);
  if (code === 'EISDIR') return new RestoraError('E_WRITE', `cannot write ${base}: a folder has that name`, file);
  const msg = e instanceof Error ? e.message : String(e);
  return new RestoraError('E_WRITE', `cannot write ${base} (${code ?? msg})`, file);
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // not every platform can fsync a directory (Windows); the rename is still atomic there
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * link() errors that are about the target, not about hard links: these are the write's own failure. Any
 * other error means this file system has no hard links as we use them (FAT/exFAT cards say EPERM on
 * Linux and EISDIR on Windows, nodejs/node#65817; network and FUSE mounts say ENOTSUP, EXDEV, ENOSYS,
 * EACCES...), and the look-then-rename fallback publishes instead.
 */
const LINK_FAILS_THE_WRITE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'ENOENT', 'ENAMETOOLONG']);

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return false;
    throw e;
  }
}

/** Give the finished temp file its final name without replacing anything `publish` does not allow; returns the name. */
async function publishExclusive(tmp: string, file: string, publish: Publish): Promise<string> {
  let target = file;
  const next = async (taken: string): Promise<string> => {
    const n = await publish.nextName(taken);
    if (!n) throw new RestoraError('E_WRITE', `cannot write ${path.basename(file)}: the name is taken`, file);
    return n;
  };
  for (;;) {
    if (isInput(target)) {
      target = await next(target);
      continue;
    }
    if (publish.mayReplace && (await exists(target))) {
      if (await publish.mayReplace(target)) {
        await fsp.rename(tmp, target);
        return target;
      }
      target = await next(target);
      continue;
    }
    let linked = false;
    try {
      await fsp.link(tmp, target); // EEXIST when the name is there, however late it came
      linked = true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException)?.code ?? '';
      if (code === 'EEXIST') {
        target = await next(target);
        continue;
      }
      if (LINK_FAILS_THE_WRITE.has(code)) throw e;
    }
    if (linked) {
      await fsp.unlink(tmp).catch(() => undefined); // left behind, it is a stale temp the next run removes
      return target;
    }
    // no hard links on this file system: look, then rename. A file that appears between the two
    // is replaced (a small race that only link() closes)
    if (await exists(target)) {
      target = await next(target);
      continue;
    }
    await fsp.rename(tmp, target);
    return target;
  }
}

/**
 * Write `data` to `file` atomically: a temp file in the same folder (created exclusively),
 * fsync, rename over the destination, fsync the folder. Creates missing parent folders.
 * Refuses to replace a file opened as an input. With `publish`, nothing is replaced that it does
 * not allow: a name in the way gives way to `publish.nextName`'s. Returns the path written.
 * Errors: E_READ_ONLY (EACCES/EPERM/EROFS), E_NO_SPACE (ENOSPC, the temp file is removed),
 * E_WRITE otherwise; each names the file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, publish?: Publish): Promise<string> {
  if (isInput(file)) {
    throw new RestoraError('E_WRITE', `refusing to write over the original ${path.basename(file)}; choose another name or folder`, file);
  }
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.restora-${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`);
  let fh: fsp.FileHandle | undefined;
  let created = false;
  let written = file;
  try {
    await fsp.mkdir(dir, { recursive: true });
    fh = await fsp.open(tmp, 'wx', 0o644);
    created = true;
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (publish) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      await publish.beforePublish?.({ size: bytes.length, hash: `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}` });
      written = await publishExclusive(tmp, file, publish);
    } else {
      await fsp.rename(tmp, file);
    }
    created = false;
    await fsyncDir(dir);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    throw writeError(e, written);
  }
  return written;
}

const iccFiles = new Map<string, string>();

/** sharp embeds profiles from a file path: keep one temp copy per distinct profile. */
async function iccPath(icc: Buffer): Promise<string> {
  const key = crypto.createHash('sha256').update(icc).digest('hex').slice(0, 32);
  const known = iccFiles.get(key);
  if (known) return known;
  const p = path.join(os.tmpdir(), `restora-icc-${process.getuid?.() ?? 'u'}`, `${key}.icc`);
  await writeFileAtomic(p, icc);
  iccFiles.set(key, p);
  return p;
}

export const DEFAULT_QUALITY = 92;

/** Formats with a grey mode: a grey source is written back as grey there (WebP/AVIF stay RGB). */
const GREY_FORMATS: ReadonlySet<WriteFormat> = new Set(['png', 'jpeg', 'tiff']);

/** Resolution written when the source has none, where sharp would otherwise write 1 px/mm (25.4 dpi). */
const DEFAULT_DENSITY: Partial<Record<WriteFormat, number>> = { png: 72, tiff: 72 };

/** Planar RGB -> planar RGB whose three planes are all the mean of R, G and B (a grey image). */
function greyPlanes(data: Float32Array, n: number): Float32Array {
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const v = (data[i] + data[n + i] + data[2 * n + i]) / 3;
    out[i] = v;
    out[n + i] = v;
    out[2 * n + i] = v;
  }
  return out;
}

/** JPEG has no alpha: the encoder flattens an image that has an alpha plane onto white. */
const flattens = (img: RgbImage, format: WriteFormat): boolean => format === 'jpeg' && !!img.alpha && img.alpha.length === img.width * img.height;

function safeExifResolution(tiff: Buffer): number | undefined {
  try {
    return getExifResolution(tiff);
  } catch {
    return undefined;
  }
}

/** The source's EXIF, as the output's: orientation 1, the output's pixel size and resolution; undefined when it had none. */
function outputExif(img: RgbImage, density: number | undefined): Buffer | undefined {
  const tiff = img.meta?.exif ? exifTiff(img.meta.exif) : undefined;
  if (!tiff) return undefined;
  let fixed = setExifPixelSize(setExifOrientation(tiff, 1), img.width, img.height);
  if (density) {
    try {
      fixed = setExifResolution(fixed, density);
    } catch {
      // a block we cannot parse keeps its own resolution tags; the pixels and the rest still go out
    }
  }
  return fixed;
}

/** What an output of `img` in `format` cannot keep, in words for the user ([] when nothing). */
export function writeLosses(img: RgbImage, format: string): string[] {
  const losses: string[] = [];
  if (flattens(img, format as WriteFormat) && img.alpha!.some((a) => a < 1)) losses.push('transparency flattened onto white (JPEG has none)');
  // libvips writes no EXIF into TIFF: the camera, lens, date and exposure would go without a word
  if (FORMAT_ALIASES[format] === 'tiff' && img.meta?.exif && exifTiff(img.meta.exif)) losses.push('EXIF (camera, lens, date, exposure) not kept: Restora cannot write EXIF into TIFF');
  return losses;
}

/**
 * Encode an engine image (planar float32 RGB, [0,1], clipped here; sRGB) to file bytes.
 * ICC: an RGB source profile is re-applied (pixels converted sRGB -> that profile, profile
 * embedded); a CMYK source profile cannot describe RGB output, so sRGB is embedded instead.
 * Grey (`meta.grey`, the source was greyscale): the three planes are averaged; PNG, JPEG and TIFF
 * are written as grey (1 channel, or grey + alpha) at the usual depth, WebP/AVIF as RGB with equal
 * channels. A grey source profile is kept on grey output: 8-bit grey pixels were converted to sRGB
 * on decode, so they are converted back; 16-bit grey pixels never left the profile's encoding
 * (sharp does not colour-manage them), so the profile is embedded as it is. On RGB output a grey
 * profile cannot be used and sRGB is embedded.
 * Resolution: `meta.density` (pixels per inch) is written as is (JPEG/WebP: EXIF; PNG: pHYs and
 * EXIF; TIFF: XResolution/YResolution in inches; AVIF: EXIF); without one, PNG and TIFF get 72.
 * EXIF: spliced in for JPEG, PNG and WebP with orientation 1 (and the resolution), carried into AVIF by
 * libvips; TIFF gets none (libvips cannot write it there: `writeLosses` says so). XMP: kept (orientation 1), with
 * `opts.history` added to its processing history (a new packet when the source had none).
 * Alpha: kept for PNG, TIFF, WebP, AVIF; JPEG has none, so transparent pixels are flattened on white.
 */
export async function encodeImage(img: RgbImage, format: WriteFormat, opts: Omit<WriteImageOptions, 'format'> = {}): Promise<Buffer> {
  const { width, height } = img;
  if (img.data.length !== 3 * width * height) throw new RestoraError('E_INTERNAL', `image data has ${img.data.length} values for ${width} x ${height} x 3`);
  const meta = img.meta;
  // not given: 92, or for JPEG output a JPEG source's own quality when it was saved higher (a
  // camera's q98 stays q98)
  const fromSource = format === 'jpeg' ? (meta?.jpegQuality ?? 0) : 0;
  const quality = Math.min(100, Math.max(1, Math.round(opts.quality ?? Math.max(DEFAULT_QUALITY, fromSource))));
  const wants16 = (opts.bitDepth ?? meta?.bitDepth ?? 8) === 16;
  const depth: 8 | 16 = wants16 && (format === 'png' || format === 'tiff') ? 16 : 8;
  const alpha = img.alpha && img.alpha.length === width * height ? img.alpha : undefined;
  const grey = !!meta?.grey;
  const greyOut = grey && GREY_FORMATS.has(format);
  const greySpace = depth === 16 ? 'grey16' : 'b-w';
  const raw = planarToInterleaved(grey ? greyPlanes(img.data, width * height) : img.data, alpha, width, height, depth);
  const rawInput = { raw: { width, height, channels: alpha ? 4 : 3 }, limitInputPixels: false } as const;
  let density = meta?.density && meta.density > 0 ? meta.density : DEFAULT_DENSITY[format];
  const sourceExif = meta?.exif ? exifTiff(meta.exif) : undefined;
  // libvips writes the image's resolution into the EXIF it carries into AVIF, 25.4 dpi when none
  // was set: the block's own resolution, else 72
  if (!density && format === 'avif' && sourceExif) density = safeExifResolution(sourceExif) ?? 72;
  const exif = outputExif(img, density);
  const greyIcc = greyOut && meta?.icc && iccIsGrey(meta.icc) ? meta.icc : undefined;
  const greyIccAsIs = !!greyIcc && meta?.bitDepth === 16;
  let s: Sharp;
  try {
    if (greyIcc && greyIccAsIs) {
      // sharp converts pixels whenever it embeds a profile; to embed one as it is, the pixels go
      // through a PNG that carries it, and sharp keeps the input's profile untouched
      const carrier = await sharp(raw, rawInput).toColourspace(greySpace).png({ compressionLevel: 0 }).toBuffer();
      s = sharp(spliceIccPng(carrier, greyIcc), { limitInputPixels: false }).keepIccProfile();
    } else if (format === 'avif' && exif) {
      // libvips writes into AVIF the EXIF its input carries (there is no splicing it in afterwards,
      // as for JPEG, PNG and WebP): the pixels go through a PNG that carries the block
      const carrier = await sharp(raw, rawInput).png({ compressionLevel: 0 }).toBuffer();
      s = sharp(spliceExifPng(carrier, exif), { limitInputPixels: false }).keepExif();
    } else {
      s = sharp(raw, rawInput);
    }
  } catch (e) {
    throw new RestoraError('E_WRITE', `could not encode the image as ${format.toUpperCase()} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (flattens(img, format)) s = s.flatten({ background: '#ffffff' });
  if (greyOut && greyIcc && !greyIccAsIs) {
    // sRGB (equal channels) -> the grey profile: libvips gives 1 band (+ alpha) in its encoding
    if (depth === 16) s = s.toColourspace('rgb16');
    s = s.withIccProfile(await iccPath(greyIcc));
  } else if (greyOut) {
    s = s.toColourspace(greySpace); // exact for equal channels
  } else {
    if (depth === 16) s = s.toColourspace('rgb16');
    if (meta?.icc && iccIsRgb(meta.icc)) s = s.withIccProfile(await iccPath(meta.icc));
    else if (meta?.icc) s = s.withIccProfile('srgb');
  }
  const sourceXmp = meta?.xmp && meta.xmp.length ? xmpResetOrientation(meta.xmp.toString('utf8')) : undefined;
  const xmp = opts.history ? xmpAddHistory(sourceXmp, opts.history) : sourceXmp;
  if (xmp?.trim()) s = s.withXmp(xmp);
  if (density) s = s.withDensity(density); // sharp also writes a small EXIF block (resolution, orientation 1)
  switch (format) {
    case 'png':
      s = s.png({ compressionLevel: 6 });
      break;
    case 'jpeg':
      s = s.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0', mozjpeg: false });
      break;
    case 'tiff':
      s = s.tiff({ compression: 'deflate', predictor: 'horizontal' }); // sharp's default (JPEG) would force 8-bit and lose detail
      break;
    case 'webp':
      s = quality >= 100 ? s.webp({ lossless: true }) : s.webp({ quality, alphaQuality: 100 });
      break;
    case 'avif':
      s = s.avif({ quality, effort: 4 });
      break;
  }
  let out: Buffer;
  try {
    out = await s.toBuffer();
  } catch (e) {
    throw new RestoraError('E_WRITE', `could not encode the image as ${format.toUpperCase()} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (exif) {
    // replaces the EXIF block sharp wrote for the density, so it says the density too
    if (format === 'jpeg') out = spliceExifJpeg(out, exif);
    else if (format === 'png') out = spliceExifPng(out, exif);
    else if (format === 'webp') out = spliceExifWebp(out, exif, width, height);
  }
  return out;
}

/**
 * Encode and write an image atomically to `file` (the caller chooses the names: `file`, and with
 * `opts.publish` the ones to try when it is taken). Returns the path written. Throws E_WRITE when
 * `file` is an open input.
 */
export async function writeImage(img: RgbImage, file: string, opts: WriteImageOptions = {}): Promise<string> {
  if (isInput(file)) {
    throw new RestoraError('E_WRITE', `refusing to write over the original ${path.basename(file)}; choose another name or folder`, file);
  }
  const format = resolveFormat(opts.format, file, img.meta?.format);
  let bytes: Buffer;
  try {
    bytes = await encodeImage(img, format, opts);
  } catch (e) {
    const r = RestoraError.from(e);
    throw new RestoraError(r.code, `${path.basename(file)}: ${r.message}`, file);
  }
  return writeFileAtomic(file, bytes, opts.publish);
}
