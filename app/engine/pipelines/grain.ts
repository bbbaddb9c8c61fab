// Grain for inpainted fills. The inpainter's fill is smooth; in a grainy photo (high ISO, film) a
// smooth patch stands out. With "match grain" the inpaint step takes the photo's fine detail around
// the hole (the photo minus its Gaussian blur of GRAIN_BLUR px: grain of any kind, colour or
// monochrome, film clumps, JPEG texture) and copies it into the hole, cell by cell, from nearby
// boxes that lie wholly outside the hole, cross-fading neighbouring cells so no cell edge shows.
// Where the window holds an edge or strong texture the detail is not grain: boxes with much more of
// it than the window's typical cell are passed over, so no ghost of an edge is copied into a flat
// fill. Each cell's random draws are seeded by its place in the photo, so the same photo and mask
// give the same pixels on every run, and a region preview draws as the full run does (its grain can
// still differ a little where its window is cut by the preview's edge).
import { Rng } from '../eval/rng.ts';

/** Side of the cells copied into the hole (px of the original photo; times the scale after an upscale). */
export const GRAIN_CELL = 16;
/** The grain is the photo minus its Gaussian blur of this many px (times the scale after an upscale). */
export const GRAIN_BLUR = 3;
/** How far around a hole grain is read (px of the original photo; times the scale after an upscale). */
export const GRAIN_MARGIN = 96;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Where grain is read: each connected part of the hole (8-neighbours) gets its bounding box widened
 * by `margin` and clamped to the image, and boxes that overlap are merged, so scattered dust spots
 * cost a few small windows instead of the whole photo. Empty for an empty hole.
 */
export function holeWindows(hole: Float32Array, width: number, height: number, margin = GRAIN_MARGIN): Box[] {
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  let boxes: Box[] = [];
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !(hole[start] > 0)) continue;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (!seen[j] && hole[j] > 0) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    const x = Math.max(0, x0 - margin);
    const y = Math.max(0, y0 - margin);
    boxes.push({ x, y, w: Math.min(width, x1 + 1 + margin) - x, h: Math.min(height, y1 + 1 + margin) - y });
  }
  // merge overlapping windows until none overlap
  for (let merged = true; merged; ) {
    merged = false;
    const out: Box[] = [];
    for (const b of boxes) {
      const o = out.find((a) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h);
      if (!o) {
        out.push({ ...b });
        continue;
      }
      const x = Math.min(o.x, b.x);
      const y = Math.min(o.y, b.y);
      o.w = Math.max(o.x + o.w, b.x + b.w) - x;
      o.h = Math.max(o.y + o.h, b.y + b.h) - y;
      o.x = x;
      o.y = y;
      merged = true;
    }
    boxes = out;
  }
  return boxes;
}

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

/**
 * The fine detail of planar RGB (CHW): each channel minus its Gaussian blur of `sigma` px (separable,
 * edges clamped). Grain and fine texture pass; shading and edges' broad steps do not.
 */
export function highPass(data: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const n = w * h;
  const out = new Float32Array(3 * n);
  const tmp = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    const src = data.subarray(c * n, (c + 1) * n);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) v += k[i + r] * src[y * w + Math.min(w - 1, Math.max(0, x + i))];
        tmp[y * w + x] = v;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) v += k[i + r] * tmp[Math.min(h - 1, Math.max(0, y + i)) * w + x];
        out[c * n + y * w + x] = src[y * w + x] - v;
      }
    }
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
