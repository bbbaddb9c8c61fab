import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import { FIXTURE_MODELS, maxAbsDiff, rng } from '../../../test/fixtures/images/make.ts';
import { decode } from '../image/decode.ts';
import { axisWeights, dihedral, effectiveTiling, planAxis, reflectIndex, runTiled, tileCount, type PlaneSource, type TileTensor } from './tiler.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..', '..');
const sessions: Record<string, ort.InferenceSession> = {};

beforeAll(async () => {
  for (const id of ['tiny-denoise', 'tiny-upscale-x2', 'tiny-upscale-x4']) {
    sessions[id] = await ort.InferenceSession.create(path.join(FIXTURE_MODELS, id, 'model.onnx'), { intraOpNumThreads: 1, executionProviders: ['cpu'] });
  }
});
afterAll(async () => {
  for (const s of Object.values(sessions)) await s.release();
});

/** The tiler's `run` for an ORT session whose output is named `output`. */
function sessionRunner(s: ort.InferenceSession) {
  return async (feeds: Record<string, TileTensor>) => {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
    return (await s.run(f)).output.data as Float32Array;
  };
}

function runner(id: string, calls?: { n: number }) {
  return (feeds: Record<string, TileTensor>) => {
    if (calls) calls.n++;
    return sessionRunner(sessions[id])(feeds);
  };
}

/** A stand-in model: nearest-neighbour upsampling by `scale` of the `image` input (identity at 1). */
function nearest(scale: number) {
  return async (feeds: Record<string, TileTensor>) => {
    const { data, dims } = feeds.image;
    const [, c, h, w] = dims;
    const out = new Float32Array(c * h * w * scale * scale);
    for (let k = 0; k < c; k++) for (let y = 0; y < h * scale; y++) for (let x = 0; x < w * scale; x++) {
      out[k * h * w * scale * scale + y * w * scale + x] = data[k * h * w + Math.floor(y / scale) * w + Math.floor(x / scale)];
    }
    return out;
  };
}

const alignUpT = (v: number, m: number) => Math.ceil(v / m) * m;

function randomImage(w: number, h: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: 3 * w * h }, () => r());
}

describe('planning', () => {
  it('windows are aligned, cover the axis and overlap by at least the overlap', () => {
    for (const [len, tile, ov, m] of [[1000, 256, 32, 8], [257, 64, 16, 4], [100, 64, 16, 16], [64, 64, 16, 4], [65, 64, 16, 4], [7, 64, 16, 4], [513, 96, 24, 1]]) {
      const p = planAxis(len, tile, ov, m);
      expect(p.window % m).toBe(0);
      for (const s of p.starts) expect(s % m).toBe(0);
      expect(p.starts[0]).toBe(0);
      expect(p.starts[p.starts.length - 1] + p.window).toBeGreaterThanOrEqual(len);
      expect(p.starts[p.starts.length - 1] + p.window - len).toBeLessThan(Math.max(m, 1) + (p.starts.length === 1 ? 0 : 0));
      for (let i = 1; i < p.starts.length; i++) expect(p.starts[i - 1] + p.window - p.starts[i]).toBeGreaterThanOrEqual(p.overlap);
    }
  });

  it('uses the fewest windows and shrinks them to cover the axis without waste', () => {
    // 1000 px, 512 px tiles, 64 px overlap: 3 windows of 376 px, not 3 of 512
    const p = planAxis(1000, 512, 64, 8);
    expect(p.starts).toEqual([0, 312, 624]);
    expect(p.window).toBe(376);
    const r = rng(7);
    for (let k = 0; k < 3000; k++) {
      const m = [1, 2, 4, 8, 16][Math.floor(r() * 5)];
      const len = 1 + Math.floor(r() * 5000);
      const tile = 16 + Math.floor(r() * 1200);
      const ov = Math.floor(r() * 160);
      const p = planAxis(len, tile, ov, m);
      const { tile: t, overlap: o } = effectiveTiling(tile, ov, m);
      const n = p.starts.length;
      expect(p.window).toBeLessThanOrEqual(Math.max(t, alignUpT(len, m)));
      expect(p.starts[n - 1] + p.window).toBeGreaterThanOrEqual(len);
      expect(p.starts[n - 1] + p.window - len).toBeLessThan(m);
      for (let i = 1; i < n; i++) {
        expect(p.starts[i]).toBeGreaterThan(p.starts[i - 1]);
        expect(p.starts[i] % m).toBe(0);
        expect(p.starts[i - 1] + p.window - p.starts[i]).toBeGreaterThanOrEqual(o);
      }
      if (n > 1) {
        expect(n).toBe(Math.ceil((len - o) / (t - o))); // no spare window
        expect(p.window).toBeGreaterThanOrEqual(2 * o + m); // a middle window's blend zones never touch
        // computed pixels: at most one multiple per window beyond what the overlaps need
        expect(n * p.window).toBeLessThanOrEqual(Math.max(len + (n - 1) * o + n * m, n * (2 * o + m)));
      }
    }
  });

  it('1-D weights of all windows sum to exactly 1 at every output pixel (scales 1, 2, 4)', () => {
    for (const scale of [1, 2, 4]) {
      for (const [len, tile, ov, m] of [[1000, 256, 32, 8], [300, 64, 16, 4], [129, 48, 8, 1]]) {
        const p = planAxis(len, tile, ov, m);
        const sum = new Float64Array(len * scale);
        p.starts.forEach((s, i) => {
          const w = axisWeights(p, i, scale);
          for (let x = 0; x < w.length && s * scale + x < sum.length; x++) sum[s * scale + x] += w[x];
        });
        for (let x = 0; x < sum.length; x++) expect(Math.abs(sum[x] - 1)).toBeLessThan(1e-6);
      }
    }
  });

  it('reflects indices past the edges', () => {
    expect([-2, -1, 0, 1, 4, 5, 6, 7].map((i) => reflectIndex(i, 5))).toEqual([2, 1, 0, 1, 4, 3, 2, 1]);
    expect(reflectIndex(3, 1)).toBe(0);
  });
});

describe('runTiled with a stand-in model', () => {
  it('identity and nearest x2/x4 come back exactly, any size (also smaller than a tile)', async () => {
    for (const [w, h] of [[131, 77], [10, 7], [64, 64], [3, 2]]) {
      const img = randomImage(w, h, w * h);
      for (const scale of [1, 2, 4]) {
        const out = await runTiled({ width: w, height: h, inputs: { image: { channels: 3, data: img } }, scale, sizeMultiple: 4, tile: 32, overlap: 8, run: nearest(scale) });
        const want = new Float32Array(3 * w * h * scale * scale);
        for (let c = 0; c < 3; c++) for (let y = 0; y < h * scale; y++) for (let x = 0; x < w * scale; x++) {
          want[c * w * h * scale * scale + y * w * scale + x] = img[c * w * h + Math.floor(y / scale) * w + Math.floor(x / scale)];
        }
        expect(maxAbsDiff(out, want), `${w}x${h} x${scale}`).toBeLessThan(1e-6);
      }
    }
  });

  it('reports progress per tile and stops between tiles when aborted', async () => {
    const img = randomImage(100, 60, 1);
    const seen: [number, number][] = [];
    const total = tileCount(100, 60, 32, 8, 4);
    await runTiled({ width: 100, height: 60, inputs: { image: { channels: 3, data: img } }, scale: 1, sizeMultiple: 4, tile: 32, overlap: 8, run: nearest(1), onTile: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBe(total);
    expect(seen.map((s) => s[0])).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(seen.map((s) => s[1]))).toEqual(new Set([total]));

    const ac = new AbortController();
    let calls = 0;
    const run = async (f: Record<string, TileTensor>) => {
      calls++;
      if (calls === 2) ac.abort();
      return nearest(1)(f);
    };
    await expect(runTiled({ width: 100, height: 60, inputs: { image: { channels: 3, data: img } }, scale: 1, sizeMultiple: 4, tile: 32, overlap: 8, run, signal: ac.signal })).rejects.toMatchObject({ code: 'E_CANCELLED' });
    expect(calls).toBe(2);
  });

  it('a cancel whose event comes while a tile runs is seen before the next tile, even when the run blocks and resolves at once', async () => {
    // onnxruntime-node's run holds the thread for the whole tile: a Ctrl-C or a Cancel message is a
    // macrotask, handled only when the loop turns; without a turn between tiles the whole image ran first
    const img = randomImage(100, 60, 9);
    const ac = new AbortController();
    let calls = 0;
    const run = (f: Record<string, TileTensor>) => {
      calls++;
      if (calls === 1) setImmediate(() => ac.abort()); // arrives during the first tile
      const until = Date.now() + 5;
      while (Date.now() < until); // busy, as a native run is
      return Promise.resolve(nearest(1)(f)).then((x) => x);
    };
    await expect(runTiled({ width: 100, height: 60, inputs: { image: { channels: 3, data: img } }, scale: 1, sizeMultiple: 4, tile: 32, overlap: 8, run, signal: ac.signal })).rejects.toMatchObject({ code: 'E_CANCELLED' });
    expect(calls).toBe(1);
  });

  it('constant planes are fed without a full-size map', async () => {
    const img = randomImage(40, 40, 2);
    let seen = -1;
    await runTiled({
      width: 40, height: 40, inputs: { image: { channels: 3, data: img }, sigma: { channels: 1, value: 0.1 } }, scale: 1, sizeMultiple: 1, tile: 24, overlap: 8,
      run: async (f) => {
        seen = f.sigma.data[5];
        expect(f.sigma.dims).toEqual([1, 1, f.image.dims[2], f.image.dims[3]]);
        return f.image.data;
      },
    });
    expect(seen).toBeCloseTo(0.1, 6);
  });

  it('a model returning the wrong size is an E_MODEL error', async () => {
    const img = randomImage(20, 20, 3);
    await expect(runTiled({ width: 20, height: 20, inputs: { image: { channels: 3, data: img } }, scale: 2, sizeMultiple: 1, tile: 64, overlap: 8, run: nearest(1) })).rejects.toBeInstanceOf(RestoraError);
  });
});

describe('runTiled with real conv models (ONNX fixtures)', () => {
  // a real photo: a crop of the sample that ships with the repo
  let photo: { width: number; height: number; data: Float32Array };
  beforeAll(async () => {
    photo = await decode(path.join(REPO, 'samples', 'parrots-iso6400.jpg'), { region: { left: 200, top: 120, width: 250, height: 190 } });
  });

  it('denoiser: tiled and single-pass outputs differ by at most 1/255 (max abs)', async () => {
    const { width, height, data } = photo;
    const inputs = { image: { channels: 3, data }, sigma: { channels: 1, value: 25 / 255 } };
    const single = await runTiled({ width, height, inputs, scale: 1, sizeMultiple: 4, tile: 4096, overlap: 0, run: runner('tiny-denoise') });
    const calls = { n: 0 };
    const tiled = await runTiled({ width, height, inputs, scale: 1, sizeMultiple: 4, tile: 64, overlap: 16, run: runner('tiny-denoise', calls) });
    expect(calls.n).toBeGreaterThan(9);
    const d = maxAbsDiff(tiled, single);
    expect(d).toBeLessThanOrEqual(1 / 255);
    // and the model really changed the image (the test is not comparing two copies of the input)
    expect(maxAbsDiff(single, data)).toBeGreaterThan(5 / 255);
  });

  it('upscalers x2 and x4: tiled equals single pass within 1/255', async () => {
    const { width, height, data } = photo;
    for (const [id, scale] of [['tiny-upscale-x2', 2], ['tiny-upscale-x4', 4]] as const) {
      const inputs = { image: { channels: 3, data } };
      const single = await runTiled({ width, height, inputs, scale, sizeMultiple: 1, tile: 4096, overlap: 0, run: runner(id) });
      const tiled = await runTiled({ width, height, inputs, scale, sizeMultiple: 1, tile: 48, overlap: 8, run: runner(id) });
      expect(single.length).toBe(3 * width * height * scale * scale);
      expect(maxAbsDiff(tiled, single), id).toBeLessThanOrEqual(1 / 255);
    }
  });

  /**
   * A small tile (many seams on the sample photo) that still keeps the card's overlap whole: below
   * 2 x overlap + a multiple the tiler shrinks the overlap (effectiveTiling), and the test would then
   * measure a smaller overlap than the one the app runs with (tile 1024). Until session 13 the
   * denoiser's check ran at 256 px, that is with 120 px instead of its card's 128.
   */
  function seamTestTile(card: { size_multiple: number; tiling: { tile: number; overlap: number } }, small: number): number {
    const tile = Math.min(card.tiling.tile, Math.max(small, 2 * card.tiling.overlap + 2 * card.size_multiple));
    expect(effectiveTiling(tile, card.tiling.overlap, card.size_multiple).overlap).toBe(card.tiling.overlap);
    return tile;
  }

  // the trained model (when it has landed in models/): its card's overlap must keep tiles invisible
  const trained = path.join(REPO, 'models', 'restora-denoise');
  it.runIf(fs.existsSync(path.join(trained, 'model.onnx')))('trained restora-denoise: tiled with its card overlap vs single pass within 1/255', async () => {
    const card = JSON.parse(fs.readFileSync(path.join(trained, 'card.json'), 'utf8'));
    const s = await ort.InferenceSession.create(path.join(trained, 'model.onnx'), { executionProviders: ['cpu'] });
    const run = sessionRunner(s);
    const full = await decode(path.join(REPO, 'samples', 'parrots-iso6400.jpg'));
    const inputs = { image: { channels: 3, data: full.data }, sigma: { channels: 1, value: 25 / 255 } };
    const o = { width: full.width, height: full.height, inputs, scale: 1, sizeMultiple: card.size_multiple, run };
    const single = await runTiled({ ...o, tile: 4096, overlap: 0 });
    const tile = seamTestTile(card, 256);
    const tiled = await runTiled({ ...o, tile, overlap: card.tiling.overlap });
    await s.release();
    expect(maxAbsDiff(tiled, single) * 255).toBeLessThanOrEqual(1);
  });

  // every other shipped model, on a crop of the sample photo (inpaint with a mask of strokes and blocks)
  for (const id of ['restora-upscale-x2', 'restora-upscale-x4', 'restora-inpaint']) {
    const dir = path.join(REPO, 'models', id);
    it.runIf(fs.existsSync(path.join(dir, 'model.onnx')))(`trained ${id}: tiled with its card overlap vs single pass within 1/255`, async () => {
      const card = JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8'));
      const s = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'] });
      const run = sessionRunner(s);
      const full = await decode(path.join(REPO, 'samples', 'parrots-iso6400.jpg'));
      const upscale = card.task === 'upscale';
      const w = upscale ? 200 : 512;
      const h = upscale ? 136 : 384;
      const data = new Float32Array(3 * w * h);
      for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[c * w * h + y * w + x] = full.data[c * full.width * full.height + (y + 60) * full.width + x + 120];
      const inputs: Record<string, PlaneSource> = { image: { channels: 3, data } };
      if (card.task === 'inpaint') {
        const m = new Float32Array(w * h);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
          const stroke = Math.abs(y - (0.3 * h + 0.25 * x)) < 6 || Math.abs(x - 0.7 * w - 20 * Math.sin(y / 30)) < 9;
          const block = x > 60 && x < 130 && y > 250 && y < 330;
          m[y * w + x] = stroke || block ? 1 : 0;
        }
        for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[c * w * h + i] *= 1 - m[i];
        inputs.mask = { channels: 1, data: m };
      }
      const o = { width: w, height: h, inputs, scale: card.scale as number, sizeMultiple: card.size_multiple as number, run };
      const single = await runTiled({ ...o, tile: 4096, overlap: 0 });
      const tiled = await runTiled({ ...o, tile: seamTestTile(card, upscale ? 64 : 256), overlap: card.tiling.overlap });
      await s.release();
      expect(maxAbsDiff(tiled, single) * 255).toBeLessThanOrEqual(1);
    });
  }

  it('a smooth gradient shows no seam', async () => {
    const w = 160;
    const h = 96;
    const g = new Float32Array(3 * w * h);
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) g[c * w * h + y * w + x] = 0.1 + 0.7 * (x / w) * (0.6 + 0.4 * c / 2) + 0.1 * (y / h);
    const inputs = { image: { channels: 3, data: g }, sigma: { channels: 1, value: 15 / 255 } };
    const tiled = await runTiled({ width: w, height: h, inputs, scale: 1, sizeMultiple: 4, tile: 48, overlap: 16, run: runner('tiny-denoise') });
    const single = await runTiled({ width: w, height: h, inputs, scale: 1, sizeMultiple: 4, tile: 4096, overlap: 0, run: runner('tiny-denoise') });
    expect(maxAbsDiff(tiled, single)).toBeLessThan(0.5 / 255);
    // second differences across the interior: a seam would be a kink much larger than the gradient's
    const kink = (img: Float32Array) => {
      let m = 0;
      for (let c = 0; c < 3; c++) for (let y = 8; y < h - 8; y++) for (let x = 8; x < w - 8; x++) {
        const i = c * w * h + y * w + x;
        m = Math.max(m, Math.abs(img[i + 1] - 2 * img[i] + img[i - 1]), Math.abs(img[i + w] - 2 * img[i] + img[i - w]));
      }
      return m;
    };
    expect(kink(tiled)).toBeLessThan(kink(single) + 0.25 / 255);
    // the difference image is flat: nothing step- or kink-like where the tiles meet
    expect(kink(tiled.map((v, i) => v - single[i]))).toBeLessThan(0.25 / 255);
  });
});

describe('self-ensemble (passes 8)', () => {
  it('dihedral: the 8 symmetries are distinct, transpose and mirrors land where expected, and each inverts', () => {
    const [c, h, w] = [2, 3, 5];
    const a = Float32Array.from({ length: c * h * w }, (_, i) => i);
    const at = (d: Float32Array, ch: number, y: number, x: number, width: number) => d[ch * d.length / c + y * width + x];
    const seen = new Set<string>();
    for (let k = 0; k < 8; k++) {
      const f = dihedral(a, c, h, w, k);
      seen.add(f.join(','));
      const [fh, fw] = k & 4 ? [w, h] : [h, w];
      expect(dihedral(f, c, fh, fw, k, true)).toEqual(a);
    }
    expect(seen.size).toBe(8);
    // k 4: transpose (5 x 3); k 1: mirror left-right; k 2: top-bottom
    expect(at(dihedral(a, c, h, w, 4), 1, 4, 2, 3)).toBe(at(a, 1, 2, 4, w));
    expect(at(dihedral(a, c, h, w, 1), 0, 1, 0, w)).toBe(at(a, 0, 1, 4, w));
    expect(at(dihedral(a, c, h, w, 2), 1, 0, 3, w)).toBe(at(a, 1, 2, 3, w));
  });

  it('averages the model over rotations and mirrors: a one-pixel shift becomes the mean of the 4 neighbours', async () => {
    // a stand-in model that is not rotation-invariant: each pixel takes its left neighbour's value
    const shift = async (feeds: Record<string, TileTensor>) => {
      const { data, dims } = feeds.image;
      const [, c, h, w] = dims;
      const out = new Float32Array(data.length);
      for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[k * h * w + y * w + x] = data[k * h * w + y * w + Math.max(0, x - 1)];
      return out;
    };
    const [w, h] = [24, 16];
    const img = randomImage(w, h, 3);
    const out = await runTiled({ width: w, height: h, inputs: { image: { channels: 3, data: img } }, scale: 1, sizeMultiple: 4, tile: 64, overlap: 0, passes: 8, run: shift });
    const plain = await runTiled({ width: w, height: h, inputs: { image: { channels: 3, data: img } }, scale: 1, sizeMultiple: 4, tile: 64, overlap: 0, run: shift });
    for (let c = 0; c < 3; c++) for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) {
      const i = c * w * h + y * w + x;
      expect(out[i]).toBeCloseTo((img[i - 1] + img[i + 1] + img[i - w] + img[i + w]) / 4, 5);
      expect(plain[i]).toBe(img[i - 1]);
    }
  });

  it('a model that commutes with rotations and mirrors gives the single-pass result, tiled, at x1, x2 and x4', async () => {
    for (const scale of [1, 2, 4]) {
      const [w, h] = [70, 45]; // windows are not square, so half the passes see them transposed
      const inputs = { image: { channels: 3, data: randomImage(w, h, 11 + scale) } };
      const o = { width: w, height: h, inputs, scale, sizeMultiple: 4, tile: 32, overlap: 8, run: nearest(scale) };
      const shapes = new Set<string>();
      let last = { done: 0, total: 0 };
      const eight = await runTiled({
        ...o,
        passes: 8,
        run: (f, win) => {
          shapes.add(f.image.dims.slice(2).join('x') + (f.image.dims[2] === win.height ? '' : ' (transposed)'));
          return nearest(scale)(f);
        },
        onTile: (done, total) => (last = { done, total }),
      });
      const one = await runTiled(o);
      expect(maxAbsDiff(eight, one), `x${scale}`).toBeLessThan(1e-6);
      // progress counts model runs: tiles x 8
      expect(last).toEqual({ done: tileCount(w, h, 32, 8, 4) * 8, total: tileCount(w, h, 32, 8, 4) * 8 });
      expect([...shapes].some((s) => s.includes('transposed'))).toBe(true);
    }
  });

  it('with a real conv model: tiled equals single pass within 1/255, and the ensemble changes the result', async () => {
    const photo = await decode(path.join(REPO, 'samples', 'parrots-iso6400.jpg'), { region: { left: 300, top: 100, width: 120, height: 88 } });
    const inputs = { image: { channels: 3, data: photo.data }, sigma: { channels: 1, value: 25 / 255 } };
    const o = { width: photo.width, height: photo.height, inputs, scale: 1, sizeMultiple: 4, passes: 8 as const, run: runner('tiny-denoise') };
    const single = await runTiled({ ...o, tile: 4096, overlap: 0 });
    const tiled = await runTiled({ ...o, tile: 48, overlap: 16 });
    expect(maxAbsDiff(tiled, single)).toBeLessThanOrEqual(1 / 255);
    const plain = await runTiled({ ...o, passes: 1, tile: 4096, overlap: 0 });
    expect(maxAbsDiff(single, plain)).toBeGreaterThan(0.5 / 255);
  });

  it('stops between passes when aborted, and refuses a pass count other than 1 or 8', async () => {
    const ac = new AbortController();
    let runs = 0;
    const inputs = { image: { channels: 3, data: randomImage(16, 16, 1) } };
    const job = runTiled({ width: 16, height: 16, inputs, scale: 1, sizeMultiple: 4, tile: 64, overlap: 0, passes: 8, signal: ac.signal, run: (f) => (++runs === 3 && ac.abort(), nearest(1)(f)) });
    await expect(job).rejects.toMatchObject({ code: 'E_CANCELLED' });
    expect(runs).toBe(3);
    await expect(runTiled({ width: 16, height: 16, inputs, scale: 1, sizeMultiple: 4, tile: 64, overlap: 0, passes: 4 as 8, run: nearest(1) })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
