// The one tiler. A model sees the image through square windows of `tile` input pixels whose
// origins are multiples of the model's size multiple (U-Nets with stride-2 stages are only
// shift-invariant by that multiple: unaligned origins made tiled and single-pass results differ
// by 16/255, aligned ones by 0.09/255). Neighbouring windows overlap by `overlap` pixels; inside
// each overlap, both tiles drop the outer quarter (border effects of zero padding) and cross-fade
// over the middle half with complementary raised-cosine weights. The weights of all tiles sum to
// exactly 1 at every pixel, so tiles are accumulated straight into the one output buffer: no
// weight map and no per-tile full-size copies (a 24 MP denoise stays far below 2 GB).
// Windows that reach past the right/bottom edge are filled by mirror reflection, the same padding
// a single pass over the whole image gets, so one tile over a small image *is* the single pass.
// With `passes: 8` (self-ensemble, as in EDSR+ and KAIR's test mode 3) every window is run in
// its 8 rotations and mirrors; each result is turned back and the 8 are averaged before blending.
import { RestoraError, type Passes } from '../../contract/index.ts';

/** One input plane set of the model: planar data at the image's size, or a constant. */
export type PlaneSource =
  | { channels: number; data: Float32Array } // CHW, the image's width x height
  | { channels: number; value: number }; // the same value everywhere (e.g. a uniform sigma map)

/** A tensor handed to the model: NCHW float32, N = 1. */
export interface TileTensor {
  data: Float32Array;
  dims: [1, number, number, number];
}

export interface AxisPlan {
  /** Window origins (input pixels), multiples of the size multiple, ascending. */
  starts: number[];
  /** Window length in input pixels (a multiple of the size multiple); the same for every window. */
  window: number;
  /** Overlap used for blending (input pixels). */
  overlap: number;
}

export interface TileRunOptions {
  width: number; // input image size, pixels
  height: number;
  inputs: Record<string, PlaneSource>; // keyed by the model's input names
  scale: number; // output pixels per input pixel (1, 2, 4)
  sizeMultiple: number; // window sides must be multiples of this
  tile: number; // requested window side (input pixels); rounded down to the multiple
  overlap: number; // requested overlap (input pixels); rounded up to the multiple
  outChannels?: number; // default 3
  /** Runs the model on one window; returns its output (1, outChannels, h*scale, w*scale) as CHW data. */
  run: (feeds: Record<string, TileTensor>, window: { x: number; y: number; width: number; height: number }) => Promise<Float32Array>;
  /** 1 (default) or 8: run each window in its 8 rotations/mirrors and average (8x the time). */
  passes?: Passes;
  signal?: AbortSignal;
  /** Model runs done / total (tiles x passes). */
  onTile?: (done: number, total: number) => void;
}

/**
 * One of the 8 symmetries of the square applied to planar CHW data of `h` x `w`: transpose
 * when `k & 4`, then mirror left-right when `k & 1`, then top-bottom when `k & 2`. The result is
 * `w` x `h` when transposed. `inverse` turns a result of that shape back (scatters where the
 * forward gathers), so `dihedral(dihedral(a, c, h, w, k), c, ..., k, true)` is `a`.
 */
export function dihedral(src: Float32Array, channels: number, h: number, w: number, k: number, inverse = false): Float32Array {
  // the transformed image's size; `inverse` is given the transformed data, so h x w are those
  const t = (k & 4) !== 0;
  const th = inverse ? h : t ? w : h;
  const tw = inverse ? w : t ? h : w;
  const sw = t ? th : tw; // the untransformed image's width
  const out = new Float32Array(src.length);
  const plane = th * tw;
  for (let c = 0; c < channels; c++) {
    const off = c * plane;
    for (let y = 0; y < th; y++) {
      const yy = k & 2 ? th - 1 - y : y;
      for (let x = 0; x < tw; x++) {
        const xx = k & 1 ? tw - 1 - x : x;
        const si = off + (t ? xx * sw + yy : yy * sw + xx); // untransformed pixel
        const ti = off + y * tw + x; // transformed pixel
        if (inverse) out[si] = src[ti];
        else out[ti] = src[si];
      }
    }
  }
  return out;
}

const alignUp = (v: number, m: number) => Math.ceil(v / m) * m;
const alignDown = (v: number, m: number) => Math.floor(v / m) * m;

/**
 * Effective (tile, overlap) for a model: tile rounded down to the multiple (at least one
 * multiple and at least 2 x overlap + one multiple, so blend zones never touch), overlap rounded
 * up to the multiple.
 */
export function effectiveTiling(tile: number, overlap: number, multiple: number): { tile: number; overlap: number } {
  const m = Math.max(1, Math.floor(multiple));
  let o = overlap > 0 ? alignUp(overlap, m) : 0;
  let t = Math.max(m, alignDown(Math.max(1, tile), m));
  if (t < 2 * o + m) {
    // a tile too small for its overlap: shrink the overlap rather than grow the tile the caller chose
    o = alignDown(Math.max(0, (t - m) / 2), m);
  }
  t = Math.max(t, m);
  return { tile: t, overlap: o };
}

/**
 * Plan windows along one axis of `length` pixels. Every start is a multiple of `multiple`; the
 * last window ends at or past `length` (the excess, less than one multiple, is reflect-padded);
 * consecutive windows overlap by at least `overlap`; a length that fits one window gets one
 * window of the length rounded up to the multiple.
 *
 * The window count is the fewest `tile`-sized windows that cover the axis, and the windows are
 * then shrunk to the smallest common size that still covers it with that count: 1000 px with
 * 512 px tiles and a 64 px overlap runs 3 windows of 376 px (1128 px computed), not 3 of 512
 * (1536 px, the last one nearly all recomputation).
 */
export function planAxis(length: number, tile: number, overlap: number, multiple: number): AxisPlan {
  const { tile: t, overlap: o } = effectiveTiling(tile, overlap, multiple);
  const m = Math.max(1, Math.floor(multiple));
  if (length <= t) return { starts: [0], window: alignUp(length, m), overlap: 0 };
  const n = Math.ceil((length - o) / (t - o));
  // n * w - (n - 1) * o >= length, and room for both blend zones of a middle window
  const w = Math.min(t, Math.max(alignUp(Math.ceil((length + (n - 1) * o) / n), m), 2 * o + m));
  const stride = alignUp(Math.ceil((length - w) / (n - 1)), m); // <= w - o
  const last = alignUp(length - w, m); // <= (n - 1) * stride
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = i === n - 1 ? last : Math.min(i * stride, last);
    if (!starts.length || s > starts[starts.length - 1]) starts.push(s);
  }
  return { starts, window: w, overlap: o };
}

/** How many windows a run will use (for recipe-wide progress totals). */
export function tileCount(width: number, height: number, tile: number, overlap: number, multiple: number): number {
  return planAxis(width, tile, overlap, multiple).starts.length * planAxis(height, tile, overlap, multiple).starts.length;
}

/**
 * 1-D blend weights of window `i` in output pixels (length window * scale). Inside the overlap
 * [e - O, e) with the previous/next window (e = the earlier window's end), the outer quarter
 * O/4 is dropped and the middle is a raised cosine; the pair sums to 1 everywhere.
 */
export function axisWeights(plan: AxisPlan, i: number, scale: number): Float32Array {
  const { starts, window: t, overlap: o } = plan;
  const n = t * scale;
  const w = new Float32Array(n).fill(1);
  const d = Math.floor(o / 4);
  const ramp = (from: number, to: number, rising: boolean) => {
    // [from, to) in input pixels, relative to this window; output pixel centres
    const a = from * scale;
    const b = to * scale;
    for (let x = 0; x < n; x++) {
      const c = x + 0.5;
      let r: number;
      if (b <= a) r = c < a ? 0 : 1; // no room to fade: a hard switch
      else r = c <= a ? 0 : c >= b ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * (c - a)) / (b - a));
      w[x] *= rising ? r : 1 - r;
    }
  };
  const s = starts[i];
  if (i > 0) {
    const e = starts[i - 1] + t; // previous window's end
    ramp(e - o + d - s, e - d - s, true);
  }
  if (i < starts.length - 1) {
    const e = s + t;
    ramp(e - o + d - s, e - d - s, false);
  }
  return w;
}

/** Mirror an index into [0, n) (reflection without repeating the edge pixel; period 2n - 2). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  let k = i % period;
  if (k < 0) k += period;
  return k < n ? k : period - k;
}

function extract(src: PlaneSource, width: number, height: number, x0: number, y0: number, tw: number, th: number, cols: Int32Array): Float32Array {
  const out = new Float32Array(src.channels * tw * th);
  if ('value' in src) return out.fill(src.value);
  const plane = width * height;
  const inside = x0 + tw <= width;
  for (let c = 0; c < src.channels; c++) {
    for (let r = 0; r < th; r++) {
      const sy = reflectIndex(y0 + r, height);
      const rowStart = c * plane + sy * width;
      const o = c * tw * th + r * tw;
      if (inside) {
        out.set(src.data.subarray(rowStart + x0, rowStart + x0 + tw), o);
      } else {
        for (let x = 0; x < tw; x++) out[o + x] = src.data[rowStart + cols[x]];
      }
    }
  }
  return out;
}

/**
 * Run a model over an image in aligned, overlapping, feathered tiles.
 * Returns planar float32 (CHW, outChannels x height*scale x width*scale), unclipped.
 * Throws RestoraError('E_CANCELLED') when `signal` aborts (checked before every tile).
 */
export async function runTiled(o: TileRunOptions): Promise<Float32Array> {
  const { width, height, scale } = o;
  const outC = o.outChannels ?? 3;
  const px = planAxis(width, o.tile, o.overlap, o.sizeMultiple);
  const py = planAxis(height, o.tile, o.overlap, o.sizeMultiple);
  const ow = width * scale;
  const oh = height * scale;
  const out = new Float32Array(outC * ow * oh);
  const passes = o.passes ?? 1;
  if (passes !== 1 && passes !== 8) throw new RestoraError('E_USAGE', `passes must be 1 or 8, not ${String(passes)}`);
  const total = px.starts.length * py.starts.length * passes;
  const wxs = px.starts.map((_, i) => axisWeights(px, i, scale));
  const wys = py.starts.map((_, i) => axisWeights(py, i, scale));
  const tw = px.window;
  const th = py.window;
  const tow = tw * scale;
  const toh = th * scale;
  const oplane = ow * oh;
  let done = 0;
  for (let iy = 0; iy < py.starts.length; iy++) {
    const y0 = py.starts[iy];
    for (let ix = 0; ix < px.starts.length; ix++) {
      // let the event loop turn before each tile: a model's run can block this thread and resolve at once,
      // and a cancel (Ctrl-C, the window's Cancel, a preview replaced) is only seen if its event is handled
      // between tiles, not after the whole image (a few microseconds against a tile's hundreds of ms)
      if (o.signal) await new Promise<void>((r) => setImmediate(r));
      if (o.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
      const x0 = px.starts[ix];
      const cols = new Int32Array(tw);
      for (let x = 0; x < tw; x++) cols[x] = reflectIndex(x0 + x, width);
      const feeds: Record<string, TileTensor> = {};
      for (const [name, src] of Object.entries(o.inputs)) {
        feeds[name] = { data: extract(src, width, height, x0, y0, tw, th, cols), dims: [1, src.channels, th, tw] };
      }
      const window = { x: x0, y: y0, width: tw, height: th };
      // pass k sees the window turned by symmetry k (k 0: as it is), and its result is turned back
      let res: Float32Array = new Float32Array(0);
      for (let k = 0; k < passes; k++) {
        if (k > 0 && o.signal) await new Promise<void>((r) => setImmediate(r));
        if (k > 0 && o.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
        const tr = (k & 4) !== 0; // transposed: the model sees a th x tw window
        const turned: Record<string, TileTensor> = {};
        for (const [name, f] of Object.entries(feeds)) {
          const c = f.dims[1];
          turned[name] = k === 0 ? f : { data: dihedral(f.data, c, th, tw, k), dims: tr ? [1, c, tw, th] : [1, c, th, tw] };
        }
        const r = await o.run(turned, window);
        if (r.length !== outC * tow * toh) {
          const [w, h] = tr ? [th, tw] : [tw, th];
          throw new RestoraError('E_MODEL', `the model returned ${r.length} values for a ${w}x${h} tile (expected ${outC}x${h * scale}x${w * scale})`);
        }
        const back = k === 0 ? r : dihedral(r, outC, tr ? tow : toh, tr ? toh : tow, k, true);
        if (passes === 1) res = back;
        else {
          if (k === 0) res = new Float32Array(back.length);
          for (let i = 0; i < res.length; i++) res[i] += back[i];
        }
        done++;
        o.onTile?.(done, total);
      }
      if (passes > 1) for (let i = 0; i < res.length; i++) res[i] /= passes;
      const wx = wxs[ix];
      const wy = wys[iy];
      const oy0 = y0 * scale;
      const ox0 = x0 * scale;
      const xEnd = Math.min(tow, ow - ox0);
      const yEnd = Math.min(toh, oh - oy0);
      // columns with non-zero weight: skip the dropped quarter quickly
      let xa = 0;
      while (xa < xEnd && wx[xa] === 0) xa++;
      let xb = xEnd;
      while (xb > xa && wx[xb - 1] === 0) xb--;
      for (let c = 0; c < outC; c++) {
        const tOff = c * tow * toh;
        const oOff = c * oplane;
        for (let y = 0; y < yEnd; y++) {
          const wyv = wy[y];
          if (wyv === 0) continue;
          const ti = tOff + y * tow;
          const oi = oOff + (oy0 + y) * ow + ox0;
          if (wyv === 1) {
            for (let x = xa; x < xb; x++) out[oi + x] += wx[x] * res[ti + x];
          } else {
            for (let x = xa; x < xb; x++) out[oi + x] += wyv * wx[x] * res[ti + x];
          }
        }
      }
    }
  }
  return out;
}
