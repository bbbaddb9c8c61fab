// Fixture generators: every hostile or unusual input of the suite is made here at run time, in a
// temp folder, from a few deterministic lines (nothing binary is committed). Images are small
// (tens of pixels) so the whole suite stays within a few minutes on two cores.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { rng } from '../fixtures/images/make.ts';
import { encodeModel, floatTensor, identityConvWeights, int64Tensor, DT, type ModelSpec } from './onnx-writer.ts';

// ---------------------------------------------------------------------------------------------
// pixels

// one seeded PRNG for every fixture maker (mulberry32, in test/fixtures/images/make.ts)
export { rng };

export interface Raw {
  data: Buffer; // interleaved, row-major, 8-bit unless depth 16 (little-endian uint16 as sharp wants)
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  depth?: 8 | 16;
}

/**
 * A smooth but asymmetric RGB test pattern (gradients plus a bright block in the top-left
 * quadrant), so that a wrong rotation or flip, a channel swap or a shift is visible.
 */
export function pattern(width: number, height: number, seed = 1, channels: 3 | 4 = 3): Raw {
  const r = rng(seed);
  const phase = r() * 6;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const marker = x < width / 4 && y < height / 3;
      data[i] = marker ? 250 : Math.round(40 + 170 * (x / Math.max(1, width - 1)));
      data[i + 1] = marker ? 40 : Math.round(40 + 170 * (y / Math.max(1, height - 1)));
      data[i + 2] = Math.round(128 + 90 * Math.sin(phase + (x + 2 * y) / 7));
      if (channels === 4) data[i + 3] = Math.round(255 * (x / Math.max(1, width - 1))); // gradient alpha
    }
  }
  return { data, width, height, channels };
}

/** Uniform noise image: compresses badly, so its PNG is large (used to fill a small disk). */
export function noise(width: number, height: number, seed = 7): Raw {
  const r = rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { data, width, height, channels: 3 };
}

/** A 16-bit RGB pattern using the full 0..65535 range (low byte varies, so 8-bit truncation shows). */
export function pattern16(width: number, height: number): Raw {
  const px = new Uint16Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = Math.round(1000 + 63000 * (x / Math.max(1, width - 1)));
      px[i + 1] = Math.round(1000 + 63000 * (y / Math.max(1, height - 1)));
      px[i + 2] = 32768 + 7 * ((x * 31 + y * 17) % 997);
    }
  }
  return { data: Buffer.from(px.buffer, px.byteOffset, px.byteLength), width, height, channels: 3, depth: 16 };
}

export function toSharp(raw: Raw): Sharp {
  if (raw.depth === 16) {
    const u16 = new Uint16Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength / 2);
    return sharp(u16, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  }
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}

function ensureDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
}

export type ImgFormat = 'png' | 'jpeg' | 'tiff' | 'webp' | 'gif';

/** Write `raw` as an image file. */
export async function writeRaw(file: string, raw: Raw, format: ImgFormat, opts: { quality?: number } = {}): Promise<string> {
  ensureDir(file);
  let s = toSharp(raw);
  if (raw.depth === 16) s = s.toColourspace('rgb16');
  if (format === 'png') s = s.png();
  else if (format === 'jpeg') s = s.jpeg({ quality: opts.quality ?? 95, chromaSubsampling: '4:4:4' });
  else if (format === 'tiff') s = s.tiff({ compression: 'lzw' });
  else if (format === 'webp') s = s.webp({ lossless: true });
  else s = s.gif();
  await s.toFile(file);
  return file;
}

/** A plain small photo-like image. */
export async function makeImage(file: string, width = 48, height = 32, seed = 1): Promise<string> {
  const fmt = formatOf(file);
  return writeRaw(file, pattern(width, height, seed), fmt);
}

export function formatOf(file: string): ImgFormat {
  const ext = file.toLowerCase().split('.').pop() ?? '';
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  if (ext === 'tif' || ext === 'tiff') return 'tiff';
  if (ext === 'webp') return 'webp';
  if (ext === 'gif') return 'gif';
  return 'png';
}

// ---------------------------------------------------------------------------------------------
// orientation: stored pixels such that a viewer honouring EXIF tag `o` shows `upright`

/** Map upright (w x h) to what must be stored for orientation o (inverse of the display transform). */
export function storeForOrientation(upright: Raw, o: number): Raw {
  const { width: w, height: h, channels: c } = upright;
  const swap = o >= 5;
  const sw = swap ? h : w;
  const sh = swap ? w : h;
  const out = Buffer.alloc(upright.data.length);
  // For every stored pixel (sx, sy), find the upright pixel a viewer puts it on (EXIF 2.3 table).
  for (let sy = 0; sy < sh; sy++) {
    for (let sx = 0; sx < sw; sx++) {
      let ux: number;
      let uy: number;
      switch (o) {
        case 2: ux = w - 1 - sx; uy = sy; break; // mirror horizontal
        case 3: ux = w - 1 - sx; uy = h - 1 - sy; break; // rotate 180
        case 4: ux = sx; uy = h - 1 - sy; break; // mirror vertical
        case 5: ux = sy; uy = sx; break; // transpose
        case 6: ux = w - 1 - sy; uy = sx; break; // rotate 90 CW to display
        case 7: ux = w - 1 - sy; uy = h - 1 - sx; break; // transverse
        case 8: ux = sy; uy = h - 1 - sx; break; // rotate 270 CW to display
        default: ux = sx; uy = sy;
      }
      upright.data.copy(out, (sy * sw + sx) * c, (uy * w + ux) * c, (uy * w + ux) * c + c);
    }
  }
  return { data: out, width: sw, height: sh, channels: c };
}

export async function makeOriented(file: string, upright: Raw, o: number): Promise<string> {
  ensureDir(file);
  const stored = storeForOrientation(upright, o);
  await toSharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 97, chromaSubsampling: '4:4:4' }).toFile(file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// colour, depth, alpha, palette, multi-frame

export async function makeCmykJpeg(file: string, upright: Raw): Promise<string> {
  ensureDir(file);
  await toSharp(upright).toColourspace('cmyk').jpeg({ quality: 97 }).toFile(file);
  return file;
}

/** An image whose pixels are in Display P3 and which carries the P3 profile. */
export async function makeP3(file: string, upright: Raw): Promise<string> {
  ensureDir(file);
  const fmt = formatOf(file);
  let s = toSharp(upright).withIccProfile('p3');
  s = fmt === 'jpeg' ? s.jpeg({ quality: 97, chromaSubsampling: '4:4:4' }) : s.png();
  await s.toFile(file);
  return file;
}

export async function makeGray(file: string, width = 40, height = 30): Promise<string> {
  ensureDir(file);
  const p = pattern(width, height, 3);
  const g = Buffer.alloc(width * height);
  for (let i = 0; i < g.length; i++) g[i] = p.data[3 * i + 1];
  await sharp(g, { raw: { width, height, channels: 1 } }).toColourspace('b-w').toFormat(formatOf(file)).toFile(file);
  return file;
}

export async function makePalette(file: string, width = 40, height = 30): Promise<string> {
  ensureDir(file);
  await toSharp(pattern(width, height, 4)).png({ palette: true, colours: 16, dither: 0 }).toFile(file);
  return file;
}

/** Animated GIF/WebP or multi-page TIFF with distinct frames. */
export async function makeMultiFrame(file: string, frames = 3, width = 32, height = 24): Promise<string> {
  ensureDir(file);
  const bufs = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      sharp({ create: { width, height, channels: 3, background: { r: (60 * i) % 256, g: 120, b: 220 - 50 * i } } }).png().toBuffer(),
    ),
  );
  const s = sharp(bufs, { join: { animated: true } });
  const fmt = formatOf(file);
  if (fmt === 'gif') await s.gif({ loop: 0, delay: 100 }).toFile(file);
  else if (fmt === 'webp') await s.webp({ lossless: true, loop: 0, delay: 100 }).toFile(file);
  else await s.tiff().toFile(file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// broken and hostile image files

export function truncateFile(src: string, dst: string, fraction: number): string {
  const b = readFileSync(src);
  ensureDir(dst);
  writeFileSync(dst, b.subarray(0, Math.floor(b.length * fraction)));
  return dst;
}

/** Flip `n` bytes past `from` (the entropy-coded data of a JPEG, say) with a seeded generator. */
export function flipBytes(src: string, dst: string, n: number, seed: number, from = 0): string {
  const b = Buffer.from(readFileSync(src));
  const r = rng(seed);
  const start = Math.min(from, b.length - 1);
  for (let k = 0; k < n; k++) {
    const i = start + Math.floor(r() * (b.length - start - 2)); // keep the final EOI marker
    b[i] ^= 1 + Math.floor(r() * 255);
  }
  ensureDir(dst);
  writeFileSync(dst, b);
  return dst;
}

/** Offset just past the JPEG Start Of Scan header: where the entropy-coded data begins. */
export function jpegScanStart(b: Buffer): number {
  for (let i = 2; i + 4 < b.length; ) {
    if (b[i] !== 0xff) return -1;
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xda) return i + 2 + len;
    i += 2 + len;
  }
  return -1;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const t = Buffer.from(type, 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([t, data])) >>> 0);
  return Buffer.concat([len, t, data, crc]);
}

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0);
  h.writeUInt32BE(height, 4);
  h[8] = bitDepth;
  h[9] = colourType;
  return pngChunk('IHDR', h);
}

/** A lying header: a PNG declaring width x height RGB with only a few bytes of pixel data. */
export function makeLyingPng(file: string, width: number, height: number): string {
  const idat = deflateSync(Buffer.alloc(1024));
  ensureDir(file);
  writeFileSync(file, Buffer.concat([PNG_SIG, ihdr(width, height, 8, 2), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]));
  return file;
}

/**
 * A real, complete decompression bomb: a valid 1-bit grayscale PNG of side x side black pixels.
 * 20000^2 = 400 MP deflates to ~60 KB; decoded to float RGB it would need ~4.8 GB.
 */
export function makePngBomb(file: string, side = 20000): string {
  const rowBytes = 1 + Math.ceil(side / 8);
  const raw = Buffer.alloc(rowBytes * side); // filter byte 0 + zero bits on every row
  const idat = deflateSync(raw, { level: 9 });
  ensureDir(file);
  writeFileSync(file, Buffer.concat([PNG_SIG, ihdr(side, side, 1, 0), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]));
  return file;
}

/** A JPEG whose SOF says width x height, with the scan data cut to a few bytes. */
export function makeLyingJpeg(srcJpeg: string, file: string, width: number, height: number): string {
  const b = Buffer.from(readFileSync(srcJpeg));
  let i = 2;
  let patched = false;
  while (i + 4 < b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      patched = true;
    }
    if (marker === 0xda) {
      i += 2 + len;
      break;
    }
    i += 2 + len;
  }
  if (!patched) throw new Error('fixture: no SOF marker found');
  ensureDir(file);
  writeFileSync(file, Buffer.concat([b.subarray(0, i + 16), Buffer.from([0xff, 0xd9])]));
  return file;
}

/** SVG that would pull a local file if its loader were allowed. */
export function makeHostileSvg(file: string, canary: string): string {
  ensureDir(file);
  writeFileSync(
    file,
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">` +
      `<image xlink:href="file://${canary}" width="64" height="64"/><rect width="10" height="10" fill="red"/></svg>\n`,
  );
  return file;
}

export function makeMinimalPdf(file: string): string {
  ensureDir(file);
  writeFileSync(
    file,
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
      '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 64 64]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
  );
  return file;
}

// ---------------------------------------------------------------------------------------------
// ICC helpers

/** The profile description (ICC v2 'desc' or v4 'mluc'), for comparing profiles by name. */
export function iccDescription(icc: Buffer | undefined): string | undefined {
  if (!icc || icc.length < 132) return undefined;
  const count = icc.readUInt32BE(128);
  for (let k = 0; k < count && 132 + 12 * k + 12 <= icc.length; k++) {
    const e = 132 + 12 * k;
    if (icc.toString('latin1', e, e + 4) !== 'desc') continue;
    const off = icc.readUInt32BE(e + 4);
    const type = icc.toString('latin1', off, off + 4);
    if (type === 'desc') {
      const n = icc.readUInt32BE(off + 8);
      return icc.toString('latin1', off + 12, off + 12 + n).replace(/\0+$/, '');
    }
    if (type === 'mluc') {
      const len = icc.readUInt32BE(off + 20);
      const start = off + icc.readUInt32BE(off + 24);
      const s = icc.subarray(start, start + len);
      let out = '';
      for (let i = 0; i + 1 < s.length; i += 2) out += String.fromCharCode(s.readUInt16BE(i));
      return out.replace(/\0+$/, '');
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// models: a valid custom model (the control) and hostile ones for `restora models add`

const IMG = (name: string, c = 3): { name: string; shape: (number | string)[] } => ({ name, shape: [1, c, 'height', 'width'] });

/** A valid 3->3 image model (1x1 identity convolution, dynamic H and W). */
export function validModelSpec(): ModelSpec {
  return {
    inputs: [IMG('input')],
    outputs: [IMG('output')],
    nodes: [{ op: 'Conv', inputs: ['input', 'w', 'b'], outputs: ['output'] }],
    initializers: [identityConvWeights(), floatTensor('b', [3], [0, 0, 0])],
  };
}

export interface HostileModel {
  id: string;
  what: string;
  /**
   * Writes the .onnx (and any sibling files it points at) into dir; returns the .onnx path.
   * `outside` is an existing file outside dir (a canary) that escaping external data aims at.
   */
  make(dir: string, outside: string): string;
}

function put(file: string, b: Buffer | string): string {
  ensureDir(file);
  writeFileSync(file, b);
  return file;
}

export const hostileModels: HostileModel[] = [
  { id: 'zero-byte', what: 'a zero-byte .onnx', make: (d) => put(`${d}/empty.onnx`, Buffer.alloc(0)) },
  {
    id: 'not-onnx',
    what: '64 KB of random bytes named .onnx',
    make: (d) => {
      const r = rng(11);
      return put(`${d}/random.onnx`, Buffer.from(Array.from({ length: 65536 }, () => Math.floor(r() * 256))));
    },
  },
  {
    id: 'pickle',
    what: 'a PyTorch pickle renamed .onnx',
    // protocol-4 pickle calling os.system: harmless unless something unpickles it (nothing must)
    make: (d) => put(`${d}/checkpoint.onnx`, Buffer.concat([Buffer.from([0x80, 0x04]), Buffer.from(`cos\nsystem\n(Vtouch ${d}/PWNED\ntR.`, 'latin1')])),
  },
  {
    id: 'truncated',
    what: 'a valid model cut in half',
    make: (d) => {
      const b = encodeModel({ ...validModelSpec(), initializers: [floatTensor('w', [3, 3, 1, 1], [1, 0, 0, 0, 1, 0, 0, 0, 1]), floatTensor('b', [3], [0, 0, 0])] });
      return put(`${d}/truncated.onnx`, b.subarray(0, Math.floor(b.length / 2)));
    },
  },
  {
    id: 'rank2',
    what: 'wrong shapes: a rank-2 [1, 10] input',
    make: (d) =>
      put(`${d}/rank2.onnx`, encodeModel({ inputs: [{ name: 'x', shape: [1, 10] }], outputs: [{ name: 'y', shape: [1, 10] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] })),
  },
  {
    id: 'classifier',
    what: 'wrong shapes: an image classifier (output [1, 1000])',
    make: (d) =>
      put(
        `${d}/classifier.onnx`,
        encodeModel({
          inputs: [IMG('input')],
          outputs: [{ name: 'logits', shape: [1, 1000] }],
          nodes: [
            { op: 'GlobalAveragePool', inputs: ['input'], outputs: ['p'] },
            { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
            { op: 'Gemm', inputs: ['f', 'fc', 'fb'], outputs: ['logits'], attrs: [{ name: 'transB', i: 1 }] },
          ],
          initializers: [floatTensor('fc', [1000, 3], new Float32Array(3000).fill(0.01)), floatTensor('fb', [1000], new Float32Array(1000))],
        }),
      ),
  },
  {
    id: 'int64-input',
    what: 'wrong element type: int64 image input',
    make: (d) =>
      put(
        `${d}/int64.onnx`,
        encodeModel({
          inputs: [{ name: 'input', elemType: DT.INT64, shape: [1, 3, 'height', 'width'] }],
          outputs: [{ name: 'output', elemType: DT.INT64, shape: [1, 3, 'height', 'width'] }],
          nodes: [{ op: 'Identity', inputs: ['input'], outputs: ['output'] }],
        }),
      ),
  },
  {
    id: 'huge-alloc',
    what: 'huge allocation: ConstantOfShape [1e5, 1e5] floats (40 GB) added to the image',
    make: (d) =>
      put(
        `${d}/huge.onnx`,
        encodeModel({
          inputs: [IMG('input')],
          outputs: [IMG('output')],
          nodes: [
            { op: 'ConstantOfShape', inputs: ['shape'], outputs: ['big'], attrs: [{ name: 'value', t: floatTensor('v', [1], [0]) }] },
            { op: 'ReduceSum', inputs: ['big'], outputs: ['s'], attrs: [{ name: 'keepdims', i: 0 }] },
            { op: 'Add', inputs: ['input', 's'], outputs: ['output'] },
          ],
          initializers: [int64Tensor('shape', [100000, 100000])],
        }),
      ),
  },
  {
    id: 'huge-initializer',
    what: 'an initializer claiming 2^31 floats with 12 bytes of data',
    make: (d) =>
      put(
        `${d}/claim.onnx`,
        encodeModel({
          ...validModelSpec(),
          initializers: [identityConvWeights(), { name: 'b', dataType: DT.FLOAT, dims: [2147483648], raw: new Uint8Array(12) }],
        }),
      ),
  },
  {
    id: 'nan-output',
    what: 'a model whose output is NaN/Inf (divides by zero)',
    make: (d) =>
      put(
        `${d}/nan.onnx`,
        encodeModel({
          inputs: [IMG('input')],
          outputs: [IMG('output')],
          nodes: [{ op: 'Div', inputs: ['input', 'zero'], outputs: ['output'] }],
          initializers: [floatTensor('zero', [1], [0])],
        }),
      ),
  },
  ...(['dotdot', 'absolute', 'symlink'] as const).map((kind) => ({
    id: `external-${kind}`,
    what:
      kind === 'dotdot'
        ? 'external data at "../<outside file>"'
        : kind === 'absolute'
          ? 'external data at an absolute path outside the folder'
          : 'external data in a sibling that is a symlink to a file outside the folder',
    make: (d: string, outside: string) => {
      const f = `${d}/external-${kind}.onnx`;
      ensureDir(f);
      let location = relative(d, outside);
      if (kind === 'absolute') location = outside;
      if (kind === 'symlink') {
        location = 'weights.bin';
        symlinkSync(outside, `${d}/weights.bin`);
      }
      return put(
        f,
        encodeModel({
          ...validModelSpec(),
          initializers: [{ name: 'w', dataType: DT.FLOAT, dims: [3, 3, 1, 1], external: { location, offset: 0, length: 36 } }, floatTensor('b', [3], [0, 0, 0])],
        }),
      );
    },
  })),
];

/** A valid model whose input is fixed at 256x256 (must be adapted or refused with a reason). */
export function fixedSizeModel(file: string): string {
  return put(
    file,
    encodeModel({
      inputs: [{ name: 'input', shape: [1, 3, 256, 256] }],
      outputs: [{ name: 'output', shape: [1, 3, 256, 256] }],
      nodes: [{ op: 'Conv', inputs: ['input', 'w', 'b'], outputs: ['output'] }],
      initializers: [identityConvWeights(), floatTensor('b', [3], [0, 0, 0])],
    }),
  );
}

export function validModel(file: string): string {
  return put(file, encodeModel(validModelSpec()));
}
