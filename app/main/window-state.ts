// Window size and position across launches. Read here (main may read), written by the host's one
// writer (HOST_SAVE_WINDOW_STATE). A saved position that is no longer on any display (monitor
// unplugged, resolution changed) is dropped so the window never opens off screen.
import fs from 'node:fs';
import { z } from 'zod';
import type { WindowBounds } from './security.ts';

export const WindowState = z.object({
  width: z.number().int().min(200).max(20000),
  height: z.number().int().min(200).max(20000),
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  maximized: z.boolean().default(false),
});
export type WindowState = z.infer<typeof WindowState>;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_STATE: WindowState = { width: 1280, height: 820, maximized: false };

/** Parse saved JSON (anything) and fit it to the displays' work areas. */
export function restoreState(saved: unknown, workAreas: Rect[]): WindowState {
  const r = WindowState.safeParse(saved);
  if (!r.success) return { ...DEFAULT_STATE };
  const s = r.data;
  const biggest = workAreas.reduce<Rect | null>((a, b) => (!a || b.width * b.height > a.width * a.height ? b : a), null);
  const width = biggest ? Math.min(s.width, biggest.width) : s.width;
  const height = biggest ? Math.min(s.height, biggest.height) : s.height;
  if (s.x === undefined || s.y === undefined) return { width, height, maximized: s.maximized };
  // visible if at least a 100x50 strip of the title bar area lies on one display
  const visible = workAreas.some((a) => {
    const ix = Math.min(s.x! + width, a.x + a.width) - Math.max(s.x!, a.x);
    const iy = Math.min(s.y! + 50, a.y + a.height) - Math.max(s.y!, a.y);
    return ix >= 100 && iy >= 50;
  });
  return visible ? { width, height, x: s.x, y: s.y, maximized: s.maximized } : { width, height, maximized: s.maximized };
}

export function readStateFile(file: string, workAreas: Rect[]): WindowState {
  try {
    return restoreState(JSON.parse(fs.readFileSync(file, 'utf8')), workAreas);
  } catch {
    return restoreState(null, workAreas);
  }
}

export const boundsOf = (s: WindowState): WindowBounds => ({ width: s.width, height: s.height, ...(s.x !== undefined && s.y !== undefined ? { x: s.x, y: s.y } : {}) });

export interface StatefulWindow {
  getNormalBounds(): Rect;
  isMaximized(): boolean;
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown;
}

/**
 * Save the window's state (debounced while it is dragged or resized, at once on close).
 * `save` hands it to the host's writer.
 */
export function trackWindowState(win: StatefulWindow, save: (s: WindowState) => void, debounceMs = 500): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const snapshot = (): WindowState => {
    const b = win.getNormalBounds();
    return { width: Math.round(b.width), height: Math.round(b.height), x: Math.round(b.x), y: Math.round(b.y), maximized: win.isMaximized() };
  };
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    save(snapshot());
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };
  for (const ev of ['resize', 'move', 'maximize', 'unmaximize'] as const) win.on(ev, later);
  win.on('close', flush);
  return flush;
}
