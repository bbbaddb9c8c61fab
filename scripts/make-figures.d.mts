// Types for the helpers scripts/make-figures.mjs exports (used by its unit test).
export interface Crop { file?: string; name?: string; mask?: string; x: number; y: number; w: number; h: number; scale?: number; sigma?: number }
export const CROPS: Record<'denoise' | 'denoiseReal' | 'upscale-x2' | 'upscale-x4' | 'inpaint', Crop>;
export const GAP: number;
export const LABEL_H: number;
export interface Cell { row: number; col: number; left: number; labelTop: number; top: number }
export function layout(o: { cols: number; rows?: number; panelW: number; panelH: number; gap?: number; labelH?: number }): { width: number; height: number; cells: Cell[] };
export function cropPlanar(src: Uint8Array, W: number, H: number, x: number, y: number, w: number, h: number): Uint8Array;
export function nearestUp(src: Uint8Array, w: number, h: number, s: number): Uint8Array;
export function quantize(f: Float32Array): Uint8Array;
