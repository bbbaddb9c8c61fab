// Grain for inpainted fills. The inpainter's fill is smooth; in a grainy photo (high ISO, film) a
// smooth patch stands out. With "match grain" the inpaint step takes the photo's fine detail around
// the hole (the photo minus its blur of about GRAIN_BLUR px: grain of any kind, colour or
// monochrome, film clumps, JPEG texture) and copies it into the hole, cell by cell, from nearby
// boxes that lie wholly outside the hole, cross-fading neighbouring cells so no cell edge shows.
// Where the window holds an edge or strong texture the detail is not grain: boxes with much more of
// it than the window's typical cell are passed over, so no ghost of an edge is copied into a flat
// fill. Each cell's random draws are seeded by its place in the photo, so the same photo and mask
// give the same pixels on every run, and a region preview draws as the full run does (its grain can
// still differ a little where its window is cut by the preview's edge).
import { Rng } from '../eval/rng.ts';
import type { Box } from './holes.ts';

/** Side of the cells copied into the hole (px of the original photo; times the scale after an upscale). */
export const GRAIN_CELL = 16;
/** The grain is the photo minus its blur of about this many px, a Gaussian's sigma (times the scale after an upscale). */
export const GRAIN_BLUR = 3;
/** How far around a hole grain is read (px of the original photo; times the scale after an upscale). */
export const GRAIN_MARGIN = 96;

/** Summed-area table of `value(i)` over a w x h plane, (w+1) x (h+1). */
function table<T extends Float64Array | Uint32Array>(make: (n: number) => T, w: number, h: number, value: (i: number) => number): T {
  const t = make((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let run = 0;
    for (let x = 0; x < w; x++) {
      run += value(y * w + x);
      t[(y + 1) * (w + 1) + x + 1] = t[y * (w + 1) + x + 1] + run;
    }
  }
  return t;
}

function sumIn(t: Float64Array | Uint32Array, w: number, b: Box): number {
  const W = w + 1;
  return t[(b.y + b.h) * W + b.x + b.w] - t[b.y * W + b.x + b.w] - t[(b.y + b.h) * W + b.x] + t[b.y * W + b.x];
}

/** Radii of three box blurs whose sequence approximates a Gaussian of `sigma` (W. Jarosz, "Fast image convolutions"). */
function boxRadii(sigma: number): number[] {
  const ideal = Math.sqrt((12 * sigma * sigma) / 3 + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - 3 * wl * wl - 12 * wl - 9) / (-4 * wl - 4));
  return [0, 1, 2].map((i) => ((i < m ? wl : wu) - 1) / 2);
}

/** One box blur of radius r along rows (stride 1) or columns (stride w), edges clamped, from `a` into `b`. */
function boxPass(a: Float32Array, b: Float32Array, lines: number, len: number, stride: number, lineStep: number, r: number): void {
  const k = 1 / (2 * r + 1);
  const last = len - 1;
  for (let l = 0; l < lines; l++) {
    const o = l * lineStep;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += a[o + (i < 0 ? 0 : i > last ? last : i) * stride];
    for (let i = 0; i < len; i++) {
      b[o + i * stride] = sum * k;
      const add = i + r + 1;
      const sub = i - r;
      sum += a[o + (add > last ? last : add) * stride] - a[o + (sub < 0 ? 0 : sub) * stride];
    }
  }
}

/**
 * The fine detail of planar RGB (CHW): each channel minus its blur of about `sigma` px (three box
 * blurs, the cost independent of sigma, edges clamped). Grain and fine texture pass; shading and
 * edges' broad steps do not.
 */
export function highPass(data: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const radii = boxRadii(sigma);
  const n = w * h;
  const out = new Float32Array(3 * n);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    const src = data.subarray(c * n, (c + 1) * n);
    a.set(src);
    for (const r of radii) {
      if (r < 1) continue;
      boxPass(a, b, h, w, 1, w, r); // rows
      boxPass(b, a, w, h, w, 1, r); // columns
    }
    for (let i = 0; i < n; i++) out[c * n + i] = src[i] - a[i];
  }
  return out;
}

/** A cell's own seed: from its place in the whole photo, so a preview and the full run draw alike. */
function cellSeed(seed: number, x: number, y: number): number {
  return (Math.imul(x + 0x9e37, 73856093) ^ Math.imul(y + 0x79b9, 19349663) ^ seed) >>> 0;
}

export interface GrainResult {
  /** CHW, the window's size: the copied grain in the hole, 0 elsewhere. */
  grain: Float32Array;
  /** Cells that touch the hole, and how many of them found a source outside it. */
  cells: number;
  filled: number;
  /** the typical cell's grain outside the hole: RMS per channel, on the residual's scale */
  level: number;
}

export interface CopyOptions {
  /** cell side (px) */
  cell?: number;
  seed?: number;
  /** where the window's top-left pixel sits in the whole photo: the cell grid and the seeds follow the photo, not the window */
  at?: { x: number; y: number };
  /** HW, > 0 = may not be copied from (transparent pixels: their residual is no grain) */
  blocked?: Float32Array;
}

/**
 * Copy grain into the hole. `residual` (CHW) and `hole` (HW, > 0 = fill) cover the same w x h
 * window. The hole is covered by cells of a grid aligned to the whole photo; each cell takes the
 * residual of a box of its size plus a fade of cell/4 px on every side, at a random offset that lies
 * inside the window and wholly outside the hole (and `blocked`), looked for close first (within 2
 * cells, then 4, 8 ...), and whose residual energy is at most twice the median of the window's
 * cells (when none of the tries lands on one: such a calm box anywhere in the window, else the
 * calmest box the tries found, else any box outside the hole). Neighbouring cells cross-fade with sine and cosine weights, whose squares add up to 1,
 * so grain keeps its strength across a seam and no cell edge shows. A cell with no source gives none.
 */
export function copyGrain(residual: Float32Array, hole: Float32Array, w: number, h: number, opts: CopyOptions = {}): GrainResult {
  const P = Math.max(2, Math.round(opts.cell ?? GRAIN_CELL));
  const O = Math.max(1, Math.round(P / 4)); // fade, each side
  const E = P + 2 * O;
  const n = w * h;
  const grain = new Float32Array(3 * n);
  const blocked = opts.blocked;
  const holes = table((k) => new Uint32Array(k), w, h, (i) => (hole[i] > 0 || (blocked !== undefined && blocked[i] > 0) ? 1 : 0));
  const energy = table((k) => new Float64Array(k), w, h, (i) => residual[i] ** 2 + residual[n + i] ** 2 + residual[2 * n + i] ** 2);
  const perPixel = (b: Box) => sumIn(energy, w, b) / (b.w * b.h);
  const free = (b: Box) => sumIn(holes, w, b) === 0;
  const typical: number[] = [];
  for (let y = 0; y + P <= h; y += P) {
    for (let x = 0; x + P <= w; x += P) {
      const b = { x, y, w: P, h: P };
      if (free(b)) typical.push(perPixel(b));
    }
  }
  typical.sort((a, b) => a - b);
  const median = typical.length ? typical[typical.length >> 1] : 0;
  const limit = typical.length ? 2 * median : Infinity;
  // every free E x E box on a 4 px grid, and the calm ones among them, made when first needed
  let anywhere: { x: number; y: number }[] | undefined;
  let calmAnywhere: { x: number; y: number }[] | undefined;
  const at = opts.at ?? { x: 0, y: 0 };
  const seed = opts.seed ?? 1;
  // 1-D weight of the cell starting at c (core c .. c+P) at x: rises over c-O .. c+O, falls over c+P-O .. c+P+O
  const weight = (c: number, x: number) => {
    if (x < c + O) return Math.sin((Math.PI / 2) * ((x - (c - O) + 0.5) / (2 * O)));
    if (x >= c + P - O) return Math.cos((Math.PI / 2) * ((x - (c + P - O) + 0.5) / (2 * O)));
    return 1;
  };
  const first = (origin: number) => -(((origin % P) + P) % P) - P;
  let cells = 0;
  let filled = 0;
  for (let cy = first(at.y); cy - O < h; cy += P) {
    for (let cx = first(at.x); cx - O < w; cx += P) {
      const x0 = Math.max(0, cx - O);
      const y0 = Math.max(0, cy - O);
      const dst = { x: x0, y: y0, w: Math.min(cx + P + O, w) - x0, h: Math.min(cy + P + O, h) - y0 };
      if (dst.w <= 0 || dst.h <= 0) continue;
      let any = false;
      for (let r = 0; r < dst.h && !any; r++) {
        for (let i = 0; i < dst.w; i++) {
          if (hole[(dst.y + r) * w + dst.x + i] > 0) {
            any = true;
            break;
          }
        }
      }
      if (!any) continue;
      cells++;
      const rng = new Rng(cellSeed(seed, at.x + cx, at.y + cy));
      let src: Box | undefined;
      let calmest: { b: Box; e: number } | undefined;
      for (let reach = 2 * P; !src && reach <= 2 * Math.max(w, h); reach *= 2) {
        for (let tries = 0; tries < 24 && !src; tries++) {
          const sx = dst.x + Math.round((rng.uniform() * 2 - 1) * reach);
          const sy = dst.y + Math.round((rng.uniform() * 2 - 1) * reach);
          if (sx < 0 || sy < 0 || sx + dst.w > w || sy + dst.h > h) continue;
          const b = { x: sx, y: sy, w: dst.w, h: dst.h };
          if (!free(b)) continue;
          const e = perPixel(b);
          if (e <= limit) src = b;
          else if (!calmest || e < calmest.e) calmest = { b, e };
        }
      }
      if (!src) {
        // no calm box within reach of the random tries: a calm free box anywhere in the window, else the
        // calmest the tries found, else any free box
        if (!anywhere) {
          const all: { x: number; y: number; e: number }[] = [];
          for (let y = 0; y + E <= h; y += 4) for (let x = 0; x + E <= w; x += 4) if (free({ x, y, w: E, h: E })) all.push({ x, y, e: perPixel({ x, y, w: E, h: E }) });
          calmAnywhere = all.filter((b) => b.e <= limit);
          anywhere = all;
        }
        const pool = calmAnywhere!.length ? calmAnywhere! : calmest ? [] : anywhere;
        if (pool.length) {
          const b = pool[Math.floor(rng.uniform() * pool.length)];
          src = { x: b.x, y: b.y, w: dst.w, h: dst.h };
        } else if (calmest) {
          src = calmest.b;
        }
      }
      if (!src) continue;
      filled++;
      for (let r = 0; r < dst.h; r++) {
        const wy = weight(cy, dst.y + r);
        const row = (dst.y + r) * w + dst.x;
        const srow = (src.y + r) * w + src.x;
        for (let i = 0; i < dst.w; i++) {
          if (!(hole[row + i] > 0)) continue;
          const k = wy * weight(cx, dst.x + i);
          for (let c = 0; c < 3; c++) grain[c * n + row + i] += k * residual[c * n + srow + i];
        }
      }
    }
  }
  return { grain, cells, filled, level: Math.sqrt(median / 3) };
}

/**
 * How much copied grain a pixel of mask value m gets. The photo keeps (1 - m) of its own grain; with
 * sqrt(m (2 - m)) of an independent copy the two add up to the photo's grain strength everywhere,
 * so a feathered edge is no smoother than the rest.
 */
export function grainWeight(m: number): number {
  const k = Math.min(1, Math.max(0, m));
  return Math.sqrt(k * (2 - k));
}

/**
 * Grain as the eye reads it: the standard deviation of each pixel minus the mean of its 3x3
 * neighbourhood, over the pixels `where(x, y)` picks (borders left out), all three channels of
 * planar RGB (any scale: 0-1 floats or 8-bit). Used to check and to show how well a fill's grain matches.
 */
export function highPassStd(planes: ArrayLike<number>, w: number, h: number, where: (x: number, y: number) => boolean): number {
  const n = w * h;
  let s = 0;
  let s2 = 0;
  let k = 0;
  for (let c = 0; c < 3; c++) {
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        if (!where(x, y)) continue;
        let m = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) m += planes[c * n + (y + dy) * w + x + dx];
        const v = planes[c * n + y * w + x] - m / 9;
        s += v;
        s2 += v * v;
        k++;
      }
    }
  }
  return Math.sqrt(s2 / k - (s / k) ** 2);
}
