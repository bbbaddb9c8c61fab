import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../api.ts';
import { gaussian, rng } from '../../../test/fixtures/images/make.ts';
import { decode } from '../image/decode.ts';
import { estimateSigmaPca, pcaSigma, sigma2FromEigenvalues, symmetricEigenvalues } from './noise.ts';

const IMAGES = path.resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'images');

/** Smooth shading plus a textured quadrant plus AWGN of `sigma` (0-255 scale), not clipped. */
function synthetic(w: number, h: number, sigma: number, seed: number): RgbImage {
  const n = w * h;
  const data = new Float32Array(3 * n);
  const g = gaussian(seed);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const u = x / w;
    const v = y / h;
    const tex = u < 0.5 && v < 0.5 ? 0.1 * Math.sin(40 * u) * Math.sin(37 * v) : 0;
    const base = [0.5 + 0.3 * Math.sin(6 * u + 2 * v), 0.4 + 0.3 * Math.cos(5 * v), 0.3 + 0.2 * u * v];
    for (let c = 0; c < 3; c++) data[c * n + y * w + x] = base[c] + tex + (g() * sigma) / 255;
  }
  return { width: w, height: h, data };
}

describe('symmetric eigenvalues', () => {
  it('match a known spectrum (random orthogonal similarity of a diagonal matrix)', () => {
    const n = 24;
    const r = rng(3);
    const want = Array.from({ length: n }, (_, i) => (i - 5) * 0.37 + r() * 0.01).sort((a, b) => a - b);
    // Q = product of Householder reflections; A = Q diag Q^T
    let a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = want[i];
    for (let t = 0; t < 3; t++) {
      const v = Array.from({ length: n }, () => r() - 0.5);
      const norm = Math.hypot(...v);
      const q = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / norm ** 2;
      const qa = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += q[i * n + k] * a[k * n + j]; qa[i * n + j] = s; }
      const out = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += qa[i * n + k] * q[j * n + k]; out[i * n + j] = s; }
      a = out;
    }
    const got = symmetricEigenvalues(a, n);
    for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo(want[i], 10);
  });

  it('the eigenvalue loop picks the mean of the balanced lower set', () => {
    expect(sigma2FromEigenvalues(Float64Array.from([1, 1, 1, 1]))).toBe(1);
    // 1,2,3 balanced around 2 after dropping the outlier 100
    expect(sigma2FromEigenvalues(Float64Array.from([1, 2, 3, 100]))).toBe(2);
    expect(sigma2FromEigenvalues(Float64Array.from([-1e-9, -1e-9]))).toBe(0);
  });
});

describe('pcaSigma is an exact port of scripts/training/data.py:pca_sigma', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(IMAGES, 'pca-expected.json'), 'utf8')).sigma255 as Record<string, number>;
  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: ${want.toFixed(4)} (Python)`, async () => {
      const img = await decode(path.join(IMAGES, name));
      expect(Math.abs(pcaSigma(img) - want)).toBeLessThan(1e-4);
      expect(Math.abs(estimateSigmaPca(img) - want)).toBeLessThan(1e-4); // small images: whole-image path
    });
  }
});

describe('estimateSigmaPca on known AWGN levels', () => {
  it('reads sigma 5, 15, 25, 50 within 1.0 on a smooth + textured 512x512 image', () => {
    for (const s of [0, 5, 15, 25, 50]) {
      const est = estimateSigmaPca(synthetic(512, 512, s, 100 + s));
      expect(Math.abs(est - s), `sigma ${s}: estimated ${est.toFixed(2)}`).toBeLessThan(1.0);
    }
  });

  it('costs the same on 12 MP as on a 0.1 MP image (sampled crops), well under a second', () => {
    const w = 4000;
    const h = 3000;
    const img: RgbImage = { width: w, height: h, data: new Float32Array(3 * w * h) };
    const g = gaussian(9);
    for (let i = 0; i < img.data.length; i += 1 + Math.floor(i % 7)) img.data[i] = 0.5 + g() * 0.05;
    const small = synthetic(330, 330, 10, 4); // 11,664 patches: the whole-image path, about the same work
    const time = (f: () => void) => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    estimateSigmaPca(small); // warm up the JIT
    const tSmall = Math.min(time(() => estimateSigmaPca(small)), time(() => estimateSigmaPca(small)));
    const tBig = Math.min(time(() => estimateSigmaPca(img)), time(() => estimateSigmaPca(img)));
    // size-independent: the 12 MP estimate does not grow with the image (load on this box varies,
    // so the absolute target of 0.3 s is checked loosely)
    expect(tBig).toBeLessThan(2 * tSmall + 50);
    expect(tBig).toBeLessThan(3000);
  });
});
