// Test photographs made at test time (nothing large is committed): a synthetic scene with smooth
// gradients, edges and texture, optionally with seeded Gaussian noise, written with sharp.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface PhotoOptions {
  width?: number;
  height?: number;
  seed?: number;
  /** Gaussian noise, sigma on the 0-255 scale */
  sigma?: number;
  format?: 'jpeg' | 'png';
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return {
    next,
    gauss() {
      const u = Math.max(1e-12, next());
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Clean RGB pixels (interleaved, 8-bit) of the synthetic scene. */
export function scene(width: number, height: number, seed = 1): Buffer {
  const r = rng(seed);
  const discs = Array.from({ length: 6 }, () => ({ x: r.next() * width, y: r.next() * height, rad: (0.05 + r.next() * 0.15) * Math.min(width, height), c: [r.next() * 255, r.next() * 255, r.next() * 255] }));
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      // sky-to-ground gradient with a horizon
      let R = 90 + (110 * y) / height;
      let G = 130 + (60 * x) / width;
      let B = 200 - (120 * y) / height;
      if (y > height * 0.62) {
        R = 80 + 30 * Math.sin(x / 7) * Math.sin(y / 5);
        G = 110 + 25 * Math.cos(x / 11);
        B = 60;
      }
      for (const d of discs) {
        const dd = Math.hypot(x - d.x, y - d.y);
        if (dd < d.rad) [R, G, B] = d.c;
      }
      // thin dark lines: edges the denoiser must keep
      if (x % 53 < 2 || y % 47 < 2) {
        R *= 0.4;
        G *= 0.4;
        B *= 0.4;
      }
      out[i] = R;
      out[i + 1] = G;
      out[i + 2] = B;
    }
  }
  return out;
}

export function addNoise(clean: Buffer, sigma: number, seed = 7): Buffer {
  const r = rng(seed);
  // a table of Gaussian samples indexed by a fast generator: 24 MP in well under a second
  const table = new Float32Array(1 << 16);
  for (let i = 0; i < table.length; i++) table[i] = sigma * r.gauss();
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = Buffer.alloc(clean.length);
  for (let i = 0; i < clean.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const v = clean[i] + table[(s >>> 0) & 0xffff];
    out[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return out;
}

/** Write a photo; returns the clean pixels (for quality checks). */
export async function makePhoto(file: string, o: PhotoOptions = {}): Promise<Buffer> {
  const width = o.width ?? 320;
  const height = o.height ?? 240;
  // big photos: draw the scene at a quarter of the size and let sharp enlarge it (seconds, not tens)
  const big = width * height > 4e6;
  const clean = big
    ? await sharp(scene(Math.round(width / 4), Math.round(height / 4), o.seed ?? 1), { raw: { width: Math.round(width / 4), height: Math.round(height / 4), channels: 3 } })
        .resize(width, height, { kernel: 'cubic' })
        .raw()
        .toBuffer()
    : scene(width, height, o.seed ?? 1);
  const pixels = o.sigma ? addNoise(clean, o.sigma, (o.seed ?? 1) * 31 + 7) : clean;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(pixels, { raw: { width, height, channels: 3 } });
  const format = o.format ?? (file.toLowerCase().endsWith('.png') ? 'png' : 'jpeg');
  await (format === 'png' ? img.png() : img.jpeg({ quality: 95 })).toFile(file);
  return clean;
}

/** Photos `names` in `dir`, made by makePhoto with seeds o.seed, o.seed + 1, ...; their paths, in order. */
export async function makePhotos(dir: string, names: string[], o: PhotoOptions & { seed: number }): Promise<string[]> {
  const files = names.map((n) => path.join(dir, n));
  for (const [i, f] of files.entries()) await makePhoto(f, { ...o, seed: o.seed + i });
  return files;
}

/**
 * A batch with time in it: small photos `names` (600 x 450) in `dir`, and `large` among them at 8 MP (12 MP
 * with the fixture models), seconds of work, so that a click made while the batch runs lands in it.
 * Their paths, in the order of `names`.
 */
export async function makeBatchWithALargePhoto(dir: string, names: string[], large: string, o: { seed: number; shipped: boolean }): Promise<string[]> {
  const files: string[] = [];
  for (const [i, n] of names.entries()) {
    const f = path.join(dir, n);
    const big = n === large;
    await makePhoto(f, { seed: o.seed + i, sigma: 10, width: big ? (o.shipped ? 3264 : 4800) : 600, height: big ? (o.shipped ? 2448 : 3600) : 450 });
    files.push(f);
  }
  return files;
}

/** A JPEG cut off at 40 %: what a crashed card reader leaves. */
export async function makeTruncatedJpeg(file: string): Promise<void> {
  const buf = await sharp(scene(320, 240, 99), { raw: { width: 320, height: 240, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, buf.subarray(0, Math.floor(buf.length * 0.4)));
}

export interface FileSnapshot {
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

export function snapshot(files: string[]): Map<string, FileSnapshot> {
  const m = new Map<string, FileSnapshot>();
  for (const f of files) {
    const st = fs.statSync(f);
    m.set(f, { sha256: crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex'), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  }
  return m;
}

/** PSNR (dB) between two 8-bit buffers of the same length. */
export function psnr(a: Buffer | Uint8Array, b: Buffer | Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

export async function rawRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}
