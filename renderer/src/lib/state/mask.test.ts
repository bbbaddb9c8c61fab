// MaskState (the painter's state) without a window: the Lasso as the painter drives it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MaskState } from './mask.svelte.ts';
import type { RecipeState } from './recipe.svelte.ts';
import type { SessionState } from './session.svelte.ts';

function painter(): MaskState {
  vi.useFakeTimers(); // the draft a moment after each change is not this test's business
  const session = { api: { call: async () => ({ path: '/d/m.png', url: '/u', sha256: 'x' }) }, notify: () => {}, error: () => {} };
  const m = new MaskState(session as unknown as SessionState, { mask: null } as unknown as RecipeState);
  m.open('/p/a.png', 100, 80);
  return m;
}
const outline = (m: MaskState, pts: [number, number][]) => {
  m.beginStroke();
  for (const [x, y] of pts) m.strokeTo(x, y);
  m.endStroke();
};
const square: [number, number][] = [[10, 10], [30, 10], [30, 30], [10, 30]];

afterEach(() => {
  vi.useRealTimers();
});

describe('MaskState lasso', () => {
  it('an outline fills what it encloses, with the eraser clears it; each is one undo step', () => {
    const m = painter();
    m.lasso = true;
    outline(m, square);
    expect(m.coverage()).toBeCloseTo(400 / 8000, 6);
    expect(m.outline).toEqual([]); // nothing left drawn once it is filled
    m.tool = 'erase';
    outline(m, [[10, 10], [20, 10], [20, 30], [10, 30]]);
    expect(m.coverage()).toBeCloseTo(200 / 8000, 6);
    m.undo();
    expect(m.coverage()).toBeCloseTo(400 / 8000, 6);
    m.undo();
    expect(m.coverage()).toBe(0);
  });

  it('switching the Lasso on or off mid-drag changes the next stroke, not this one', () => {
    const m = painter();
    m.lasso = true;
    m.beginStroke();
    for (const [x, y] of square.slice(0, 2)) m.strokeTo(x, y);
    m.lasso = false; // L pressed while dragging
    for (const [x, y] of square.slice(2)) m.strokeTo(x, y);
    m.endStroke();
    expect(m.outline).toEqual([]); // no outline left on screen
    expect(m.coverage()).toBeCloseTo(400 / 8000, 6); // the whole drag was one lasso
    m.undo();
    expect(m.coverage()).toBe(0); // in one undo step
    expect(m.canUndo).toBe(false);
    // and the next stroke is a brush stroke
    m.beginStroke();
    m.strokeTo(50, 40);
    m.endStroke();
    expect(m.coverage()).toBeGreaterThan(0);
  });
});
