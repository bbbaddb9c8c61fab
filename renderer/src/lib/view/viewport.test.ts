import { describe, expect, it } from 'vitest';
import { capRegion, clampView, fitView, fitZoom, MAX_ZOOM, needsFullRes, panBy, stageTransform, toImage, visibleRegion, zoomAt, zoomTo } from './viewport.ts';

const big = { width: 6000, height: 4000 }; // 24 MP
const pane = { width: 1200, height: 800 };

describe('viewport', () => {
  it('fits a 24 MP photo in the pane and never upsizes a small one past 100 %', () => {
    expect(fitZoom(big, pane)).toBeCloseTo(0.2);
    expect(fitZoom({ width: 300, height: 200 }, pane)).toBe(1);
    expect(fitZoom({ width: 300, height: 200 }, pane, 2)).toBe(0.5);
    const v = fitView(big, pane);
    expect(visibleRegion(v, pane, big)).toEqual({ x: 0, y: 0, width: 6000, height: 4000 });
  });

  it('zooms about the cursor: the image point under it stays put', () => {
    const v = fitView(big, pane);
    const at = { x: 900, y: 200 };
    const before = toImage(v, pane, at);
    const z = zoomAt(v, 3, at, big, pane);
    const after = toImage(z, pane, at);
    expect(after.x).toBeCloseTo(before.x, 6);
    expect(after.y).toBeCloseTo(before.y, 6);
    expect(z.zoom).toBeCloseTo(0.6);
  });

  it('caps zoom at 400 % on screen (device pixels), and 1:1 is one image pixel per device pixel', () => {
    const v = fitView(big, pane);
    expect(zoomAt(v, 1000, { x: 0, y: 0 }, big, pane).zoom).toBe(MAX_ZOOM);
    expect(zoomAt(v, 1000, { x: 0, y: 0 }, big, pane, 2).zoom).toBe(MAX_ZOOM / 2);
    expect(zoomTo(v, 0.5, undefined, big, pane, 2).zoom).toBe(0.5);
  });

  it('keeps the image in the pane when panning, and centred when it is smaller', () => {
    const z = zoomTo(fitView(big, pane), 1, undefined, big, pane);
    const far = panBy(z, 1e6, 1e6, big, pane);
    expect(far.cx).toBe(600);
    expect(far.cy).toBe(400);
    const small = clampView({ zoom: 0.1, cx: 0, cy: 0 }, big, pane);
    expect(small.cx).toBe(3000);
    expect(small.cy).toBe(2000);
  });

  it('free panning (the mask painter\'s arrow keys) brings any point of the photo, corners included, to the pane\'s centre', () => {
    const z = zoomTo(fitView(big, pane), 1, undefined, big, pane);
    expect(panBy(z, 1e6, 1e6, big, pane, 1, true)).toMatchObject({ cx: 0, cy: 0 });
    expect(panBy(z, -1e6, -1e6, big, pane, 1, true)).toMatchObject({ cx: 6000, cy: 4000 });
    // a photo smaller than the pane moves too (it stayed centred, so the crosshair could not leave its middle)
    const tiny = { width: 400, height: 300 };
    const fit = fitView(tiny, pane);
    expect(panBy(fit, 1e6, 0, tiny, pane, 1, true).cx).toBe(0);
    expect(panBy(fit, 1e6, 0, tiny, pane).cx).toBe(200);
  });

  it('a 1:1 view of a 24 MP photo shows a pane-sized region, which is what previews process', () => {
    const v = zoomTo(fitView(big, pane), 1, undefined, big, pane);
    const r = visibleRegion(v, pane, big);
    expect(r).toEqual({ x: 2400, y: 1600, width: 1200, height: 800 });
    expect(capRegion(r, 512, big)).toEqual({ x: 2744, y: 1744, width: 512, height: 512 });
    expect(needsFullRes(v, 2048 / 6000)).toBe(true);
    expect(needsFullRes(fitView(big, pane), 2048 / 6000)).toBe(false);
  });

  it('stage transform maps the view centre to the pane centre', () => {
    const v = { zoom: 2, cx: 100, cy: 50 };
    const t = stageTransform(v, pane);
    expect(t.tx + 100 * 2).toBe(600);
    expect(t.ty + 50 * 2).toBe(400);
    expect(t.css).toBe(`translate(${t.tx}px, ${t.ty}px) scale(2)`);
  });

  it('caps regions at the edge of the image', () => {
    expect(capRegion({ x: 5900, y: 3900, width: 100, height: 100 }, 64, big)).toEqual({ x: 5918, y: 3918, width: 64, height: 64 });
  });
});
