// Grain for inpainted fills. The inpainter's fill is smooth; in a grainy photo (high ISO, film) a
// smooth patch stands out. With "match grain" the inpaint step reads the photo's own grain around
// the hole (the photo minus what the denoiser makes of it, so it carries the photo's grain size,
// colour correlation and JPEG texture) and copies it into the hole, cell by cell, from nearby
// cells that lie wholly outside the hole. Noise has a short reach, so cells copied side by side
// show no seam. Where the denoiser softened an edge, the residual holds a trace of that edge, not
// grain: cells with much more residual than the window's typical cell are passed over, so no ghost
// of an edge is copied into a flat fill. Seeded: the same photo and mask give the same pixels on every run.
import { Rng } from '../eval/rng.ts';

/** Side of the cells copied into the hole (px). A few times grain's reach, small enough to stay local. */
export const GRAIN_CELL = 16;
/** How far around the hole grain is read (px): the denoiser runs on the hole's box widened by this. */
export const GRAIN_MARGIN = 96;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The hole's bounding box widened by `margin` and clamped to the image; undefined for an empty hole. */
export function grainWindow(hole: Float32Array, width: number, height: number, margin = GRAIN_MARGIN): Box | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (hole[row + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return undefined;
  const x = Math.max(0, x0 - margin);
  const y = Math.max(0, y0 - margin);
  return { x, y, w: Math.min(width, x1 + 1 + margin) - x, h: Math.min(height, y1 + 1 + margin) - y };
}

/** Summed-area table of `value(i)` over a w x h plane, (w+1) x (h+1). */
function table(w: number, h: number, value: (i: number) => number): Float64Array {
  const t = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let run = 0;
    for (let x = 0; x < w; x++) {
      run += value(y * w + x);
      t[(y + 1) * (w + 1) + x + 1] = t[y * (w + 1) + x + 1] + run;
    }
  }
  return t;
}

function sumIn(t: Float64Array, w: number, b: Box): number {
  const W = w + 1;
  return t[(b.y + b.h) * W + b.x + b.w] - t[b.y * W + b.x + b.w] - t[(b.y + b.h) * W + b.x] + t[b.y * W + b.x];
}

export interface GrainResult {
  /** CHW, the window's size: the copied grain in the hole's cells, 0 elsewhere. */
  grain: Float32Array;
  /** Cells that touch the hole, and how many of them found a source outside it. */
  cells: number;
  filled: number;
}

/**
 * Copy grain into the hole. `residual` (CHW) and `hole` (HW, > 0 = fill) cover the same w x h
 * window. Each cell of the grid that touches the hole takes the residual of a cell of the same
 * size at a random offset that lies inside the window and wholly outside the hole, looked for
 * close first (within 2 cells, then 4, 8 ...), and whose residual energy is at most twice the
 * median of the grid's cells outside the hole (else the calmest such cell seen is taken). A cell
 * with no source outside the hole stays without grain.
 */
export function copyGrain(residual: Float32Array, hole: Float32Array, w: number, h: number, opts: { cell?: number; seed?: number } = {}): GrainResult {
  const P = opts.cell ?? GRAIN_CELL;
  const n = w * h;
  const grain = new Float32Array(3 * n);
  const holes = table(w, h, (i) => (hole[i] > 0 ? 1 : 0));
  const energy = table(w, h, (i) => residual[i] ** 2 + residual[n + i] ** 2 + residual[2 * n + i] ** 2);
  const perPixel = (b: Box) => sumIn(energy, w, b) / (b.w * b.h);
  const typical: number[] = [];
  for (let y = 0; y + P <= h; y += P) {
    for (let x = 0; x + P <= w; x += P) {
      const b = { x, y, w: P, h: P };
      if (sumIn(holes, w, b) === 0) typical.push(perPixel(b));
    }
  }
  typical.sort((a, b) => a - b);
  const limit = typical.length ? 2 * typical[typical.length >> 1] : Infinity;
  const rng = new Rng(opts.seed ?? 1);
  const random = () => rng.uniform();
  let cells = 0;
  let filled = 0;
  for (let cy = 0; cy < h; cy += P) {
    for (let cx = 0; cx < w; cx += P) {
      const dst = { x: cx, y: cy, w: Math.min(P, w - cx), h: Math.min(P, h - cy) };
      if (sumIn(holes, w, dst) === 0) continue;
      cells++;
      let src: Box | undefined;
      let calmest: { b: Box; e: number } | undefined;
      for (let reach = 2 * P; !src; reach *= 2) {
        for (let tries = 0; tries < 24 && !src; tries++) {
          const sx = dst.x + Math.round((random() * 2 - 1) * reach);
          const sy = dst.y + Math.round((random() * 2 - 1) * reach);
          if (sx < 0 || sy < 0 || sx + dst.w > w || sy + dst.h > h) continue;
          const b = { x: sx, y: sy, w: dst.w, h: dst.h };
          if (sumIn(holes, w, b) !== 0) continue;
          const e = perPixel(b);
          if (e <= limit) src = b;
          else if (!calmest || e < calmest.e) calmest = { b, e };
        }
        if (reach > 2 * Math.max(w, h)) break;
      }
      src ??= calmest?.b;
      if (!src) continue;
      filled++;
      for (let c = 0; c < 3; c++) {
        for (let r = 0; r < dst.h; r++) {
          const d = c * n + (dst.y + r) * w + dst.x;
          const s = c * n + (src.y + r) * w + src.x;
          for (let i = 0; i < dst.w; i++) if (hole[d - c * n + i] > 0) grain[d + i] = residual[s + i];
        }
      }
    }
  }
  return { grain, cells, filled };
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
