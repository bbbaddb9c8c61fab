// MATLAB `imresize(img, scale, 'bicubic')` (antialiasing on), the resampler of the published
// super-resolution tables. The details that decide the figures (DESIGN.md, evaluation protocol):
// - cubic kernel with a = -0.5;
// - when downscaling, the kernel is stretched by 1/scale (antialiasing) and its weights normalised;
// - output pixel x (1-based) samples the input at u = x/scale + 0.5 (1 - 1/scale);
// - borders are mirrored (symmetric: ... 2 1 | 1 2 ... n | n n-1 ...);
// - rows first (the height dimension), then columns, in float64, no rounding in between.
// Rounding to 8-bit is the caller's choice (the protocol rounds the low-res image).

/** The cubic convolution kernel with a = -0.5 (Keys), as in MATLAB's imresize. */
export function cubic(x: number): number {
  const ax = Math.abs(x);
  const ax2 = ax * ax;
  const ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

export interface Contributions {
  /** taps per output sample */
  taps: number;
  /** input indices (0-based, mirrored into range), outLength x taps */
  indices: Int32Array;
  /** normalised weights, outLength x taps */
  weights: Float64Array;
}

/** MATLAB's `contributions`: which input samples, with which weights, make each output sample. */
export function contributions(inLength: number, outLength: number, scale: number, antialiasing = true): Contributions {
  const shrink = scale < 1 && antialiasing;
  const kernelWidth = shrink ? 4 / scale : 4;
  const h = shrink ? (x: number) => scale * cubic(scale * x) : cubic;
  const taps = Math.ceil(kernelWidth) + 2;
  const indices = new Int32Array(outLength * taps);
  const weights = new Float64Array(outLength * taps);
  const period = 2 * inLength;
  for (let x = 1; x <= outLength; x++) {
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    const row = (x - 1) * taps;
    for (let j = 0; j < taps; j++) {
      const idx = left + j; // 1-based, may be outside 1..inLength
      const w = h(u - idx);
      weights[row + j] = w;
      sum += w;
      // symmetric mirror: aux = [1..n, n..1], index = aux(mod(idx - 1, 2n) + 1)
      const m = (((idx - 1) % period) + period) % period;
      indices[row + j] = m < inLength ? m : period - 1 - m;
    }
    for (let j = 0; j < taps; j++) weights[row + j] /= sum;
  }
  return { taps, indices, weights };
}

/**
 * Resize one plane (row-major height x width, any value range) the MATLAB way.
 * @param scale output size / input size (same for both dimensions); output size = ceil(size * scale)
 * @returns the resized plane in float64, not rounded or clipped
 */
export function imresizePlane(src: ArrayLike<number>, width: number, height: number, scale: number): { data: Float64Array; width: number; height: number } {
  const outH = Math.ceil(height * scale);
  const outW = Math.ceil(width * scale);
  // rows first: resize along the height dimension (each column)
  const ch = contributions(height, outH, scale);
  const tmp = new Float64Array(outH * width);
  for (let y = 0; y < outH; y++) {
    const row = y * ch.taps;
    for (let j = 0; j < ch.taps; j++) {
      const w = ch.weights[row + j];
      if (w === 0) continue;
      const srcRow = ch.indices[row + j] * width;
      const dstRow = y * width;
      for (let x = 0; x < width; x++) tmp[dstRow + x] += w * src[srcRow + x];
    }
  }
  // then columns: along the width dimension
  const cw = contributions(width, outW, scale);
  const out = new Float64Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const srcRow = y * width;
    const dstRow = y * outW;
    for (let x = 0; x < outW; x++) {
      const k = x * cw.taps;
      let acc = 0;
      for (let j = 0; j < cw.taps; j++) acc += cw.weights[k + j] * tmp[srcRow + cw.indices[k + j]];
      out[dstRow + x] = acc;
    }
  }
  return { data: out, width: outW, height: outH };
}

/** Round to the nearest integer and clip to 0..255 (MATLAB's uint8 conversion). */
export function toUint8(v: number): number {
  const r = Math.round(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/**
 * Resize an RGB image held as three planes on the 0-255 scale (planar CHW), rounding to 8-bit.
 * @returns planar CHW Uint8Array of the resized image
 */
export function imresizeRgb8(planes: Uint8Array, width: number, height: number, scale: number): { data: Uint8Array; width: number; height: number } {
  const n = width * height;
  let outW = 0;
  let outH = 0;
  let out: Uint8Array | undefined;
  for (let c = 0; c < 3; c++) {
    const r = imresizePlane(planes.subarray(c * n, (c + 1) * n), width, height, scale);
    if (!out) {
      outW = r.width;
      outH = r.height;
      out = new Uint8Array(3 * outW * outH);
    }
    const m = outW * outH;
    for (let i = 0; i < m; i++) out[c * m + i] = toUint8(r.data[i]);
  }
  return { data: out!, width: outW, height: outH };
}
