// Noise level estimation (Chen, Zhu & Heng, ICCV 2015): PCA of 8x8x3 patches. An exact port of
// `pca_sigma` in scripts/training/data.py, so the estimate means the same in training and in use
// (`--sigma auto` uses it when the denoiser ships no CNN estimator, see estimator.ts):
// patches of 8x8 pixels x 3 channels (RGB) on a stride-3 grid, covariance in float64 (centred,
// divided by the patch count), eigenvalues ascending, then the largest set of the smallest
// eigenvalues whose mean has as many eigenvalues above it as below; sigma = sqrt(that mean).
import type { RgbImage } from '../api.ts';

export const PATCH = 8;
export const STRIDE = 3;
const DIM = 3 * PATCH * PATCH;

/** Patch matrix rows (one Float64Array of length L per patch dimension) from a set of crops. */
function patchRows(img: RgbImage, crops: { x: number; y: number; w: number; h: number }[]): { rows: Float64Array[]; count: number } {
  const { width, height, data } = img;
  const plane = width * height;
  let count = 0;
  for (const c of crops) count += (Math.floor((c.w - PATCH) / STRIDE) + 1) * (Math.floor((c.h - PATCH) / STRIDE) + 1);
  const rows = Array.from({ length: DIM }, () => new Float64Array(count));
  let k = 0;
  for (const c of crops) {
    for (let py = c.y; py + PATCH <= c.y + c.h; py += STRIDE) {
      for (let px = c.x; px + PATCH <= c.x + c.w; px += STRIDE) {
        let d = 0;
        // unfold order: channel, then kernel row, then kernel column (irrelevant to eigenvalues)
        for (let ch = 0; ch < 3; ch++) {
          const base = ch * plane;
          for (let ky = 0; ky < PATCH; ky++) {
            const row = base + (py + ky) * width + px;
            for (let kx = 0; kx < PATCH; kx++) rows[d++][k] = data[row + kx];
          }
        }
        k++;
      }
    }
  }
  void height;
  return { rows, count };
}

/** Symmetric eigenvalues (ascending) by Householder tridiagonalisation + implicit QL. a: n x n row-major, destroyed. */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  // tred2 (eigenvalues only)
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(a[i * n + k]);
      if (scale === 0) {
        e[i] = a[i * n + l];
      } else {
        for (let k = 0; k <= l; k++) {
          a[i * n + k] /= scale;
          h += a[i * n + k] * a[i * n + k];
        }
        let f = a[i * n + l];
        const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        a[i * n + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          let gg = 0;
          for (let k = 0; k <= j; k++) gg += a[j * n + k] * a[i * n + k];
          for (let k = j + 1; k <= l; k++) gg += a[k * n + j] * a[i * n + k];
          e[j] = gg / h;
          f += e[j] * a[i * n + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          const fj = a[i * n + j];
          const gj = (e[j] -= hh * fj);
          for (let k = 0; k <= j; k++) a[j * n + k] -= fj * e[k] + gj * a[i * n + k];
        }
      }
    } else {
      e[i] = a[i * n + l];
    }
    d[i] = h;
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  // tqli
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 60) break;
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          let f = s * e[i];
          const b = c * e[i];
          e[i + 1] = r = Math.hypot(f, g);
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          d[i + 1] = g + (p = s * r);
          g = c * r - b;
          f = 0;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d.sort();
}

/** The eigenvalue loop of pca_sigma: returns sigma^2 on the [0,1] scale. */
export function sigma2FromEigenvalues(ev: Float64Array): number {
  let sigma2 = Math.max(ev[0], 0);
  for (let i = ev.length; i > 0; i--) {
    let sum = 0;
    for (let k = 0; k < i; k++) sum += ev[k];
    const tau = sum / i;
    let above = 0;
    let below = 0;
    for (let k = 0; k < i; k++) {
      if (ev[k] > tau) above++;
      else if (ev[k] < tau) below++;
    }
    if (above === below) {
      sigma2 = Math.max(tau, 0);
      break;
    }
  }
  return sigma2;
}

/**
 * pca_sigma over the patches of the given crops (pooled: one mean, one covariance).
 * Returns the noise std on the 0-255 scale. Needs crops of at least 8x8 pixels.
 */
export function pcaSigma(img: RgbImage, crops = [{ x: 0, y: 0, w: img.width, h: img.height }]): number {
  const usable = crops.filter((c) => c.w >= PATCH && c.h >= PATCH);
  if (!usable.length) return 0;
  const { rows, count } = patchRows(img, usable);
  for (const r of rows) {
    let s = 0;
    for (let k = 0; k < count; k++) s += r[k];
    const mean = s / count;
    for (let k = 0; k < count; k++) r[k] -= mean;
  }
  const cov = gram(rows, count);
  for (let i = 0; i < DIM; i++) {
    for (let j = 0; j <= i; j++) {
      const v = cov[i * DIM + j] / count;
      cov[i * DIM + j] = v;
      cov[j * DIM + i] = v;
    }
  }
  return Math.sqrt(sigma2FromEigenvalues(symmetricEigenvalues(cov, DIM))) * 255;
}

/**
 * Lower triangle (and a few entries above it) of rows x rows^T, in float64. Register-blocked
 * 4 x 2 and chunked along the patch axis so the rows stay in cache: the hot loop of `auto`.
 */
function gram(rows: Float64Array[], count: number): Float64Array {
  const cov = new Float64Array(DIM * DIM);
  const B = 1024;
  for (let k0 = 0; k0 < count; k0 += B) {
    const k1 = Math.min(count, k0 + B);
    for (let i = 0; i < DIM; i += 4) {
      const r0 = rows[i];
      const r1 = rows[i + 1];
      const r2 = rows[i + 2];
      const r3 = rows[i + 3];
      for (let j = 0; j <= i + 2; j += 2) {
        const q0 = rows[j];
        const q1 = rows[j + 1];
        let a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
        for (let k = k0; k < k1; k++) {
          const x0 = q0[k];
          const x1 = q1[k];
          let y = r0[k];
          a00 += y * x0;
          a01 += y * x1;
          y = r1[k];
          a10 += y * x0;
          a11 += y * x1;
          y = r2[k];
          a20 += y * x0;
          a21 += y * x1;
          y = r3[k];
          a30 += y * x0;
          a31 += y * x1;
        }
        let o = i * DIM + j;
        cov[o] += a00;
        cov[o + 1] += a01;
        o += DIM;
        cov[o] += a10;
        cov[o + 1] += a11;
        o += DIM;
        cov[o] += a20;
        cov[o + 1] += a21;
        o += DIM;
        cov[o] += a30;
        cov[o + 1] += a31;
      }
    }
  }
  return cov;
}

/** Patch count above which estimateSigmaPca samples crops instead of using every patch. */
export const FULL_IMAGE_PATCHES = 12_000;

/**
 * The PCA noise level, on the 0-255 scale: what `--sigma auto` uses when the denoiser's card
 * declares no CNN estimator (see estimator.ts), and on images too small for one. Small images:
 * pca_sigma over the whole image (identical to the Python). Larger ones: pca_sigma over the pooled patches of a 3x3
 * grid of 112 px crops spread over the central 70 % of the image (about 11,000 patches), which
 * agrees with the whole-image estimate within ~0.5 and takes ~0.1-0.2 s whatever the image size.
 */
export function estimateSigmaPca(img: RgbImage): number {
  const { width: w, height: h } = img;
  const full = (Math.floor((w - PATCH) / STRIDE) + 1) * (Math.floor((h - PATCH) / STRIDE) + 1);
  if (w < PATCH || h < PATCH) return 0;
  if (full <= FULL_IMAGE_PATCHES) return pcaSigma(img);
  const cw = Math.min(112, w);
  const ch = Math.min(112, h);
  const xs = [...new Set([0.15, 0.5, 0.85].map((f) => Math.round((w - cw) * f)))];
  const ys = [...new Set([0.15, 0.5, 0.85].map((f) => Math.round((h - ch) * f)))];
  const crops = ys.flatMap((y) => xs.map((x) => ({ x, y, w: cw, h: ch })));
  return pcaSigma(img, crops);
}
