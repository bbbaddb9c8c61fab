// Svelte action: wheel zoom about the cursor, drag to pan, keyboard zoom/pan, on one pane.
// Several panes given the same get/set share one view, which keeps them in sync.
import { fitView, panBy, zoomAt, zoomTo, type Size, type View } from './viewport.ts';

export interface PanZoomOptions {
  get: () => View;
  set: (v: View) => void;
  image: () => Size | null;
  pane: () => Size;
  dpr: () => number;
  /** Whether a pointerdown starts a pan (default: primary button). Return false to let the pane paint. */
  panWith?: (e: PointerEvent) => boolean;
  onChange?: () => void;
  /** The arrow keys and drags may bring any point of the photo, edges included, to the pane's centre (the mask painter's crosshair). */
  freeKeys?: boolean;
}

/** Inputs that take no text: shortcuts with letters, Ctrl+Z and Ctrl+Enter are the window's while one has focus. */
const NO_TEXT = new Set(['range', 'checkbox', 'radio', 'button', 'submit', 'reset', 'color', 'file', 'image']);

/**
 * The key goes into text (a text or number field, a list, an editable area): it is not a shortcut.
 * A slider or a checkbox with focus does not take letters or Ctrl+Z, so those stay shortcuts there
 * (`isTyping` still keeps the arrows and Space for them).
 */
export function isTextField(e: Event): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  if (t.tagName === 'INPUT') return !NO_TEXT.has((t as HTMLInputElement).type);
  return t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable;
}

export function isTyping(e: Event): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  const tag = t.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable;
}

export function panZoom(node: HTMLElement, initial: PanZoomOptions) {
  let o = initial;
  let drag: { id: number; x: number; y: number } | null = null;

  const change = (v: View) => {
    o.set(v);
    o.onChange?.();
  };

  function onWheel(e: WheelEvent) {
    const img = o.image();
    if (!img) return;
    e.preventDefault();
    const rect = node.getBoundingClientRect();
    // pinch gestures arrive as ctrl+wheel with small deltas: same formula, finer steps
    const dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    const factor = Math.exp(-dy * (e.ctrlKey ? 0.01 : 0.0015));
    change(zoomAt(o.get(), factor, { x: e.clientX - rect.left, y: e.clientY - rect.top }, img, o.pane(), o.dpr()));
  }

  function onDown(e: PointerEvent) {
    if (!o.image()) return;
    const wants = o.panWith ? o.panWith(e) : e.button === 0;
    if (!wants) return;
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
    node.setPointerCapture(e.pointerId);
    node.classList.add('panning');
    e.preventDefault();
  }

  function onMove(e: PointerEvent) {
    if (!drag || e.pointerId !== drag.id) return;
    const img = o.image();
    if (!img) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    change(panBy(o.get(), dx, dy, img, o.pane(), o.dpr(), o.freeKeys));
  }

  function onUp(e: PointerEvent) {
    if (!drag || e.pointerId !== drag.id) return;
    drag = null;
    node.classList.remove('panning');
    if (node.hasPointerCapture(e.pointerId)) node.releasePointerCapture(e.pointerId);
  }

  function onKey(e: KeyboardEvent) {
    if (isTyping(e) || e.altKey || e.metaKey || e.ctrlKey) return;
    const img = o.image();
    if (!img) return;
    const pane = o.pane();
    const dpr = o.dpr();
    const v = o.get();
    const step = (e.shiftKey ? 0.4 : 0.1) * Math.min(pane.width, pane.height);
    let next: View | null = null;
    switch (e.key) {
      case '+':
      case '=':
        next = zoomAt(v, 1.25, { x: pane.width / 2, y: pane.height / 2 }, img, pane, dpr);
        break;
      case '-':
      case '_':
        next = zoomAt(v, 1 / 1.25, { x: pane.width / 2, y: pane.height / 2 }, img, pane, dpr);
        break;
      case '0':
        next = fitView(img, pane, dpr);
        break;
      case '1':
        next = zoomTo(v, 1 / dpr, undefined, img, pane, dpr);
        break;
      case 'ArrowLeft':
        next = panBy(v, step, 0, img, pane, dpr, o.freeKeys);
        break;
      case 'ArrowRight':
        next = panBy(v, -step, 0, img, pane, dpr, o.freeKeys);
        break;
      case 'ArrowUp':
        next = panBy(v, 0, step, img, pane, dpr, o.freeKeys);
        break;
      case 'ArrowDown':
        next = panBy(v, 0, -step, img, pane, dpr, o.freeKeys);
        break;
    }
    if (next) {
      e.preventDefault();
      change(next);
    }
  }

  node.addEventListener('wheel', onWheel, { passive: false });
  node.addEventListener('pointerdown', onDown);
  node.addEventListener('pointermove', onMove);
  node.addEventListener('pointerup', onUp);
  node.addEventListener('pointercancel', onUp);
  node.addEventListener('keydown', onKey);
  return {
    update(next: PanZoomOptions) {
      o = next;
    },
    destroy() {
      node.removeEventListener('wheel', onWheel);
      node.removeEventListener('pointerdown', onDown);
      node.removeEventListener('pointermove', onMove);
      node.removeEventListener('pointerup', onUp);
      node.removeEventListener('pointercancel', onUp);
      node.removeEventListener('keydown', onKey);
    },
  };
}
