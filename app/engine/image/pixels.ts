// Pixel layout conversions between sharp's interleaved integer buffers (HWC, RGB[A]) and the
// engine's planar float32 images (CHW, R then G then B, values in [0,1]).

/**
 * Interleaved uint8/uint16 RGB or RGBA (HWC) -> planar float32 RGB (CHW, [0,1]) and alpha (HW, [0,1]).
 * `maxValue` is 255 for 8-bit and 65535 for 16-bit samples.
 */
export function interleavedToPlanar(
  src: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: 3 | 4,
  maxValue: number,
): { data: Float32Array; alpha?: Float32Array } {
  const n = width * height;
  const data = new Float32Array(3 * n);
  const alpha = channels === 4 ? new Float32Array(n) : undefined;
  const inv = 1 / maxValue;
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    data[i] = src[j] * inv;
    data[n + i] = src[j + 1] * inv;
    data[2 * n + i] = src[j + 2] * inv;
    if (alpha) alpha[i] = src[j + 3] * inv;
  }
  return { data, alpha };
}

/**
 * Planar float32 RGB (CHW, [0,1], clipped here) plus optional alpha (HW) -> interleaved integers
 * (HWC, RGB[A]) rounded to the nearest level: uint8 for bitDepth 8, uint16 for 16.
 */
export function planarToInterleaved(
  data: Float32Array,
  alpha: Float32Array | undefined,
  width: number,
  height: number,
  bitDepth: 8 | 16,
): Uint8Array | Uint16Array {
  const n = width * height;
  const ch = alpha ? 4 : 3;
  const maxV = bitDepth === 16 ? 65535 : 255;
  const out = bitDepth === 16 ? new Uint16Array(n * ch) : new Uint8Array(n * ch);
  const q = (v: number) => (v > 0 ? (v < 1 ? Math.round(v * maxV) : maxV) : 0); // NaN -> 0
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    out[j] = q(data[i]);
    out[j + 1] = q(data[n + i]);
    out[j + 2] = q(data[2 * n + i]);
    if (alpha) out[j + 3] = q(alpha[i]);
  }
  return out;
}

/** Copy a rectangle out of planar data (C planes of width x height). */
export function cropPlanes(src: Float32Array, channels: number, width: number, height: number, x: number, y: number, w: number, h: number): Float32Array {
  if (x < 0 || y < 0 || x + w > width || y + h > height) throw new RangeError(`crop ${x},${y} ${w}x${h} outside ${width}x${height}`);
  const out = new Float32Array(channels * w * h);
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < h; r++) {
      const s = c * width * height + (y + r) * width + x;
      out.set(src.subarray(s, s + w), c * w * h + r * w);
    }
  }
  return out;
}

/**
 * Bilinear resize of one plane (HW), pixel centres aligned (align_corners = false, like
 * PyTorch's bilinear and sharp's default), edges clamped. Used for alpha when upscaling.
 */
export function resizePlaneBilinear(src: Float32Array, width: number, height: number, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const sx = width / outW;
  const sy = height / outH;
  const x0s = new Int32Array(outW);
  const x1s = new Int32Array(outW);
  const fxs = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), width - 1);
    const x0 = Math.floor(fx);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, width - 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    const r0 = y0 * width;
    const r1 = y1 * width;
    const o = y * outW;
    for (let x = 0; x < outW; x++) {
      const a = src[r0 + x0s[x]] + (src[r0 + x1s[x]] - src[r0 + x0s[x]]) * fxs[x];
      const b = src[r1 + x0s[x]] + (src[r1 + x1s[x]] - src[r1 + x0s[x]]) * fxs[x];
      out[o + x] = a + (b - a) * wy;
    }
  }
  return out;
}
