import { describe, expect, it } from 'vitest';
import { CROPS, GAP, LABEL_H, cropPlanar, layout, nearestUp } from './make-figures.mjs';

describe('make-figures layout', () => {
  it('puts four 256 px panels in one row with thin gaps and a label band', () => {
    const L = layout({ cols: 4, panelW: 256, panelH: 256 });
    expect(L.width).toBe(4 * 256 + 3 * GAP);
    expect(L.height).toBe(LABEL_H + 256);
    expect(L.cells.map((c) => c.left)).toEqual([0, 256 + GAP, 2 * (256 + GAP), 3 * (256 + GAP)]);
    expect(L.cells.every((c) => c.top === LABEL_H && c.labelTop === 0)).toBe(true);
    // the last panel ends exactly at the right edge
    expect(L.cells[3].left + 256).toBe(L.width);
  });

  it('stacks rows, each with its own label band', () => {
    const L = layout({ cols: 3, rows: 2, panelW: 256, panelH: 256 });
    expect(L.height).toBe(2 * (LABEL_H + 256) + GAP);
    const second = L.cells.filter((c) => c.row === 1);
    expect(second).toHaveLength(3);
    expect(second[0].labelTop).toBe(LABEL_H + 256 + GAP);
    expect(second[0].top + 256).toBe(L.height);
  });
});

describe('make-figures pixels', () => {
  // 4x3 planar RGB: value = 100*c + 10*y + x
  const W = 4;
  const H = 3;
  const img = Uint8Array.from({ length: 3 * W * H }, (_, i) => 100 * Math.floor(i / (W * H)) + 10 * Math.floor((i % (W * H)) / W) + (i % W));

  it('crops a window of every plane', () => {
    expect(Array.from(cropPlanar(img, W, H, 1, 1, 2, 2))).toEqual([11, 12, 21, 22, 111, 112, 121, 122, 211, 212, 221, 222]);
    expect(() => cropPlanar(img, W, H, 3, 0, 2, 1)).toThrow(/does not fit/);
  });

  it('enlarges by nearest neighbour, each pixel an s x s block', () => {
    const up = nearestUp(cropPlanar(img, W, H, 0, 0, 2, 1), 2, 1, 2);
    expect(Array.from(up.subarray(0, 8))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(up[8]).toBe(100);
  });

  it('keeps upscale crop boxes on the LR pixel grid', () => {
    for (const key of ['upscale-x2', 'upscale-x4'] as const) {
      const c = CROPS[key];
      for (const v of [c.x, c.y, c.w, c.h]) expect(v % c.scale!).toBe(0);
    }
  });
});
