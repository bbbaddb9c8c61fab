// Large holes. Our inpainter reaches about 100 px into a hole from its edge (measured on a 432 x 368
// hole: the fill is sound up to 96-112 px from the edge and black beyond 140). A bigger hole is
// filled from its edge inward: each pass keeps what lies within INPAINT_BAND px of what is known,
// and the next pass fills the rest of the hole from that (cross-fading INPAINT_SEAM px with the pass
// before, so no step shows between them), until none is left.

/** Where a (soft, feathered) mask counts as hole: the inpainter fills it and the feather blends it. */
export function isHole(mask: number): boolean {
  return mask >= 0.02;
}

/** A hole whose pixels all lie within this many px of the photo is filled in one pass. */
export const INPAINT_REACH = 96;
/** How deep each pass of a larger hole reaches (px from what is known before that pass). */
export const INPAINT_BAND = 64;
/** Each later pass fills again the last this many px of the pass before, and cross-fades the two there. */
export const INPAINT_SEAM = 16;

/**
 * Distance (px, chamfer 3-4 over 8 neighbours, within about 8 % of Euclidean) from each hole pixel
 * (hole > 0) to the nearest pixel outside the hole; 0 outside it. With no pixel outside the hole
 * every distance is Infinity.
 */
export function distanceToKnown(hole: Float32Array, width: number, height: number): Float32Array {
  const d = new Float32Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = hole[i] > 0 ? Infinity : 0;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= height ? Infinity : d[y * width + x]);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(d[i], at(x - 1, y) + 3, at(x, y - 1) + 3, at(x - 1, y - 1) + 4, at(x + 1, y - 1) + 4);
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(d[i], at(x + 1, y) + 3, at(x, y + 1) + 3, at(x + 1, y + 1) + 4, at(x - 1, y + 1) + 4);
    }
  }
  for (let i = 0; i < d.length; i++) d[i] /= 3;
  return d;
}

/** A hole's distance map at 1/`block` of its size (max-pooled: a block touching the hole is hole). */
export interface PooledDepth {
  d: Float32Array;
  bw: number;
  bh: number;
  block: number;
}

export function poolDepth(hole: ArrayLike<number>, width: number, height: number, block = 8): PooledDepth {
  const bw = Math.ceil(width / block);
  const bh = Math.ceil(height / block);
  const pooled = new Float32Array(bw * bh);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (hole[y * width + x] > 0) pooled[Math.floor(y / block) * bw + Math.floor(x / block)] = 1;
  return { d: distanceToKnown(pooled, bw, bh), bw, bh, block };
}

/**
 * How deep (px) the hole reaches under a region: the largest distance to the photo of any hole pixel in
 * `region`, read on the pooled map (over by up to about a block, never under). 0 when the region holds
 * no hole; Infinity when the pooled map knows nothing there (known slivers thinner than a block).
 */
export function depthAt(p: PooledDepth, region: { x: number; y: number; width: number; height: number }): number {
  let deepest = 0;
  for (let by = Math.floor(region.y / p.block); by <= Math.floor((region.y + region.height - 1) / p.block) && by < p.bh; by++) {
    for (let bx = Math.floor(region.x / p.block); bx <= Math.floor((region.x + region.width - 1) / p.block) && bx < p.bw; bx++) {
      deepest = Math.max(deepest, p.d[by * p.bw + bx]);
    }
  }
  return deepest === 0 ? 0 : (deepest + 1) * p.block;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Windows around a hole: each connected part of the hole (8-neighbours) gets its bounding box widened
 * by `margin` and clamped to the image, and boxes that overlap are merged, so scattered dust spots
 * cost a few small windows instead of the whole photo. Empty for an empty hole.
 */
export function holeWindows(hole: ArrayLike<number>, width: number, height: number, margin: number): Box[] {
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

