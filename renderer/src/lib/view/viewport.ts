// Zoom and pan for the image views (compare, mask painter). One `View` drives every pane, which is
// how the two sides of a compare stay in sync: they share the same object.
//
// Units: `zoom` is CSS pixels per true-image pixel (1 / devicePixelRatio is 1:1 on screen);
// (cx, cy) is the true-image point shown at the centre of the pane. Regions are in true pixels.
import type { Region } from '../../../../app/contract/index.ts';

export interface View {
  zoom: number;
  cx: number;
  cy: number;
}

export interface Size {
  width: number;
  height: number;
}

/** Screen zoom limit (400 %: 4 screen pixels per image pixel); in CSS px that is MAX_ZOOM / dpr. */
export const MAX_ZOOM = 4;

/** Zoom that fits the whole image in the pane (never upsizes a small image past 100 %). */
export function fitZoom(image: Size, pane: Size, dpr = 1): number {
  if (image.width <= 0 || image.height <= 0 || pane.width <= 0 || pane.height <= 0) return 1;
  const z = Math.min(pane.width / image.width, pane.height / image.height);
  return Math.min(z, 1 / dpr);
}

export function minZoom(image: Size, pane: Size, dpr = 1): number {
  return Math.min(fitZoom(image, pane, dpr), 1 / dpr) / 2;
}

export function fitView(image: Size, pane: Size, dpr = 1): View {
  return { zoom: fitZoom(image, pane, dpr), cx: image.width / 2, cy: image.height / 2 };
}

/** Keep the zoom in range and the image from leaving the pane: a centred image stays centred. */
export function clampView(v: View, image: Size, pane: Size, dpr = 1, free = false): View {
  const zoom = Math.min(MAX_ZOOM / dpr, Math.max(minZoom(image, pane, dpr), v.zoom));
  const halfW = pane.width / 2 / zoom;
  const halfH = pane.height / 2 / zoom;
  // free: the pane's centre may go anywhere on the photo, edges and corners included (the mask painter's
  // keyboard crosshair sits there); else the photo fills the pane, or is centred when it is smaller
  const clampAxis = (c: number, half: number, extent: number) => (free ? Math.min(extent, Math.max(0, c)) : half * 2 >= extent ? extent / 2 : Math.min(extent - half, Math.max(half, c)));
  return { zoom, cx: clampAxis(v.cx, halfW, image.width), cy: clampAxis(v.cy, halfH, image.height) };
}

/** Zoom by `factor` keeping the image point under `at` (pane coordinates, CSS px) where it is. */
export function zoomAt(v: View, factor: number, at: { x: number; y: number }, image: Size, pane: Size, dpr = 1): View {
  const target = Math.min(MAX_ZOOM / dpr, Math.max(minZoom(image, pane, dpr), v.zoom * factor));
  return zoomTo(v, target, at, image, pane, dpr);
}

export function zoomTo(v: View, zoom: number, at: { x: number; y: number } | undefined, image: Size, pane: Size, dpr = 1): View {
  const p = at ?? { x: pane.width / 2, y: pane.height / 2 };
  // image point under the cursor before, kept under it after
  const ix = v.cx + (p.x - pane.width / 2) / v.zoom;
  const iy = v.cy + (p.y - pane.height / 2) / v.zoom;
  const cx = ix - (p.x - pane.width / 2) / zoom;
  const cy = iy - (p.y - pane.height / 2) / zoom;
  return clampView({ zoom, cx, cy }, image, pane, dpr);
}

/** Move the view by a drag of (dx, dy) CSS pixels (the image follows the pointer). */
export function panBy(v: View, dx: number, dy: number, image: Size, pane: Size, dpr = 1, free = false): View {
  return clampView({ zoom: v.zoom, cx: v.cx - dx / v.zoom, cy: v.cy - dy / v.zoom }, image, pane, dpr, free);
}

/** CSS transform placing a true-size stage (width x height px) so that the view is shown. */
export function stageTransform(v: View, pane: Size): { tx: number; ty: number; scale: number; css: string } {
  const tx = pane.width / 2 - v.cx * v.zoom;
  const ty = pane.height / 2 - v.cy * v.zoom;
  return { tx, ty, scale: v.zoom, css: `translate(${tx}px, ${ty}px) scale(${v.zoom})` };
}

/** Pane point (CSS px) -> true-image point. */
export function toImage(v: View, pane: Size, p: { x: number; y: number }): { x: number; y: number } {
  return { x: v.cx + (p.x - pane.width / 2) / v.zoom, y: v.cy + (p.y - pane.height / 2) / v.zoom };
}

/** The part of the image the pane shows, in whole true pixels, clipped to the image. */
export function visibleRegion(v: View, pane: Size, image: Size): Region {
  const x0 = Math.max(0, Math.floor(v.cx - pane.width / 2 / v.zoom));
  const y0 = Math.max(0, Math.floor(v.cy - pane.height / 2 / v.zoom));
  const x1 = Math.min(image.width, Math.ceil(v.cx + pane.width / 2 / v.zoom));
  const y1 = Math.min(image.height, Math.ceil(v.cy + pane.height / 2 / v.zoom));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

/** Shrink a region around its centre so neither side exceeds `maxSide` (still inside the image). */
export function capRegion(r: Region, maxSide: number, image: Size): Region {
  const w = Math.min(r.width, maxSide);
  const h = Math.min(r.height, maxSide);
  const x = Math.min(Math.max(0, Math.round(r.x + (r.width - w) / 2)), Math.max(0, image.width - w));
  const y = Math.min(Math.max(0, Math.round(r.y + (r.height - h) / 2)), Math.max(0, image.height - h));
  return { x, y, width: w, height: h };
}

/**
 * True when the screen shows more detail than the display copy holds, i.e. full-resolution tiles
 * are worth fetching. `displayScale` is display width / true width (<= 1).
 */
export function needsFullRes(v: View, displayScale: number, dpr = 1): boolean {
  return v.zoom * dpr > displayScale * 1.01;
}

/** True when regions `a` and `b` share some pixels. */
export function intersects(a: Region, b: Region): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** True when `inner` lies within `outer` (both in true pixels). */
export function contains(outer: Region, inner: Region): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

export function zoomLabel(v: View, dpr = 1): string {
  return `${Math.round(v.zoom * dpr * 100)} %`;
}
