import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, maxAbsDiff, photoLike, sharpOf, tmpDir } from '../../test/fixtures/images/make.ts';
import { decode } from './image/decode.ts';
import { isInput } from './image/inputs.ts';
import { createEngine, type EngineImpl } from './index.ts';

const { dir, cleanup } = tmpDir();
const p = (n: string) => path.join(dir, n);
let engine: EngineImpl;
const W = 180;
const H = 130;

beforeAll(async () => {
  engine = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: p('user-models'), dataDir: p('data'), runtime: { threads: 1 } });
  fs.mkdirSync(p('photos'), { recursive: true });
  await sharpOf(photoLike(W, H, 5)).withMetadata({ orientation: 6 }).png().toFile(p('photos/a.png'));
  await sharpOf(photoLike(90, 70, 6)).jpeg({ quality: 95 }).toFile(p('photos/b.jpg'));
  const big = photoLike(1200, 800, 8);
  await sharpOf(big).jpeg({ quality: 90 }).toFile(p('big.jpg'));
  const mask = Buffer.alloc(W * H);
  // upright size of a.png is H x W (orientation 6)
  for (let y = 40; y < 70; y++) for (let x = 30; x < 60; x++) mask[y * H + x] = 255;
  await sharp(mask, { raw: { width: H, height: W, channels: 1 } }).png().toFile(p('mask.png'));
});
afterAll(async () => {
  await engine.close();
  cleanup();
});

describe('createEngine', () => {
  it('lists the registered models', () => {
    expect(engine.models().map((m) => m.id).sort()).toEqual(['tiny-denoise', 'tiny-inpaint', 'tiny-upscale-x2', 'tiny-upscale-x4']);
  });

  it('says which provider runs and why not a GPU one', async () => {
    const info = await engine.runtimeInfo();
    expect(info.requested).toBe('auto');
    expect(info.available).toContain('cpu');
    if (info.active === 'cpu') expect(info.fallbackReason).toMatch(/running on the CPU\./);
    const cpu = await engine.runtimeInfo({ ep: 'cpu' });
    expect(cpu).toMatchObject({ requested: 'cpu', active: 'cpu' });
    expect(cpu.fallbackReason).toBeUndefined();
  });

  it('explicit --ep cuda without CUDA is a clear E_MODEL error', async () => {
    const info = await engine.runtimeInfo({ ep: 'cuda' });
    if (info.active === 'cuda') return; // a machine with CUDA
    const img = photoLike(16, 16, 1);
    await expect(engine.run(img, [{ task: 'denoise', sigma: 5 }], { runtime: { ep: 'cuda' } })).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/^CUDA cannot run here: /) });
  });

  it('adds a user model after inspecting it, and refuses hostile ones', async () => {
    const m = await engine.addModel(path.join(FIXTURE_MODELS, 'hostile', 'user-nearest-x2.onnx'));
    expect(m).toMatchObject({ id: 'user-nearest-x2', task: 'upscale', scale: 2, source: 'user' });
    expect(engine.models().some((x) => x.id === 'user-nearest-x2')).toBe(true);
    const again = await engine.addModel(path.join(FIXTURE_MODELS, 'hostile', 'user-nearest-x2.onnx'));
    expect(again.id).toBe('user-nearest-x2-2');
    await expect(engine.addModel(path.join(FIXTURE_MODELS, 'hostile', 'external-data.onnx'))).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
    await expect(engine.addModel(path.join(FIXTURE_MODELS, 'hostile', 'user-nearest-x2.onnx'), { id: 'tiny-denoise' })).rejects.toMatchObject({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/already exists/) });
    // the added model runs
    const out = await engine.run(photoLike(10, 8, 2), [{ task: 'upscale', scale: 2, model: 'user-nearest-x2' }]);
    expect([out.width, out.height]).toEqual([20, 16]);
  });

  it('reads and writes through the one decoder and writer', async () => {
    const img = await engine.readImage(p('photos/a.png'));
    expect([img.width, img.height]).toEqual([H, W]);
    await expect(engine.writeImage(img, p('photos/a.png'))).rejects.toMatchObject({ code: 'E_WRITE' });
    const out = await engine.writeImage(img, p('out/a.png'));
    expect(maxAbsDiff((await decode(out)).data, img.data)).toBeLessThan(0.6 / 255);
  });
});

describe('imageInfo', () => {
  it('writes a downsized display copy into the cache once, keyed by path, mtime and size', async () => {
    const info = await engine.imageInfo(p('big.jpg'), 1024);
    expect(info).toMatchObject({ width: 1200, height: 800, format: 'jpeg', bitDepth: 8, hasAlpha: false });
    expect(info.displayScale).toBeCloseTo(1024 / 1200, 3);
    expect(info.displayPath.startsWith(p('data/cache/display'))).toBe(true);
    const m = await sharp(info.displayPath).metadata();
    expect([m.width, m.height]).toEqual([1024, 683]);
    const first = fs.statSync(info.displayPath);
    fs.utimesSync(info.displayPath, new Date(Date.now() - 3600e3), new Date(Date.now() - 3600e3));
    const again = await engine.imageInfo(p('big.jpg'), 1024);
    expect(again.displayPath).toBe(info.displayPath);
    // not written again (an atomic write would be a new file), but touched: the cache prunes it last
    const second = fs.statSync(info.displayPath);
    expect(second.ino).toBe(first.ino);
    expect(second.mtimeMs).toBeGreaterThan(Date.now() - 60e3);
    const rotated = await engine.imageInfo(p('photos/a.png'));
    expect([rotated.width, rotated.height, rotated.displayScale]).toEqual([H, W, 1]);
  });
});

describe('imageRegion', () => {
  it("gives the original's own pixels in a region (upright), clamped to the photo, once per region", async () => {
    const r = await engine.imageRegion(p('photos/a.png'), { x: 20, y: 100, width: 64, height: 200 }); // upright a.png is 130 x 180
    expect(r.region).toEqual({ x: 20, y: 100, width: 64, height: 80 });
    expect(r.path.startsWith(p('data/cache/region'))).toBe(true);
    const whole = await sharp(p('photos/a.png')).rotate().raw().toBuffer({ resolveWithObject: true });
    expect([whole.info.width, whole.info.height]).toEqual([H, W]);
    const crop = await sharp(r.path).raw().toBuffer({ resolveWithObject: true });
    expect([crop.info.width, crop.info.height]).toEqual([64, 80]);
    let diff = 0;
    for (let y = 0; y < 80; y++)
      for (let x = 0; x < 64; x++)
        for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(crop.data[(y * 64 + x) * crop.info.channels + c] - whole.data[((y + 100) * H + x + 20) * whole.info.channels + c]));
    expect(diff).toBeLessThanOrEqual(1);
    const first = fs.statSync(r.path);
    expect((await engine.imageRegion(p('photos/a.png'), { x: 20, y: 100, width: 64, height: 200 })).path).toBe(r.path);
    expect(fs.statSync(r.path).ino).toBe(first.ino); // not made again
    await expect(engine.imageRegion(p('photos/a.png'), { x: 500, y: 0, width: 8, height: 8 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('previewRegion', () => {
  it('processes only the region (plus context) and matches the full run within 1/255', async () => {
    const region = { x: 537, y: 405, width: 256, height: 192 };
    const r = await engine.previewRegion(p('big.jpg'), region, [{ task: 'denoise', sigma: 20 }]);
    expect(r.region).toEqual(region);
    expect(r.scale).toBe(1);
    const after = await decode(r.after);
    const before = await decode(r.before);
    expect([after.width, after.height, before.width, before.height]).toEqual([256, 192, 256, 192]);
    const full = await engine.run(await decode(p('big.jpg')), [{ task: 'denoise', sigma: 20 }], { runtime: { tile: 512 } });
    const want = await engine.writeImage({ width: full.width, height: full.height, data: full.data }, p('full.png'));
    const cropped = await decode(want, { region: { left: region.x, top: region.y, width: region.width, height: region.height } });
    expect(maxAbsDiff(after.data, cropped.data)).toBeLessThanOrEqual(1 / 255 + 1e-6);
    const orig = await decode(p('big.jpg'), { region: { left: region.x, top: region.y, width: region.width, height: region.height } });
    expect(maxAbsDiff(before.data, orig.data)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('upscale previews come back at the model scale; regions at the border are clamped', async () => {
    const r = await engine.previewRegion(p('big.jpg'), { x: 1100, y: 750, width: 300, height: 300 }, [{ task: 'upscale', scale: 2 }]);
    expect(r.region).toEqual({ x: 1100, y: 750, width: 100, height: 50 });
    expect(r.scale).toBe(2);
    const m = await sharp(r.after).metadata();
    expect([m.width, m.height]).toEqual([200, 100]);
  });

  it('inpaint previews crop the mask to the region', async () => {
    const r = await engine.previewRegion(p('photos/a.png'), { x: 20, y: 30, width: 50, height: 50 }, [{ task: 'inpaint', mask: p('mask.png') }]);
    const full = await engine.run(await decode(p('photos/a.png')), [{ task: 'inpaint', mask: p('mask.png') }]);
    const after = await decode(r.after);
    const n = H * W;
    let m = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 50; y++) for (let x = 0; x < 50; x++) {
      const want = Math.round(Math.min(1, Math.max(0, full.data[c * n + (y + 30) * H + x + 20])) * 255) / 255;
      m = Math.max(m, Math.abs(after.data[c * 2500 + y * 50 + x] - want));
    }
    expect(m).toBeLessThanOrEqual(1 / 255 + 1e-6);
  });

  it('a region outside the photo is a usage error', async () => {
    await expect(engine.previewRegion(p('big.jpg'), { x: 1200, y: 0, width: 10, height: 10 }, [{ task: 'denoise', sigma: 5 }])).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('originals', () => {
  it('showing an output (imageInfo, as the After view does) does not make it an original: a rerun may write it again', async () => {
    fs.mkdirSync(p('again'), { recursive: true });
    fs.copyFileSync(p('photos/b.jpg'), p('again/b.jpg'));
    const out = p('again-out');
    const first = await engine.runBatch({ files: [p('again')], recipe: [{ task: 'denoise', sigma: 10 }], output: { dir: out }, resume: false });
    expect(first.done).toBe(1);
    const written = first.files[0].output!;
    await engine.imageInfo(written); // the window shows the result
    expect(isInput(written)).toBe(false);
    // another strength: the name is taken, so a number, not "refusing to write over the original"
    const second = await engine.runBatch({ files: [p('again')], recipe: [{ task: 'denoise', sigma: 20 }], output: { dir: out }, resume: false });
    expect(second.files[0]).toMatchObject({ status: 'done', renamed: true });
    // the outputs deleted, the same run again writes the natural name
    fs.rmSync(out, { recursive: true });
    const third = await engine.runBatch({ files: [p('again')], recipe: [{ task: 'denoise', sigma: 10 }], output: { dir: out }, resume: false });
    expect(third.files[0]).toMatchObject({ status: 'done', output: written });
    // a file decoded for its pixels is an original from then on
    await engine.readImage(p('again/b.jpg'));
    expect(isInput(p('again/b.jpg'))).toBe(true);
  });
});

describe('batch delegation', () => {
  it('runBatch and expand go through the batch module with this engine core', async () => {
    const { files } = await engine.expand([p('photos')], true);
    expect(files.map((f) => path.basename(f.path)).sort()).toEqual(['a.png', 'b.jpg']);
    const report = await engine.runBatch({ files: [p('photos')], recipe: [{ task: 'denoise', sigma: 10 }], output: { dir: p('batch-out'), suffix: '-dn' } });
    expect(report.failed).toBe(0);
    expect(report.done).toBe(2);
    for (const f of report.files) expect(fs.existsSync(f.output!)).toBe(true);
  });
});
