// The painted inpaint mask and its edit history, as plain data (no DOM), so it is unit-tested.
//
// A mask is one byte per pixel, 0 = keep, 255 = fill, row-major, at `maskSize()` of the photo
// (true size up to 4096 px on the long side; larger photos are painted at a reduced size and the
// mask is scaled up when it is saved). Brush and eraser take the max / min with a round stamp
// whose edge is feathered, so going over the same place twice within a stroke changes nothing.
//
// Undo works on 64x64 tiles: before a tile is first changed in an edit its bytes are kept, and the
// edit stores before/after copies of the tiles it touched. A stroke over a 24 MP mask costs
// kilobytes, not a copy of the whole mask; clear and invert touch every tile (bounded by the
// history budget, oldest edits dropped first).

export interface MaskBitmap {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type BrushMode = 'paint' | 'erase';

export interface Brush {
  /** radius in mask pixels */
  radius: number;
  /** 0 = hard edge, 1 = soft all the way to the centre */
  feather: number;
  mode: BrushMode;
}

export const MASK_MAX_SIDE = 4096;

/** Mask resolution for a photo; `scale` = mask pixels per true pixel (<= 1). */
export function maskSize(imageWidth: number, imageHeight: number, maxSide = MASK_MAX_SIDE): { width: number; height: number; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(imageWidth, imageHeight));
  return { width: Math.max(1, Math.round(imageWidth * scale)), height: Math.max(1, Math.round(imageHeight * scale)), scale };
}

export function createMask(width: number, height: number): MaskBitmap {
  return { width, height, data: new Uint8Array(width * height) };
}

export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

function clipRect(r: Rect, m: MaskBitmap): Rect | null {
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(m.width, Math.ceil(r.x + r.width));
  const y1 = Math.min(m.height, Math.ceil(r.y + r.height));
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** Coverage of a feathered disc at distance d from its centre, in [0, 1]. */
export function coverage(d: number, radius: number, feather: number): number {
  if (d >= radius) return 0;
  const inner = radius * (1 - Math.min(1, Math.max(0, feather)));
  if (d <= inner) return 1;
  return (radius - d) / (radius - inner);
}

/** The pixels a stamp at (x, y) would touch (clipped), without changing anything. */
export function stampRect(m: MaskBitmap, x: number, y: number, radius: number): Rect | null {
  return clipRect({ x: x - radius, y: y - radius, width: radius * 2, height: radius * 2 }, m);
}

/** Apply one round stamp centred at (x, y) (mask pixel coordinates, pixel centres at i + 0.5). */
export function stamp(m: MaskBitmap, x: number, y: number, brush: Brush): Rect | null {
  const r = Math.max(0.5, brush.radius);
  const rect = stampRect(m, x, y, r);
  if (!rect) return null;
  const { data, width } = m;
  for (let py = rect.y; py < rect.y + rect.height; py++) {
    const dy = py + 0.5 - y;
    for (let px = rect.x; px < rect.x + rect.width; px++) {
      const dx = px + 0.5 - x;
      const a = coverage(Math.sqrt(dx * dx + dy * dy), r, brush.feather);
      if (a <= 0) continue;
      const i = py * width + px;
      if (brush.mode === 'paint') {
        const v = Math.round(a * 255);
        if (v > data[i]) data[i] = v;
      } else {
        const v = Math.round((1 - a) * 255);
        if (v < data[i]) data[i] = v;
      }
    }
  }
  return rect;
}

/** Stamps along a segment, spaced a quarter radius apart, so fast strokes leave no gaps. */
export function segmentRects(m: MaskBitmap, from: { x: number; y: number }, to: { x: number; y: number }, radius: number): Rect | null {
  return clipRect(
    {
      x: Math.min(from.x, to.x) - radius,
      y: Math.min(from.y, to.y) - radius,
      width: Math.abs(to.x - from.x) + radius * 2,
      height: Math.abs(to.y - from.y) + radius * 2,
    },
    m,
  );
}

export function segment(m: MaskBitmap, from: { x: number; y: number }, to: { x: number; y: number }, brush: Brush): Rect | null {
  const len = Math.hypot(to.x - from.x, to.y - from.y);
  const step = Math.max(0.5, brush.radius / 4);
  const n = Math.max(1, Math.ceil(len / step));
  let dirty: Rect | null = null;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    dirty = unionRect(dirty, stamp(m, from.x + (to.x - from.x) * t, from.y + (to.y - from.y) * t, brush));
  }
  return dirty;
}

/** Bounding box (in mask pixels, clipped to the mask) of a polygon's pixels; null when it covers none. */
export function polygonRect(m: MaskBitmap, pts: { x: number; y: number }[]): Rect | null {
  if (pts.length < 3) return null;
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(m.width, Math.ceil(Math.max(...xs)) + 1);
  const y1 = Math.min(m.height, Math.ceil(Math.max(...ys)) + 1);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/**
 * Fill (paint: 255) or clear (erase: 0) the pixels whose centres lie inside the closed polygon `pts`
 * (mask pixels; the last point joins the first). Nonzero winding: a loop drawn past its start to be
 * sure it closes fills the whole of it (even-odd would leave the overlap out), and a figure eight
 * fills both loops. A scanline fill: per row, the edges' crossings of the row's centre line, sorted,
 * each +1 or -1 by its direction; pixels where the running sum is not 0 are inside.
 */
export function fillPolygon(m: MaskBitmap, pts: { x: number; y: number }[], mode: BrushMode): Rect | null {
  const rect = polygonRect(m, pts);
  if (!rect) return null;
  const value = mode === 'paint' ? 255 : 0;
  const xs: { x: number; dir: number }[] = [];
  for (let py = rect.y; py < rect.y + rect.height; py++) {
    const cy = py + 0.5;
    xs.length = 0;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const a = pts[i];
      const b = pts[j];
      if (a.y > cy !== b.y > cy) xs.push({ x: a.x + ((cy - a.y) * (b.x - a.x)) / (b.y - a.y), dir: a.y > b.y ? 1 : -1 });
    }
    xs.sort((u, v) => u.x - v.x);
    const row = py * m.width;
    let winding = 0;
    for (let k = 0; k + 1 < xs.length; k++) {
      winding += xs[k].dir;
      if (winding === 0) continue;
      // pixels whose centre x + 0.5 lies in [xs[k], xs[k+1])
      const from = Math.max(rect.x, Math.ceil(xs[k].x - 0.5));
      const to = Math.min(rect.x + rect.width, Math.ceil(xs[k + 1].x - 0.5));
      if (to > from) m.data.fill(value, row + from, row + to);
    }
  }
  return rect;
}

export function isEmpty(m: MaskBitmap, threshold = 128): boolean {
  const d = m.data;
  for (let i = 0; i < d.length; i++) if (d[i] >= threshold) return false;
  return true;
}

/** Fraction of pixels at or above `threshold`. */
export function coverageFraction(m: MaskBitmap, threshold = 128): number {
  let n = 0;
  const d = m.data;
  for (let i = 0; i < d.length; i++) if (d[i] >= threshold) n++;
  return d.length ? n / d.length : 0;
}

/** RGBA pixels for showing `rect` of the mask as a coloured overlay (alpha follows the mask). */
export function overlayPixels(m: MaskBitmap, rect: Rect, color: [number, number, number] = [255, 64, 96], opacity = 0.55): Uint8ClampedArray {
  const out = new Uint8ClampedArray(rect.width * rect.height * 4);
  for (let y = 0; y < rect.height; y++) {
    let src = (rect.y + y) * m.width + rect.x;
    let dst = y * rect.width * 4;
    for (let x = 0; x < rect.width; x++, src++, dst += 4) {
      out[dst] = color[0];
      out[dst + 1] = color[1];
      out[dst + 2] = color[2];
      out[dst + 3] = m.data[src] * opacity;
    }
  }
  return out;
}

/** RGBA pixels of the whole mask as opaque grey (white = fill), for encoding as PNG. */
export function greyPixels(m: MaskBitmap): Uint8ClampedArray {
  const out = new Uint8ClampedArray(m.width * m.height * 4);
  for (let i = 0, j = 0; i < m.data.length; i++, j += 4) {
    const v = m.data[i];
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
    out[j + 3] = 255;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// editing with undo/redo

const TILE = 64;

interface TilePatch {
  index: number;
  before: Uint8Array;
  after: Uint8Array;
}

interface Edit {
  tiles: TilePatch[];
  bytes: number;
}

export class MaskEditor {
  readonly mask: MaskBitmap;
  readonly #cols: number;
  readonly #rows: number;
  readonly #budget: number;
  #undo: Edit[] = [];
  #redo: Edit[] = [];
  #open: Map<number, Uint8Array> | null = null;
  #bytes = 0;
  #last: { x: number; y: number } | null = null;

  /** `budget`: bytes of history kept (before + after copies); the oldest edits go first. */
  constructor(mask: MaskBitmap, budget = 256 * 1024 * 1024) {
    this.mask = mask;
    this.#cols = Math.ceil(mask.width / TILE);
    this.#rows = Math.ceil(mask.height / TILE);
    this.#budget = budget;
  }

  get canUndo(): boolean {
    return this.#undo.length > 0;
  }
  get canRedo(): boolean {
    return this.#redo.length > 0;
  }
  get undoDepth(): number {
    return this.#undo.length;
  }
  get historyBytes(): number {
    return this.#bytes;
  }

  #tileRect(index: number): Rect {
    const tx = index % this.#cols;
    const ty = Math.floor(index / this.#cols);
    const x = tx * TILE;
    const y = ty * TILE;
    return { x, y, width: Math.min(TILE, this.mask.width - x), height: Math.min(TILE, this.mask.height - y) };
  }

  #read(index: number): Uint8Array {
    const r = this.#tileRect(index);
    const out = new Uint8Array(r.width * r.height);
    for (let y = 0; y < r.height; y++) out.set(this.mask.data.subarray((r.y + y) * this.mask.width + r.x, (r.y + y) * this.mask.width + r.x + r.width), y * r.width);
    return out;
  }

  #write(index: number, bytes: Uint8Array): void {
    const r = this.#tileRect(index);
    for (let y = 0; y < r.height; y++) this.mask.data.set(bytes.subarray(y * r.width, (y + 1) * r.width), (r.y + y) * this.mask.width + r.x);
  }

  /** Keep the bytes of every tile under `rect` that this edit has not touched yet. */
  #touch(rect: Rect | null): void {
    if (!rect || !this.#open) return;
    const tx0 = Math.floor(rect.x / TILE);
    const ty0 = Math.floor(rect.y / TILE);
    const tx1 = Math.min(this.#cols - 1, Math.floor((rect.x + rect.width - 1) / TILE));
    const ty1 = Math.min(this.#rows - 1, Math.floor((rect.y + rect.height - 1) / TILE));
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const i = ty * this.#cols + tx;
        if (!this.#open.has(i)) this.#open.set(i, this.#read(i));
      }
    }
  }

  /** Start an edit (a stroke). Calls outside begin/end are wrapped in their own edit. */
  begin(): void {
    if (this.#open) this.end();
    this.#open = new Map();
    this.#last = null;
  }

  /** Close the edit; returns true when it changed something (and is now undoable). */
  end(): boolean {
    const open = this.#open;
    this.#open = null;
    this.#last = null;
    if (!open || open.size === 0) return false;
    const tiles: TilePatch[] = [];
    let bytes = 0;
    for (const [index, before] of open) {
      const after = this.#read(index);
      let same = before.length === after.length;
      for (let k = 0; same && k < before.length; k++) if (before[k] !== after[k]) same = false;
      if (same) continue;
      tiles.push({ index, before, after });
      bytes += before.length * 2;
    }
    if (tiles.length === 0) return false;
    this.#undo.push({ tiles, bytes });
    this.#bytes += bytes;
    for (const e of this.#redo) this.#bytes -= e.bytes;
    this.#redo = [];
    while (this.#bytes > this.#budget && this.#undo.length > 1) {
      const dropped = this.#undo.shift() as Edit;
      this.#bytes -= dropped.bytes;
    }
    return true;
  }

  #wrap<T>(fn: () => T): T {
    const own = !this.#open;
    if (own) this.begin();
    const r = fn();
    if (own) this.end();
    return r;
  }

  /** Continue the current stroke to (x, y) in mask pixels; the first point is a single stamp. */
  strokeTo(x: number, y: number, brush: Brush): Rect | null {
    return this.#wrap(() => {
      const from = this.#last ?? { x, y };
      this.#touch(segmentRects(this.mask, from, { x, y }, Math.max(0.5, brush.radius)));
      const dirty = segment(this.mask, from, { x, y }, brush);
      this.#last = { x, y };
      return dirty;
    });
  }

  /** Fill (or, erasing, clear) what the closed outline `pts` (mask pixels) encloses, as one edit. */
  fillPolygon(pts: { x: number; y: number }[], mode: BrushMode): Rect | null {
    return this.#wrap(() => {
      this.#touch(polygonRect(this.mask, pts));
      return fillPolygon(this.mask, pts, mode);
    });
  }

  #all(): Rect {
    return { x: 0, y: 0, width: this.mask.width, height: this.mask.height };
  }

  clear(): Rect {
    return this.#wrap(() => {
      this.#touch(this.#all());
      this.mask.data.fill(0);
      return this.#all();
    });
  }

  invert(): Rect {
    return this.#wrap(() => {
      this.#touch(this.#all());
      const d = this.mask.data;
      for (let i = 0; i < d.length; i++) d[i] = 255 - d[i];
      return this.#all();
    });
  }

  #apply(edit: Edit, which: 'before' | 'after'): Rect | null {
    let dirty: Rect | null = null;
    for (const t of edit.tiles) {
      this.#write(t.index, t[which]);
      dirty = unionRect(dirty, this.#tileRect(t.index));
    }
    return dirty;
  }

  undo(): Rect | null {
    if (this.#open) this.end();
    const e = this.#undo.pop();
    if (!e) return null;
    this.#redo.push(e);
    return this.#apply(e, 'before');
  }

  redo(): Rect | null {
    if (this.#open) this.end();
    const e = this.#redo.pop();
    if (!e) return null;
    this.#undo.push(e);
    return this.#apply(e, 'after');
  }
}
