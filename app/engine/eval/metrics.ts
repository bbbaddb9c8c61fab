// Image quality metrics, stated the way the published tables compute them.
// All inputs are planes (row-major height x width) on the 0-255 scale; images are planar CHW.

/** PSNR in dB of two equally long sample arrays on the 0-255 scale; Infinity when identical. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, mask?: ArrayLike<number>): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask[i]) continue;
    const d = a[i] - b[i];
    se += d * d;
    n++;
  }
  if (n === 0) return NaN;
  const mse = se / n;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * PSNR over RGB planes where the mask (height x width, truthy = counted) is set, all three channels
 * of each counted pixel pooled into one mean squared error.
 */
export function psnrMasked(a: ArrayLike<number>, b: ArrayLike<number>, mask: ArrayLike<number>, channels = 3): number {
  const n = mask.length;
  let se = 0;
  let count = 0;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      if (!mask[i]) continue;
      const d = a[c * n + i] - b[c * n + i];
      se += d * d;
      count++;
    }
  }
  if (count === 0) return NaN;
  const mse = se / count;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** BT.601 luma of 0-255 RGB planes: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (float, not rounded). */
export function rgbToY(planes: ArrayLike<number>, width: number, height: number): Float64Array {
  const n = width * height;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 16 + (65.481 * planes[i] + 128.553 * planes[n + i] + 24.966 * planes[2 * n + i]) / 255;
  return y;
}

/** Cut `border` pixels from each side of one plane. */
export function shave(plane: ArrayLike<number>, width: number, height: number, border: number): { data: Float64Array; width: number; height: number } {
  const w = width - 2 * border;
  const h = height - 2 * border;
  if (w <= 0 || h <= 0) throw new Error(`cannot shave ${border} px from a ${width}x${height} image`);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = plane[(y + border) * width + x + border];
  return { data: out, width: w, height: h };
}

function gaussianWindow(size = 11, sigma = 1.5): Float64Array {
  const g = new Float64Array(size);
  const r = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    g[i] = Math.exp(-((i - r) * (i - r)) / (2 * sigma * sigma));
    s += g[i];
  }
  for (let i = 0; i < size; i++) g[i] /= s;
  return g;
}

/** Separable 'valid' filtering of one plane with a 1-D kernel applied along both axes. */
function filterValid(src: Float64Array, width: number, height: number, k: Float64Array): { data: Float64Array; width: number; height: number } {
  const ks = k.length;
  const w1 = width - ks + 1;
  const h1 = height - ks + 1;
  const tmp = new Float64Array(height * w1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w1; x++) {
      let acc = 0;
      for (let j = 0; j < ks; j++) acc += k[j] * src[y * width + x + j];
      tmp[y * w1 + x] = acc;
    }
  }
  const out = new Float64Array(h1 * w1);
  for (let y = 0; y < h1; y++) {
    for (let x = 0; x < w1; x++) {
      let acc = 0;
      for (let j = 0; j < ks; j++) acc += k[j] * tmp[(y + j) * w1 + x];
      out[y * w1 + x] = acc;
    }
  }
  return { data: out, width: w1, height: h1 };
}

/**
 * SSIM of one plane pair (Wang et al. 2004): Gaussian window 11x11 with sigma 1.5, K1 = 0.01,
 * K2 = 0.03, L = 255, statistics over 'valid' windows only, mean of the SSIM map.
 */
export function ssimPlane(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number): number {
  const n = width * height;
  if (width < 11 || height < 11) throw new Error(`SSIM needs at least 11x11 pixels, got ${width}x${height}`);
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  const AA = new Float64Array(n);
  const BB = new Float64Array(n);
  const AB = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    AA[i] = A[i] * A[i];
    BB[i] = B[i] * B[i];
    AB[i] = A[i] * B[i];
  }
  const g = gaussianWindow();
  const mu1 = filterValid(A, width, height, g).data;
  const mu2 = filterValid(B, width, height, g).data;
  const s11 = filterValid(AA, width, height, g).data;
  const s22 = filterValid(BB, width, height, g).data;
  const s12 = filterValid(AB, width, height, g).data;
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i];
    const m2 = mu2[i];
    const v1 = s11[i] - m1 * m1;
    const v2 = s22[i] - m2 * m2;
    const cov = s12[i] - m1 * m2;
    sum += ((2 * m1 * m2 + C1) * (2 * cov + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
  }
  return sum / mu1.length;
}

/** Typed arrays the metrics take (planes or planar CHW images on the 0-255 scale). */
export type Samples = Float64Array | Float32Array | Uint8Array;

/** SSIM of two planar CHW images: per-channel SSIM averaged over the channels. */
export function ssimPlanar(a: Samples, b: Samples, width: number, height: number, channels = 3): number {
  const n = width * height;
  let s = 0;
  for (let c = 0; c < channels; c++) s += ssimPlane(a.subarray(c * n, (c + 1) * n), b.subarray(c * n, (c + 1) * n), width, height);
  return s / channels;
}
