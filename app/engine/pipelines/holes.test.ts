import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, photoLike, tmpDir } from '../../../test/fixtures/images/make.ts';
import type { RgbImage } from '../api.ts';
import { createEngine } from '../index.ts';
import { depthAt, distanceToKnown, INPAINT_REACH, poolDepth } from './holes.ts';

const REPO = path.resolve(import.meta.dirname, '../../..');
const { dir, cleanup } = tmpDir();
afterAll(cleanup);

async function maskFile(name: string, w: number, h: number, hole: (x: number, y: number) => boolean): Promise<string> {
  const m = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = hole(x, y) ? 255 : 0;
  const f = path.join(dir, name);
  await sharp(m, { raw: { width: w, height: h, channels: 1 } }).png().toFile(f);
  return f;
}

describe('distanceToKnown and depthAt', () => {
  it('measures how deep each hole pixel lies (within 8 % of Euclidean), 0 outside, Infinity with nothing known', () => {
    const w = 61;
    const h = 41;
    const hole = new Float32Array(w * h);
    for (let y = 10; y < 31; y++) for (let x = 10; x < 51; x++) hole[y * w + x] = 1;
    const d = distanceToKnown(hole, w, h);
    expect(d[0]).toBe(0);
    expect(d[10 * w + 10]).toBe(1); // a corner pixel of the hole touches the photo
    expect(d[20 * w + 30]).toBe(11); // the middle row: 11 px from the top and bottom edges
    const diag = distanceToKnown(hole, w, h)[25 * w + 15]; // 6 px from the left edge, 6 from the bottom
    expect(diag).toBe(6);
    expect(distanceToKnown(new Float32Array(9).fill(1), 3, 3).every((v) => v === Infinity)).toBe(true);
    // Euclidean check on a disc: centre depth = radius
    const disc = new Float32Array(201 * 201);
    for (let y = 0; y < 201; y++) for (let x = 0; x < 201; x++) disc[y * 201 + x] = (x - 100) ** 2 + (y - 100) ** 2 <= 90 ** 2 ? 1 : 0;
    const dd = distanceToKnown(disc, 201, 201)[100 * 201 + 100];
    expect(Math.abs(dd - 91) / 91).toBeLessThan(0.08);
  });

  it('previewHoleDepth: slivers of known photo thinner than the pooled blocks are still found', async () => {
    const { previewHoleDepth } = await import('./index.ts');
    const w = 200;
    const h = 160;
    // all hole but a 1 px frame
    const f = await maskFile('sliver.png', w, h, (x, y) => x > 0 && y > 0 && x < w - 1 && y < h - 1);
    const d = await previewHoleDepth(f, w, h, { x: 90, y: 70, width: 20, height: 20 });
    expect(d).toBeGreaterThanOrEqual(79); // the middle is about 80 px from the frame
    expect(d).toBeLessThan(100);
    // remembered per mask file, and read again when the mask is repainted
    const f2 = await maskFile('repaint.png', w, h, (x, y) => x >= 60 && x < 140 && y >= 40 && y < 120);
    expect(await previewHoleDepth(f2, w, h, { x: 95, y: 75, width: 10, height: 10 })).toBeGreaterThan(30);
    await new Promise((r) => setTimeout(r, 20));
    await maskFile('repaint.png', w, h, (x, y) => x < 10 && y < 10); // the hole moved away from the region
    expect(await previewHoleDepth(f2, w, h, { x: 95, y: 75, width: 10, height: 10 })).toBe(0);
  });

  it('depthAt: how deep the hole reaches under a region, never less than the truth, within a block', () => {
    const w = 400;
    const h = 300;
    const hole = new Float32Array(w * h);
    for (let y = 50; y < 250; y++) for (let x = 50; x < 350; x++) hole[y * w + x] = 1;
    const exact = distanceToKnown(hole, w, h)[150 * w + 200]; // the middle: 100 px from the top and bottom edges
    const d = depthAt(poolDepth(hole, w, h), { x: 190, y: 140, width: 20, height: 20 });
    expect(d).toBeGreaterThanOrEqual(exact);
    expect(d).toBeLessThanOrEqual(exact + 16);
    expect(depthAt(poolDepth(hole, w, h), { x: 0, y: 0, width: 40, height: 40 })).toBe(0); // no hole there
    expect(depthAt(poolDepth(new Float32Array(64).fill(1), 8, 8), { x: 0, y: 0, width: 8, height: 8 })).toBe(Infinity);
  });

});

describe('holes deeper than the inpainter reaches', () => {
  it('fixture model: filled in passes from the edge inward, with progress that never goes back and ends at its total', async () => {
    const e = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: path.join(dir, 'u1'), dataDir: path.join(dir, 'd1'), runtime: { ep: 'cpu', threads: 1 } });
    try {
      const W = 320;
      const H = 300;
      const img = photoLike(W, H, 8);
      const big = await maskFile('fixture-big.png', W, H, (x, y) => x >= 20 && x < 300 && y >= 20 && y < 280);
      const seen: { done: number; total: number }[] = [];
      const out = await e.core.run(img, [{ task: 'inpaint', mask: big }], { onProgress: (p: { done: number; total: number }) => seen.push(p) } as never);
      const fractions = seen.map((p) => p.done / p.total);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i].done).toBeGreaterThanOrEqual(seen[i - 1].done);
        expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]); // every pass is planned before the first
      }
      expect(fractions[fractions.length - 1]).toBe(1);
      expect(out.data.every((v) => Number.isFinite(v))).toBe(true);
      // a hole within reach takes one run, as before
      const small = await maskFile('fixture-small.png', W, H, (x, y) => x >= 100 && x < 100 + INPAINT_REACH && y >= 100 && y < 100 + INPAINT_REACH);
      const once: { done: number; total: number }[] = [];
      await e.core.run(img, [{ task: 'inpaint', mask: small }], { onProgress: (p: { done: number; total: number }) => once.push(p) } as never);
      // one run over the photo for a hole within reach; the 130 px deep one adds a run per band of the rest
      expect(seen[seen.length - 1].total).toBeGreaterThan(once[once.length - 1].total);
    } finally {
      await e.close();
    }
  });

  const shipped = fs.existsSync(path.join(REPO, 'models', 'restora-inpaint', 'model.onnx'));
  it.runIf(shipped)('shipped inpainter: no step shows where one pass meets the next (a 500 x 400 hole in a smooth sky)', async () => {
    const e = await createEngine({ modelsDir: path.join(REPO, 'models'), userModelsDir: path.join(dir, 'u3'), dataDir: path.join(dir, 'd3'), runtime: { ep: 'cpu', threads: 2 } });
    try {
      const W = 800;
      const H = 600;
      const data = new Float32Array(3 * W * H);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const t = y / H;
          data[y * W + x] = 0.55 + 0.3 * t;
          data[W * H + y * W + x] = 0.7 + 0.1 * t;
          data[2 * W * H + y * W + x] = 0.9 - 0.3 * t;
        }
      }
      const out = await e.run({ width: W, height: H, data }, [{ task: 'inpaint', mask: await maskFile('sky.png', W, H, (x, y) => x >= 150 && x < 650 && y >= 100 && y < 500) }]);
      // the rows' mean over the middle columns, in 8-bit levels: a pass boundary shows as a kink
      const rows: number[] = [];
      for (let y = 100; y < 500; y++) {
        let s = 0;
        for (let x = 350; x < 450; x++) s += out.data[W * H + y * W + x];
        rows.push((s / 100) * 255);
      }
      let kink = 0;
      for (let i = 8; i < rows.length - 8; i++) kink = Math.max(kink, Math.abs(rows[i + 1] - 2 * rows[i] + rows[i - 1]));
      expect(kink).toBeLessThan(1.2); // 0.83 when written; 1.87 at y 433-436 and 1.70 at 226 without the cross-fade
    } finally {
      await e.close();
    }
  });

  it.runIf(shipped)('shipped inpainter: the middle of a 432 x 368 hole takes the colours around it, not black', async () => {
    const e = await createEngine({ modelsDir: path.join(REPO, 'models'), userModelsDir: path.join(dir, 'u2'), dataDir: path.join(dir, 'd2'), runtime: { ep: 'cpu', threads: 2 } });
    try {
      const W = 512;
      const H = 448;
      const sc = await sharp(path.join(REPO, 'samples', 'parrots-iso6400.jpg')).resize(W, H, { fit: 'cover' }).blur(3).removeAlpha().raw().toBuffer();
      const img: RgbImage = { width: W, height: H, data: Float32Array.from({ length: 3 * W * H }, (_, k) => sc[(k % (W * H)) * 3 + Math.floor(k / (W * H))] / 255) };
      const hole = (x: number, y: number) => x >= 40 && x < 472 && y >= 40 && y < 408;
      const out = await e.run(img, [{ task: 'inpaint', mask: await maskFile('big.png', W, H, hole) }]);
      // the hole's middle: 130 px or more from its edge
      let err = 0;
      let dark = 0;
      let k = 0;
      for (let y = 170; y < 278; y++) {
        for (let x = 170; x < 342; x++) {
          let lum = 0;
          for (let c = 0; c < 3; c++) {
            const i = c * W * H + y * W + x;
            err += Math.abs(out.data[i] - img.data[i]);
            lum += out.data[i] / 3;
          }
          if (lum < 0.1) dark++;
          k++;
        }
      }
      expect(dark / k).toBeLessThan(0.01); // one pass left about 60 % of it black (mean error 120/255)
      expect((err / (3 * k)) * 255).toBeLessThan(60); // 44-49/255 when written: a smooth guess of the scene

      // the compare view's region preview in the hole's middle shows what the full run makes there
      const file = path.join(dir, 'scene.png');
      await sharp(sc, { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
      const region = { x: 232, y: 200, width: 48, height: 48 };
      const mask = path.join(dir, 'big.png');
      const full = await e.run(await e.readImage(file), [{ task: 'inpaint', mask }]);
      const pv = await e.readImage((await e.previewRegion(file, region, [{ task: 'inpaint', mask }])).after);
      let diff = 0;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 48; y++) {
          for (let x = 0; x < 48; x++) diff += Math.abs(pv.data[c * 2304 + y * 48 + x] - Math.min(1, Math.max(0, full.data[c * W * H + (region.y + y) * W + region.x + x])));
        }
      }
      expect((diff / (3 * 2304)) * 255).toBeLessThan(3); // a crop that stops inside the hole would show black
    } finally {
      await e.close();
    }
  });
});
