import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import { maxAbsDiff, meanAbsDiff, photoLike, sharpOf, tmpDir, toRgb16, toRgb8 } from '../../../test/fixtures/images/make.ts';
import { decode, decodeMask, displayCopy, probeImage } from './decode.ts';

const { dir, cleanup } = tmpDir();
const W = 40;
const H = 30;
const ref = photoLike(W, H, 7);
const p = (n: string) => path.join(dir, n);

async function expectError(promise: Promise<unknown>, code: string, text?: RegExp): Promise<RestoraError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(RestoraError);
    const r = e as RestoraError;
    expect(r.code).toBe(code);
    if (text) expect(r.message).toMatch(text);
    return r;
  }
  throw new Error(`expected ${code}`);
}

/** Apply an EXIF orientation (1-8) to interleaved RGB the way a viewer shows it. */
function orient(src: Buffer, w: number, h: number, o: number): { data: Buffer; w: number; h: number } {
  const swap = o >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = Buffer.alloc(src.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number, sy: number;
      switch (o) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
        default: sx = x; sy = y;
      }
      src.copy(out, (y * ow + x) * 3, (sy * w + sx) * 3, (sy * w + sx) * 3 + 3);
    }
  }
  return { data: out, w: ow, h: oh };
}

function interleave(img: { width: number; height: number; data: Float32Array }, bits = 8): number[] {
  const n = img.width * img.height;
  const out: number[] = [];
  const m = bits === 16 ? 65535 : 255;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out.push(Math.round(img.data[c * n + i] * m));
  return out;
}

beforeAll(async () => {
  const raw = { raw: { width: W, height: H, channels: 3 as const } };
  await sharpOf(ref).png().toFile(p('a.png'));
  await sharpOf(ref).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(p('a.jpg'));
  await sharpOf(ref).webp({ lossless: true }).toFile(p('a.webp'));
  await sharp(toRgb16(ref), raw).toColourspace('rgb16').png().toFile(p('a16.png'));
  await sharp(toRgb16(ref), raw).toColourspace('rgb16').tiff({ compression: 'deflate' }).toFile(p('a16.tif'));
  await sharpOf(ref).tiff({ compression: 'lzw' }).toFile(p('a8.tif'));
  await sharpOf(ref).withIccProfile('p3').png().toFile(p('p3.png'));
  await sharpOf(ref).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(p('cmyk.jpg'));
  await sharpOf(ref).toColourspace('b-w').png().toFile(p('grey.png'));
  await sharpOf(ref).png({ palette: true, colours: 256 }).toFile(p('palette.png'));
  const rgba = Buffer.alloc(W * H * 4);
  const rgb = toRgb8(ref);
  for (let i = 0; i < W * H; i++) {
    rgb.copy(rgba, i * 4, i * 3, i * 3 + 3);
    rgba[i * 4 + 3] = (i * 7) % 256;
  }
  await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(p('alpha.png'));
  // big enough that truncation hits entropy-coded data, not the header
  await sharpOf(photoLike(256, 256, 3)).jpeg({ quality: 95 }).toFile(p('big.jpg'));
  const big = fs.readFileSync(p('big.jpg'));
  fs.writeFileSync(p('truncated.jpg'), big.subarray(0, Math.floor(big.length * 0.6)));
  fs.writeFileSync(p('empty.jpg'), Buffer.alloc(0));
  fs.writeFileSync(p('text.png'), 'hello, I am not a picture\n');
  fs.writeFileSync(p('drawing.svg'), '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
  fs.writeFileSync(p('doc.pdf'), '%PDF-1.4\n%...\n');
  fs.writeFileSync(p('photo.dng'), fs.readFileSync(p('a8.tif')));
  await sharpOf(ref).gif().toFile(p('anim.gif'));
  const page = await sharpOf(ref).png().toBuffer();
  await sharp([page, page, page], { join: { animated: true } }).tiff({ compression: 'lzw' }).toFile(p('pages.tif'));
  // pixel bomb: a real 40x30 PNG whose header claims 30000 x 30000
  const png = Buffer.from(fs.readFileSync(p('a.png')));
  png.writeUInt32BE(30000, 16);
  png.writeUInt32BE(30000, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)) >>> 0, 29);
  fs.writeFileSync(p('bomb.png'), png);
  if (sharp.format.heif.output.file) await sharpOf(ref).avif({ quality: 90 }).toFile(p('a.avif'));
  for (let o = 1; o <= 8; o++) {
    await sharp(rgb, raw).withMetadata({ orientation: o }).png().toFile(p(`o${o}.png`));
  }
  // masks
  const mask = Buffer.alloc(W * H);
  for (let y = 5; y < 12; y++) for (let x = 8; x < 20; x++) mask[y * W + x] = 255;
  await sharp(mask, { raw: { width: W, height: H, channels: 1 } }).png().toFile(p('mask.png'));
  await sharp(Buffer.alloc(W * H), { raw: { width: W, height: H, channels: 1 } }).png().toFile(p('mask-empty.png'));
  await sharp(Buffer.alloc(20 * 20, 255), { raw: { width: 20, height: 20, channels: 1 } }).png().toFile(p('mask-small.png'));
});

afterAll(cleanup);

describe('decode: formats and depths', () => {
  it('PNG 8-bit decodes exactly to planar float RGB in [0,1]', async () => {
    const img = await decode(p('a.png'));
    expect([img.width, img.height]).toEqual([W, H]);
    expect(img.data.length).toBe(3 * W * H);
    expect(img.meta?.format).toBe('png');
    expect(img.meta?.bitDepth).toBe(8);
    expect(img.alpha).toBeUndefined();
    expect(maxAbsDiff(interleave(img), [...toRgb8(ref)])).toBe(0);
  });

  it('JPEG, WebP and 8-bit TIFF decode close to the source', async () => {
    for (const [f, tol] of [['a.jpg', 6], ['a.webp', 0], ['a8.tif', 0]] as const) {
      const img = await decode(p(f));
      expect(img.meta?.bitDepth).toBe(8);
      expect(maxAbsDiff(interleave(img), [...toRgb8(ref)])).toBeLessThanOrEqual(tol);
    }
  });

  it('16-bit PNG and TIFF decode at 16-bit precision', async () => {
    for (const f of ['a16.png', 'a16.tif']) {
      const img = await decode(p(f));
      expect(img.meta?.bitDepth).toBe(16);
      expect(maxAbsDiff(interleave(img, 16), [...toRgb16(ref)])).toBe(0);
    }
  });

  it('AVIF decodes where the sharp build reads HEIF', async () => {
    if (!sharp.format.heif.input.file || !fs.existsSync(p('a.avif'))) return;
    const img = await decode(p('a.avif'));
    expect(img.meta?.format).toBe('heif');
    expect(meanAbsDiff(interleave(img), [...toRgb8(ref)])).toBeLessThan(4);
  });

  it('EXIF orientations 1-8 are applied once (upright pixels, sizes swapped for 5-8)', async () => {
    const rgb = toRgb8(ref);
    for (let o = 1; o <= 8; o++) {
      const img = await decode(p(`o${o}.png`));
      const want = orient(rgb, W, H, o);
      expect([img.width, img.height], `orientation ${o}`).toEqual([want.w, want.h]);
      expect(img.meta?.orientation ?? 1).toBe(o);
      expect(maxAbsDiff(interleave(img), [...want.data]), `orientation ${o}`).toBe(0);
    }
  });

  it('an embedded ICC profile (Display P3) is converted to sRGB and kept in meta', async () => {
    const img = await decode(p('p3.png'));
    expect(img.meta?.icc?.length).toBeGreaterThan(100);
    expect(img.meta!.icc!.subarray(16, 20).toString('latin1')).toBe('RGB ');
    // the P3 file's raw numbers differ from the sRGB source; the decode must undo that
    const rawP3 = await sharp(p('p3.png'), { ignoreIcc: true }).raw().toBuffer();
    expect(meanAbsDiff([...rawP3], [...toRgb8(ref)])).toBeGreaterThan(2);
    expect(meanAbsDiff(interleave(img), [...toRgb8(ref)])).toBeLessThan(1.0);
  });

  it('CMYK, greyscale and palette images become RGB', async () => {
    const cmyk = await decode(p('cmyk.jpg'));
    expect(cmyk.data.length).toBe(3 * W * H);
    expect(meanAbsDiff(interleave(cmyk), [...toRgb8(ref)])).toBeLessThan(12);
    const grey = await decode(p('grey.png'));
    const n = W * H;
    expect(maxAbsDiff(grey.data.subarray(0, n), grey.data.subarray(n, 2 * n))).toBe(0);
    expect(maxAbsDiff(grey.data.subarray(0, n), grey.data.subarray(2 * n))).toBe(0);
    expect(grey.meta?.grey).toBe(true); // the writer turns it back into grey
    expect(cmyk.meta?.grey).toBeUndefined();
    const pal = await decode(p('palette.png'));
    expect(pal.data.length).toBe(3 * n);
    expect(pal.meta?.grey).toBeUndefined();
    expect(meanAbsDiff(interleave(pal), [...toRgb8(ref)])).toBeLessThan(4);
  });

  it('alpha is split off exactly and RGB is not premultiplied', async () => {
    const img = await decode(p('alpha.png'));
    expect(img.alpha?.length).toBe(W * H);
    for (let i = 0; i < W * H; i += 37) expect(Math.round(img.alpha![i] * 255)).toBe((i * 7) % 256);
    expect(maxAbsDiff(interleave(img), [...toRgb8(ref)])).toBe(0);
  });

  it('a region decodes to the same pixels as a crop of the whole image', async () => {
    const full = await decode(p('o6.png'));
    const reg = await decode(p('o6.png'), { region: { left: 3, top: 5, width: 10, height: 7 } });
    expect([reg.width, reg.height]).toEqual([10, 7]);
    const fw = full.width;
    const fn = full.width * full.height;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 7; y++) for (let x = 0; x < 10; x++) {
      expect(reg.data[c * 70 + y * 10 + x]).toBe(full.data[c * fn + (y + 5) * fw + x + 3]);
    }
  });
});

describe('decode: refusals carry a code and the file name', () => {
  it('missing file -> E_NOT_FOUND', async () => {
    await expectError(decode(p('nope.jpg')), 'E_NOT_FOUND', /^nope\.jpg does not exist/);
  });
  it('zero bytes -> E_DECODE', async () => {
    await expectError(decode(p('empty.jpg')), 'E_DECODE', /^empty\.jpg is not a readable image \(empty file/);
  });
  it('truncated JPEG -> E_DECODE (truncated JPEG)', async () => {
    await expectError(decode(p('truncated.jpg')), 'E_DECODE', /^truncated\.jpg is not a readable image \(truncated JPEG\)/);
  });
  it('text named .png -> E_DECODE', async () => {
    await expectError(decode(p('text.png')), 'E_DECODE', /^text\.png is not a readable image \(not PNG data\)/);
  });
  it('SVG, PDF, GIF and RAW -> E_UNSUPPORTED', async () => {
    await expectError(decode(p('drawing.svg')), 'E_UNSUPPORTED', /^drawing\.svg is an SVG drawing/);
    await expectError(decode(p('doc.pdf')), 'E_UNSUPPORTED', /^doc\.pdf is a PDF/);
    await expectError(decode(p('anim.gif')), 'E_UNSUPPORTED', /^anim\.gif is a GIF/);
    await expectError(decode(p('photo.dng')), 'E_UNSUPPORTED', /camera RAW/);
  });
  it('multi-page TIFF -> E_UNSUPPORTED', async () => {
    await expectError(decode(p('pages.tif')), 'E_UNSUPPORTED', /^pages\.tif has 3 pages/);
  });
  it('a header claiming 900 MP -> E_TOO_LARGE before any pixel is decoded', async () => {
    const t = Date.now();
    await expectError(decode(p('bomb.png')), 'E_TOO_LARGE', /^bomb\.png is 30000 x 30000 \(900 MP\), over the 200 MP limit/);
    expect(Date.now() - t).toBeLessThan(1000);
  });
  it('the pixel limit is configurable', async () => {
    await expectError(decode(p('a.png'), { maxPixels: 1000 }), 'E_TOO_LARGE', /over the 0 MP limit|over the/);
    const h = await probeImage(p('a.png'), { maxPixels: 1200 });
    expect(h.width * h.height).toBe(1200);
  });
  it('the error carries the full path in .file', async () => {
    const e = await expectError(decode(p('empty.jpg')), 'E_DECODE');
    expect(e.file).toBe(p('empty.jpg'));
    expect(e.toJSON()).toMatchObject({ code: 'E_DECODE', file: p('empty.jpg') });
  });
});

describe('decodeMask', () => {
  it('white = 1 (fill), black = 0', async () => {
    const m = await decodeMask(p('mask.png'), W, H);
    expect(m[6 * W + 10]).toBe(1);
    expect(m[0]).toBe(0);
    expect(m.reduce((a, b) => a + b, 0)).toBe(7 * 12);
  });
  it('size mismatch, empty and missing masks are E_MASK', async () => {
    await expectError(decodeMask(p('mask-small.png'), W, H, p('a.png')), 'E_MASK', /mask mask-small\.png is 20 x 20 but a\.png is 40 x 30/);
    await expectError(decodeMask(p('mask-empty.png'), W, H), 'E_MASK', /empty/);
    await expectError(decodeMask(p('missing-mask.png'), W, H), 'E_MASK', /does not exist/);
  });
});

describe('displayCopy', () => {
  it('downsizes to the longest side and keeps orientation', async () => {
    const d = await displayCopy(p('o6.png'), 16);
    expect(Math.max(d.width, d.height)).toBe(16);
    expect(d.width).toBeLessThan(d.height); // 40x30 rotated by orientation 6 is portrait
    expect(d.ext).toBe('jpg');
    const meta = await sharp(d.bytes).metadata();
    expect(meta.format).toBe('jpeg');
  });
});
