import { describe, expect, it } from 'vitest';
import { coverage, coverageFraction, createMask, fillPolygon, greyPixels, isEmpty, maskSize, MaskEditor, overlayPixels, segment, stamp } from './mask.ts';

const hard = { radius: 10, feather: 0, mode: 'paint' as const };

/** byte-equal (toEqual on big typed arrays is slow) */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sum(d: Uint8Array): number {
  let s = 0;
  for (const v of d) s += v;
  return s;
}

describe('mask painting', () => {
  it('sizes the mask at the photo size, or at 4096 on the long side for bigger photos', () => {
    expect(maskSize(640, 480)).toEqual({ width: 640, height: 480, scale: 1 });
    const m = maskSize(8192, 5464);
    expect(m.width).toBe(4096);
    expect(m.height).toBe(2732);
    expect(m.scale).toBe(0.5);
  });

  it('a hard stamp fills a disc of the brush radius, a feathered one has a soft edge', () => {
    const m = createMask(64, 64);
    stamp(m, 32, 32, hard);
    const area = [...m.data].filter((v) => v === 255).length;
    expect(area).toBeGreaterThan(Math.PI * 100 * 0.9);
    expect(area).toBeLessThan(Math.PI * 100 * 1.1);
    expect(m.data[32 * 64 + 32]).toBe(255);
    expect(m.data[0]).toBe(0);
    const soft = createMask(64, 64);
    stamp(soft, 32, 32, { radius: 10, feather: 1, mode: 'paint' });
    const partial = [...soft.data].filter((v) => v > 0 && v < 255).length;
    expect(partial).toBeGreaterThan(100);
    expect(coverage(5, 10, 1)).toBeCloseTo(0.5);
    expect(coverage(2, 10, 0.5)).toBe(1);
  });

  it('strokes leave no gaps and going over the same place does not build up', () => {
    const m = createMask(200, 40);
    segment(m, { x: 10, y: 20 }, { x: 190, y: 20 }, { radius: 4, feather: 0.5, mode: 'paint' });
    for (let x = 10; x < 190; x++) expect(m.data[20 * 200 + x], `x=${x}`).toBe(255);
    const once = sum(m.data);
    segment(m, { x: 10, y: 20 }, { x: 190, y: 20 }, { radius: 4, feather: 0.5, mode: 'paint' });
    expect(sum(m.data)).toBe(once);
  });

  it('the eraser removes paint', () => {
    const m = createMask(64, 64);
    stamp(m, 32, 32, hard);
    stamp(m, 32, 32, { ...hard, mode: 'erase' });
    expect(isEmpty(m)).toBe(true);
  });

  it('overlay and grey export follow the mask', () => {
    const m = createMask(4, 2);
    m.data[5] = 200;
    const o = overlayPixels(m, { x: 1, y: 1, width: 1, height: 1 }, [1, 2, 3], 0.5);
    expect([...o]).toEqual([1, 2, 3, 100]);
    const g = greyPixels(m);
    expect([...g.slice(20, 24)]).toEqual([200, 200, 200, 255]);
    expect([...g.slice(0, 4)]).toEqual([0, 0, 0, 255]);
  });
});

describe('mask undo/redo', () => {
  it('undoes and redoes strokes, clear and invert exactly', () => {
    const ed = new MaskEditor(createMask(300, 200));
    const snap = () => Uint8Array.from(ed.mask.data);
    const s0 = snap();
    ed.begin();
    ed.strokeTo(20, 20, hard);
    ed.strokeTo(150, 120, hard);
    expect(ed.end()).toBe(true);
    const s1 = snap();
    ed.invert();
    const s2 = snap();
    ed.clear();
    expect(isEmpty(ed.mask)).toBe(true);
    expect(ed.undoDepth).toBe(3);

    ed.undo();
    expect(same(snap(), s2)).toBe(true);
    ed.undo();
    expect(same(snap(), s1)).toBe(true);
    ed.undo();
    expect(same(snap(), s0)).toBe(true);
    expect(ed.canUndo).toBe(false);
    expect(ed.undo()).toBeNull();

    ed.redo();
    expect(same(snap(), s1)).toBe(true);
    ed.redo();
    expect(same(snap(), s2)).toBe(true);
    // a new edit drops the redo history (erase where the inverted mask is white)
    ed.strokeTo(5, 5, { ...hard, mode: 'erase' });
    expect(ed.canRedo).toBe(false);
  });

  it('an edit that changes nothing is not recorded; a stroke keeps only the tiles it touched', () => {
    const ed = new MaskEditor(createMask(1024, 1024));
    ed.begin();
    expect(ed.end()).toBe(false);
    ed.strokeTo(10, 10, hard);
    expect(ed.historyBytes).toBeLessThanOrEqual(2 * 64 * 64);
    expect(coverageFraction(ed.mask)).toBeGreaterThan(0);
  });

  it('drops the oldest edits beyond the memory budget but keeps the last', () => {
    const ed = new MaskEditor(createMask(256, 256), 3 * 256 * 256 * 2);
    for (let i = 0; i < 10; i++) ed.invert();
    expect(ed.undoDepth).toBe(3);
    expect(ed.historyBytes).toBeLessThanOrEqual(3 * 256 * 256 * 2);
  });
});

describe('lasso', () => {
  const count = (d: Uint8Array) => d.reduce((n, v) => n + (v === 255 ? 1 : 0), 0);

  it('fills exactly the pixels whose centres lie inside the outline, concave shapes included', () => {
    const m = createMask(40, 30);
    // a 10 x 8 rectangle from (5, 4): 80 pixels, nothing outside it
    expect(fillPolygon(m, [{ x: 5, y: 4 }, { x: 15, y: 4 }, { x: 15, y: 12 }, { x: 5, y: 12 }], 'paint')).toEqual({ x: 5, y: 4, width: 11, height: 9 });
    expect(count(m.data)).toBe(80);
    expect(m.data[4 * 40 + 5]).toBe(255);
    expect(m.data[11 * 40 + 14]).toBe(255);
    expect(m.data[12 * 40 + 14]).toBe(0);
    expect(m.data[4 * 40 + 15]).toBe(0);
    // an L: the notch stays empty
    const l = createMask(40, 30);
    fillPolygon(l, [{ x: 0, y: 0 }, { x: 20, y: 0 }, { x: 20, y: 10 }, { x: 10, y: 10 }, { x: 10, y: 20 }, { x: 0, y: 20 }], 'paint');
    expect(count(l.data)).toBe(20 * 10 + 10 * 10);
    expect(l.data[15 * 40 + 15]).toBe(0);
    // an outline partly outside the mask is clipped to it
    const c = createMask(10, 10);
    fillPolygon(c, [{ x: -5, y: -5 }, { x: 5, y: -5 }, { x: 5, y: 5 }, { x: -5, y: 5 }], 'paint');
    expect(count(c.data)).toBe(25);
    // a loop drawn past its start (to be sure it closes) fills all of it, the overlap included
    const o = createMask(40, 30);
    fillPolygon(o, [{ x: 5, y: 4 }, { x: 15, y: 4 }, { x: 15, y: 12 }, { x: 5, y: 12 }, { x: 5, y: 4 }, { x: 15, y: 4 }, { x: 15, y: 8 }], 'paint');
    expect(count(o.data)).toBe(80);
    // a figure eight fills both loops
    const e8 = createMask(40, 30);
    fillPolygon(e8, [{ x: 0, y: 0 }, { x: 10, y: 10 }, { x: 20, y: 0 }, { x: 20, y: 20 }, { x: 10, y: 10 }, { x: 0, y: 20 }], 'paint');
    expect(e8.data[10 * 40 + 2]).toBe(255);
    expect(e8.data[10 * 40 + 18]).toBe(255);
    // fewer than 3 points outline nothing
    expect(fillPolygon(c, [{ x: 1, y: 1 }, { x: 8, y: 8 }], 'paint')).toBeNull();
  });

  it('erasing clears what it encloses; one outline is one undoable edit', () => {
    const m = createMask(32, 32);
    const ed = new MaskEditor(m);
    ed.fillPolygon([{ x: 0, y: 0 }, { x: 32, y: 0 }, { x: 32, y: 32 }, { x: 0, y: 32 }], 'paint');
    expect(count(m.data)).toBe(32 * 32);
    ed.fillPolygon([{ x: 8, y: 8 }, { x: 24, y: 8 }, { x: 24, y: 24 }, { x: 8, y: 24 }], 'erase');
    expect(count(m.data)).toBe(32 * 32 - 16 * 16);
    expect(ed.undoDepth).toBe(2);
    ed.undo();
    expect(count(m.data)).toBe(32 * 32);
    ed.undo();
    expect(count(m.data)).toBe(0);
    ed.redo();
    expect(count(m.data)).toBe(32 * 32);
  });
});
