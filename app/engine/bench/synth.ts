// A seeded, photo-like test image for benchmarks: smooth colour gradients (sky, skin), hard-edged
// shapes (buildings, objects), fine multi-octave texture (foliage, fabric) and a little sensor
// noise. Inference time does not depend on pixel values, but tiling, the noise estimate and the
// encoder do, so a flat or random image would measure the wrong thing.
import { Rng } from '../eval/rng.ts';

/** Planar float32 RGB (CHW) in [0,1], width x height, deterministic for a seed. */
export function synthPhoto(width: number, height: number, seed = 1): Float32Array {
  const rng = new Rng(seed);
  const n = width * height;
  const out = new Float32Array(3 * n);
  // low-frequency colour field: a few sinusoids per channel
  const waves = Array.from({ length: 3 }, () =>
    Array.from({ length: 3 }, () => ({ fx: (rng.uniform() * 3) / width, fy: (rng.uniform() * 3) / height, ph: rng.uniform() * 6.283, a: 0.12 + rng.uniform() * 0.1 })),
  );
  const base = [0.35 + rng.uniform() * 0.3, 0.35 + rng.uniform() * 0.3, 0.35 + rng.uniform() * 0.3];
  // value-noise lattices at three octaves (coarse to fine) for texture
  const octaves = [32, 8, 2].map((cell) => {
    const gw = Math.ceil(width / cell) + 2;
    const gh = Math.ceil(height / cell) + 2;
    const g = new Float32Array(gw * gh);
    for (let i = 0; i < g.length; i++) g[i] = rng.uniform() - 0.5;
    return { cell, gw, g };
  });
  // hard-edged shapes
  const shapes = Array.from({ length: 12 }, () => ({
    circle: rng.uniform() < 0.5,
    cx: rng.uniform() * width,
    cy: rng.uniform() * height,
    r: (0.03 + rng.uniform() * 0.12) * Math.min(width, height),
    col: [rng.uniform(), rng.uniform(), rng.uniform()],
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let tex = 0;
      let amp = 0.1;
      for (const o of octaves) {
        const gx = x / o.cell;
        const gy = y / o.cell;
        const x0 = Math.floor(gx);
        const y0 = Math.floor(gy);
        const tx = gx - x0;
        const ty = gy - y0;
        const v00 = o.g[y0 * o.gw + x0];
        const v10 = o.g[y0 * o.gw + x0 + 1];
        const v01 = o.g[(y0 + 1) * o.gw + x0];
        const v11 = o.g[(y0 + 1) * o.gw + x0 + 1];
        tex += amp * ((v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty);
        amp *= 0.6;
      }
      let shape: number[] | undefined;
      for (const s of shapes) {
        const dx = x - s.cx;
        const dy = y - s.cy;
        if (s.circle ? dx * dx + dy * dy < s.r * s.r : Math.abs(dx) < s.r && Math.abs(dy) < s.r * 0.6) shape = s.col;
      }
      for (let c = 0; c < 3; c++) {
        let v = shape ? shape[c] * 0.8 + 0.1 : base[c];
        for (const w of waves[c]) v += w.a * Math.sin(6.283 * (w.fx * x + w.fy * y) + w.ph);
        v += tex + (rng.uniform() - 0.5) * 0.03;
        out[c * n + i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return out;
}

/** A seeded inpainting mask (HW, 1 = fill): a few thick strokes and blobs, about 10 % of the area. */
export function synthMask(width: number, height: number, seed = 2): Uint8Array {
  const rng = new Rng(seed);
  const m = new Uint8Array(width * height);
  const target = 0.1 * width * height;
  let filled = 0;
  while (filled < target) {
    let x = rng.uniform() * width;
    let y = rng.uniform() * height;
    const r = Math.max(2, (0.01 + rng.uniform() * 0.03) * Math.min(width, height));
    let angle = rng.uniform() * 6.283;
    const steps = 10 + Math.floor(rng.uniform() * 30);
    for (let s = 0; s < steps && filled < target; s++) {
      for (let yy = Math.max(0, Math.floor(y - r)); yy < Math.min(height, Math.ceil(y + r)); yy++) {
        for (let xx = Math.max(0, Math.floor(x - r)); xx < Math.min(width, Math.ceil(x + r)); xx++) {
          const k = yy * width + xx;
          if (!m[k] && (xx - x) ** 2 + (yy - y) ** 2 <= r * r) {
            m[k] = 1;
            filled++;
          }
        }
      }
      angle += (rng.uniform() - 0.5) * 1.2;
      x = Math.min(width - 1, Math.max(0, x + Math.cos(angle) * r));
      y = Math.min(height - 1, Math.max(0, y + Math.sin(angle) * r));
    }
  }
  return m;
}
