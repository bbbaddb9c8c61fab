// Decoding with sharp: every photo enters the engine here.
//
// Policy (documented for users in the README of the engine):
// - Formats: JPEG, PNG, WebP, TIFF, and HEIF/AVIF where sharp's build reads them (this build reads
//   AVIF; HEVC-coded HEIC is refused with E_UNSUPPORTED). GIF, SVG, PDF, PSD, BMP and camera RAW
//   are refused with E_UNSUPPORTED before any decoder sees the file.
// - Multi-page TIFF and animated WebP are refused (E_UNSUPPORTED): we never process one page of a
//   document silently. A HEIF container's primary image is read.
// - EXIF orientation is applied once, here (pixels come out upright); `meta.orientation` keeps
//   the tag as read and the writer resets it to 1.
// - ICC: pixels are converted from the embedded profile to sRGB for the model; the profile bytes
//   are kept in `meta.icc` for the writer. CMYK and greyscale become RGB; palettes are expanded.
//   sharp does not colour-manage 16-bit grey: those pixels stay in the profile's own encoding.
// - A greyscale source (1 channel, or grey + alpha) sets `meta.grey`: the engine works in RGB and
//   the writer turns the result back into grey.
// - Resolution: `meta.density` (pixels per inch) as sharp reads it; for WebP/HEIF, which sharp
//   reads none from, the EXIF XResolution. The writer carries it into the output.
// - 16-bit PNG/TIFF decode to 16-bit precision (`meta.bitDepth` 16); everything else is 8-bit.
// - Alpha is split off into `alpha` and never reaches a model.
// - `limitInputPixels` (default 200 MP) is checked on the header, before pixels are decoded.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { RestoraError } from '../../contract/index.ts';
import type { ImageMeta, RgbImage } from '../api.ts';
import { markInput } from './inputs.ts';
import { estimateJpegQuality, exifTiff, getExifResolution } from './metadata.ts';
import { interleavedToPlanar } from './pixels.ts';
import { sniff, type ReadableFormat } from './sniff.ts';

/** Default decompression-bomb guard: 200 megapixels (upright width x height). */
export const DEFAULT_MAX_PIXELS = 200_000_000;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (E_TOO_LARGE). Default 200e6. */
  maxPixels?: number;
  /** Decode only this rectangle, in upright (EXIF-rotated) pixel coordinates. */
  region?: { left: number; top: number; width: number; height: number };
  /** Remember the file as an original the writer never replaces (default true; masks are not). */
  markAsInput?: boolean;
}

/** What the header says, after the checks; sizes are upright (EXIF orientation applied). */
export interface ImageHeader {
  path: string;
  format: ReadableFormat;
  width: number;
  height: number;
  bitDepth: 8 | 16;
  hasAlpha: boolean;
  channels: number;
  space: string;
  orientation?: number;
  icc?: Buffer;
  exif?: Buffer;
  xmp?: Buffer;
  density?: number; // pixels per inch
  jpegQuality?: number; // JPEG sources: the quality it was saved at, estimated
  size: number; // bytes on disk
  mtimeMs: number;
}

const FORMAT_NAME: Record<ReadableFormat, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', tiff: 'TIFF', heif: 'HEIF' };

function fail(code: ConstructorParameters<typeof RestoraError>[0], file: string, reason: string): RestoraError {
  return new RestoraError(code, `${path.basename(file)} ${reason}`, file);
}

/** Turn a libvips/sharp error into our code and a short reason. */
function mapSharpError(e: unknown, file: string, format?: ReadableFormat): RestoraError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/exceeds pixel limit/i.test(msg)) return fail('E_TOO_LARGE', file, 'is larger than the pixel limit');
  const fmt = format ? FORMAT_NAME[format] : 'image';
  if (/premature end|truncat|unexpected end|end of (file|stream)|not enough data|short read|read error|out of data/i.test(msg)) {
    return fail('E_DECODE', file, `is not a readable image (truncated ${fmt})`);
  }
  if (/compression|unsupported|codec|plugin/i.test(msg) && format === 'heif') {
    return fail('E_UNSUPPORTED', file, 'is a HEIF image this build cannot decode (only AVIF is supported); export it as JPEG');
  }
  const first = msg.split('\n').find((l) => l.trim()) ?? msg;
  const detail = first.replace(/^(Input (file|buffer) (has corrupt header|contains unsupported image format|is missing)?:?\s*)/i, '').replace(/^Vips\w+:\s*/, '').trim();
  return fail('E_DECODE', file, `is not a readable image (corrupt ${fmt} data${detail ? `: ${detail.slice(0, 120)}` : ''})`);
}

async function statInput(file: string): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fail('E_NOT_FOUND', file, 'does not exist');
    if (code === 'EACCES' || code === 'EPERM') throw fail('E_DECODE', file, 'cannot be read (permission denied)');
    throw fail('E_DECODE', file, `cannot be read (${code ?? 'error'})`);
  }
  if (st.isDirectory()) throw fail('E_UNSUPPORTED', file, 'is a folder, not an image file');
  if (!st.isFile()) throw fail('E_UNSUPPORTED', file, 'is not a regular file');
  if (st.size === 0) throw fail('E_DECODE', file, 'is not a readable image (empty file, 0 bytes)');
  return st;
}

const HEAD_BYTES = 65536;

async function readHead(file: string, bytes = HEAD_BYTES): Promise<Buffer> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail('E_NOT_FOUND', file, 'does not exist');
    throw fail('E_DECODE', file, `cannot be read (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? 'error'})`);
  } finally {
    await fh?.close();
  }
}

function sharpOptions(maxPixels: number): SharpOptions {
  return { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true, pages: 1, sequentialRead: true, unlimited: false };
}

/**
 * Read and check the header of an image file: format allow-list, pixel limit, pages, bit depth.
 * Throws RestoraError (E_NOT_FOUND, E_DECODE, E_UNSUPPORTED, E_TOO_LARGE) naming the file.
 */
export async function probeImage(file: string, opts: { maxPixels?: number } = {}): Promise<ImageHeader> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const st = await statInput(file);
  const head = await readHead(file);
  const sn = sniff(head, file);
  if (!sn.ok) throw fail(sn.code, file, sn.reason);
  let m: Metadata;
  try {
    // the limit is checked by us below with a clearer sentence; sharp's own check stays as a backstop
    m = await sharp(file, { ...sharpOptions(Math.max(maxPixels, 1)), limitInputPixels: false }).metadata();
  } catch (e) {
    throw mapSharpError(e, file, sn.format);
  }
  if (m.format && m.format !== sn.format && !(sn.format === 'heif' && m.format === 'heif')) {
    throw fail('E_DECODE', file, `is not a readable image (looks like ${FORMAT_NAME[sn.format]} but decodes as ${m.format})`);
  }
  if (sn.format === 'heif' && m.compression === 'hevc') {
    throw fail('E_UNSUPPORTED', file, 'is a HEIC photo (HEVC-coded), which this build cannot decode; export it as JPEG or AVIF');
  }
  if ((m.pages ?? 1) > 1 && sn.format !== 'heif') {
    const what = sn.format === 'webp' ? `is animated (${m.pages} frames)` : `has ${m.pages} pages`;
    throw fail('E_UNSUPPORTED', file, `${what}; Restora processes single images (save the one you want as its own file)`);
  }
  const width = m.autoOrient?.width ?? m.width;
  const height = m.autoOrient?.height ?? m.height;
  if (!width || !height) throw fail('E_DECODE', file, 'is not a readable image (no image size in the header)');
  if (width * height > maxPixels) {
    const mp = (width * height / 1e6).toFixed(0);
    throw fail('E_TOO_LARGE', file, `is ${width} x ${height} (${mp} MP), over the ${(maxPixels / 1e6).toFixed(0)} MP limit`);
  }
  if (m.depth !== 'uchar' && m.depth !== 'ushort') {
    throw fail('E_UNSUPPORTED', file, `has ${m.depth} samples; Restora reads 8- and 16-bit images`);
  }
  if ((m.channels ?? 3) > 5) throw fail('E_UNSUPPORTED', file, `has ${m.channels} channels`);
  // sharp reports a density only above 1 px/mm; WebP and HEIF keep theirs in EXIF only
  let density = m.density;
  if (!density && (sn.format === 'webp' || sn.format === 'heif') && m.exif) {
    const tiff = exifTiff(m.exif);
    const dpi = tiff ? getExifResolution(tiff) : undefined;
    if (dpi && dpi > 25.4) density = Math.round(dpi * 100) / 100;
  }
  return {
    path: file,
    format: sn.format,
    width,
    height,
    bitDepth: m.depth === 'ushort' ? 16 : 8,
    hasAlpha: !!m.hasAlpha,
    channels: m.channels ?? 3,
    space: m.space ?? 'srgb',
    orientation: m.orientation,
    icc: m.icc,
    exif: m.exif,
    xmp: m.xmp,
    density,
    ...(sn.format === 'jpeg' ? { jpegQuality: await jpegQualityOf(file, head) } : {}),
    size: st.size,
    mtimeMs: st.mtimeMs,
  };
}

/** sharp pipeline that yields upright sRGB(16) pixels, interleaved RGB or RGBA. */
function pixelPipeline(file: string, h: ImageHeader, maxPixels: number, region?: DecodeOptions['region']): Sharp {
  let s = sharp(file, sharpOptions(maxPixels));
  if (region) s = s.extract(region);
  // CMYK and grey become RGB here; the embedded ICC profile (if any) drives the conversion.
  s = h.bitDepth === 16 ? s.toColourspace('rgb16') : s.toColourspace('srgb');
  return s.raw(h.bitDepth === 16 ? { depth: 'ushort' } : {});
}

/**
 * A JPEG's quality from the head already read; the table usually sits in it, but a large EXIF or
 * ICC segment can push it further, so a full head that held none is read again, longer.
 */
async function jpegQualityOf(file: string, head: Buffer): Promise<number | undefined> {
  const q = estimateJpegQuality(head);
  return q !== undefined || head.length < HEAD_BYTES ? q : estimateJpegQuality(await readHead(file, 4 * HEAD_BYTES));
}

/** A greyscale source: 1 channel, or grey + alpha (sharp's spaces b-w and grey16). */
function isGreyHeader(h: Pick<ImageHeader, 'space' | 'channels'>): boolean {
  return h.space === 'b-w' || h.space === 'grey16' || h.channels <= 2;
}

function metaOf(h: ImageHeader): ImageMeta {
  const meta: ImageMeta = { format: h.format, bitDepth: h.bitDepth, icc: h.icc, exif: h.exif, xmp: h.xmp, orientation: h.orientation };
  if (h.density) meta.density = h.density;
  if (h.jpegQuality) meta.jpegQuality = h.jpegQuality;
  if (isGreyHeader(h)) meta.grey = true;
  return meta;
}

/**
 * Decode a photo into the engine's form: planar float32 RGB (CHW, R,G,B) in [0,1], sRGB, upright;
 * alpha (HW, [0,1]) kept apart; ICC/EXIF/XMP, format and bit depth in `meta`.
 * `region` (upright pixels) decodes only that rectangle (used by the region preview).
 */
export async function decode(file: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const h = await probeImage(file, { maxPixels });
  // an original from now on: the writer never writes over it. Only decoding for pixels marks a
  // file; a look at its header or a display copy (the window's thumbnails and After view, which
  // show our own outputs too) does not, or a rerun could not write those outputs again.
  if (opts.markAsInput !== false) markInput(file);
  const region = opts.region;
  if (region) {
    const { left, top, width, height } = region;
    if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > h.width || top + height > h.height) {
      throw new RestoraError('E_USAGE', `region ${left},${top} ${width}x${height} is outside ${path.basename(file)} (${h.width} x ${h.height})`, file);
    }
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pixelPipeline(file, h, maxPixels, region).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw mapSharpError(e, file, h.format);
  }
  const { width, height, channels } = out.info;
  if (channels !== 3 && channels !== 4) throw fail('E_UNSUPPORTED', file, `decodes to ${channels} channels`);
  const src = h.bitDepth === 16 ? new Uint16Array(out.data.buffer, out.data.byteOffset, out.data.byteLength / 2) : out.data;
  const { data, alpha } = interleavedToPlanar(src, width, height, channels, h.bitDepth === 16 ? 65535 : 255);
  return { width, height, data, alpha, meta: metaOf(h) };
}

/**
 * Decode an inpainting mask (white = fill) to a plane (HW, [0,1]) of the expected upright size.
 * Transparent pixels count as "keep". Throws E_MASK (missing, unreadable, wrong size, empty).
 */
export async function decodeMask(file: string, width: number, height: number, forFile?: string): Promise<Float32Array> {
  let img: RgbImage;
  try {
    // not an original: the app saves a repainted mask over it (a batch keeps its masks from its outputs itself)
    img = await decode(file, { markAsInput: false });
  } catch (e) {
    const r = RestoraError.from(e);
    const why = r.code === 'E_NOT_FOUND' ? 'does not exist' : `cannot be used as a mask (${r.message.replace(`${path.basename(file)} `, '')})`;
    throw new RestoraError('E_MASK', `mask ${path.basename(file)} ${why}`, file);
  }
  if (img.width !== width || img.height !== height) {
    const of = forFile ? ` but ${path.basename(forFile)} is ${width} x ${height}` : ` but the image is ${width} x ${height}`;
    throw new RestoraError('E_MASK', `mask ${path.basename(file)} is ${img.width} x ${img.height}${of}; paint the mask at the image's size`, file);
  }
  const n = width * height;
  const m = new Float32Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    // Rec. 601 luma of the mask colour, times its opacity
    let v = 0.299 * img.data[i] + 0.587 * img.data[n + i] + 0.114 * img.data[2 * n + i];
    if (img.alpha) v *= img.alpha[i];
    v = v < 0.004 ? 0 : v > 1 ? 1 : v;
    m[i] = v;
    if (v >= 0.5) any = true;
  }
  if (!any) throw new RestoraError('E_MASK', `mask ${path.basename(file)} is empty (nothing is painted white)`, file);
  return m;
}

/**
 * A downsized display copy for the UI: upright sRGB, longest side at most `maxSide`, encoded as
 * JPEG (opaque) or PNG (with alpha). Returns the bytes and sizes; the caller writes it (writer).
 */
export async function displayCopy(file: string, maxSide: number, opts: { maxPixels?: number } = {}): Promise<{ header: ImageHeader; bytes: Buffer; ext: 'jpg' | 'png'; width: number; height: number }> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await probeImage(file, { maxPixels });
  try {
    let s = sharp(file, { ...sharpOptions(maxPixels), sequentialRead: false });
    if (Math.max(header.width, header.height) > maxSide) s = s.resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true });
    s = s.toColourspace('srgb');
    const ext = header.hasAlpha ? 'png' : 'jpg';
    const { data, info } = await (ext === 'png' ? s.png({ compressionLevel: 3 }) : s.jpeg({ quality: 90 })).toBuffer({ resolveWithObject: true });
    return { header, bytes: data, ext, width: info.width, height: info.height };
  } catch (e) {
    throw mapSharpError(e, file, header.format);
  }
}
