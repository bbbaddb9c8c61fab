// The painted mask as the PNG the engine reads (true image size, grey, white = fill), and back.
import { greyPixels, type MaskBitmap } from './mask.ts';

function canvas(width: number, height: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

export async function encodeMaskPng(mask: MaskBitmap, trueWidth: number, trueHeight: number): Promise<Uint8Array<ArrayBuffer>> {
  const src = canvas(mask.width, mask.height);
  const sctx = src.getContext('2d');
  if (!sctx) throw new Error('no 2D canvas');
  sctx.putImageData(new ImageData(greyPixels(mask) as Uint8ClampedArray<ArrayBuffer>, mask.width, mask.height), 0, 0);
  let out = src;
  if (mask.width !== trueWidth || mask.height !== trueHeight) {
    // painted at a reduced size (very large photo): scale up smoothly, the feather stays soft
    out = canvas(trueWidth, trueHeight);
    const octx = out.getContext('2d');
    if (!octx) throw new Error('no 2D canvas');
    octx.imageSmoothingEnabled = true;
    octx.imageSmoothingQuality = 'high';
    octx.drawImage(src, 0, 0, trueWidth, trueHeight);
  }
  const blob = await new Promise<Blob | null>((resolve) => out.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the mask could not be encoded');
  return new Uint8Array(await blob.arrayBuffer());
}

/**
 * Read a saved mask (any size; grey or colour, white = fill) into a `width` x `height` mask: what the
 * painter shows after a reload, or once its copy in memory was dropped. Scaled smoothly, so a
 * feathered edge stays soft.
 */
export async function decodeMaskPng(url: string, width: number, height: number): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`the saved mask could not be read (HTTP ${res.status})`);
  const bitmap = await createImageBitmap(await res.blob());
  try {
    const c = canvas(width, height);
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2D canvas');
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const out = new Uint8Array(width * height);
    for (let i = 0; i < out.length; i++) out[i] = rgba[i * 4];
    return out;
  } finally {
    bitmap.close();
  }
}
