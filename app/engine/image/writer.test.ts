import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import type { RgbImage } from '../api.ts';
import { maxAbsDiff, meanAbsDiff, photoLike, sharpOf, tmpDir, toRgb16 } from '../../../test/fixtures/images/make.ts';
import { decode } from './decode.ts';
import { isInput, markInput } from './inputs.ts';
import { exifTiff, getExifOrientation } from './metadata.ts';
import { resolveFormat, writeFileAtomic, writeImage } from './writer.ts';

const { dir, cleanup } = tmpDir();
const p = (n: string) => path.join(dir, n);
const W = 36;
const H = 24;
const ref = photoLike(W, H, 11);
const XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" tiff:Orientation="6"><dc:creator>Ada Lovelace</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>';

async function expectError(promise: Promise<unknown>, code: string, text?: RegExp): Promise<RestoraError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(RestoraError);
    expect((e as RestoraError).code).toBe(code);
    if (text) expect((e as RestoraError).message).toMatch(text);
    return e as RestoraError;
  }
  throw new Error(`expected ${code}`);
}

const noTemps = () => fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).includes('.restora-') && String(f).endsWith('.tmp'));

beforeAll(async () => {
  // a camera-like JPEG: EXIF (make, orientation 6), XMP and a Display P3 profile
  await sharpOf(ref)
    .withIccProfile('p3')
    .withExif({ IFD0: { Make: 'TestCam', Model: 'T-1000' } })
    .withMetadata({ orientation: 6 })
    .withXmp(XMP)
    .jpeg({ quality: 98, chromaSubsampling: '4:4:4' })
    .toFile(p('camera.jpg'));
  await sharp(toRgb16(ref), { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toFile(p('deep.png'));
  await sharp(toRgb16(ref), { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toFile(p('deep.tif'));
  const rgba = Buffer.alloc(W * H * 4, 0);
  for (let i = 0; i < W * H; i++) {
    rgba[4 * i] = i % 256;
    rgba[4 * i + 1] = 100;
    rgba[4 * i + 2] = 50;
    rgba[4 * i + 3] = (i * 13) % 256;
  }
  await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(p('alpha.png'));
});
afterAll(cleanup);
afterEach(() => vi.restoreAllMocks());

describe('writeImage', () => {
  it('round-trips 8-bit PNG within quantisation', async () => {
    const out = await writeImage(ref, p('out/plain.png'));
    expect(out).toBe(p('out/plain.png'));
    const back = await decode(out);
    expect(maxAbsDiff(back.data, ref.data)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    expect(noTemps()).toEqual([]);
  });

  it('16-bit PNG and TIFF in give 16-bit out', async () => {
    for (const [src, ext] of [['deep.png', 'png'], ['deep.tif', 'tif']]) {
      const img = await decode(p(src));
      const out = await writeImage(img, p(`deep-out.${ext}`), { format: 'keep' });
      const m = await sharp(out).metadata();
      expect(m.depth, src).toBe('ushort');
      const back = await decode(out);
      expect(back.meta?.bitDepth).toBe(16);
      expect(maxAbsDiff(back.data, img.data)).toBeLessThanOrEqual(0.5 / 65535 + 1e-7);
    }
  });

  it('keeps EXIF (orientation reset to 1), XMP and the original ICC profile in JPEG, PNG and WebP', async () => {
    const img = await decode(p('camera.jpg'));
    expect(img.meta?.orientation).toBe(6);
    expect([img.width, img.height]).toEqual([H, W]); // upright
    for (const fmt of ['jpeg', 'png', 'webp'] as const) {
      const out = await writeImage(img, p(`camera-out.${fmt}`), { format: fmt, quality: fmt === 'webp' ? 100 : 95 });
      const m = await sharp(out).metadata();
      expect(m.format, fmt).toBe(fmt);
      expect(m.exif, `${fmt} exif`).toBeDefined();
      expect(m.exif!.toString('latin1')).toContain('TestCam');
      expect(getExifOrientation(exifTiff(m.exif!)!), fmt).toBe(1);
      expect(m.orientation ?? 1).toBe(1);
      expect([m.width, m.height]).toEqual([H, W]);
      expect(m.icc?.equals(img.meta!.icc!), `${fmt} icc`).toBe(true);
      expect(m.xmpAsString ?? m.xmp?.toString('utf8'), `${fmt} xmp`).toContain('Ada Lovelace');
      expect(m.xmpAsString ?? m.xmp?.toString('utf8')).toContain('tiff:Orientation="1"');
      // the pixels were converted back to P3 for the embedded profile: decoding gives the same sRGB
      const back = await decode(out);
      expect(meanAbsDiff(back.data, img.data), fmt).toBeLessThan(fmt === 'png' ? 1.5 / 255 : 3 / 255);
    }
  });

  it('TIFF keeps ICC and XMP (EXIF cannot go into TIFF)', async () => {
    const img = await decode(p('camera.jpg'));
    const out = await writeImage(img, p('camera-out.tif'));
    const m = await sharp(out).metadata();
    expect(m.icc?.equals(img.meta!.icc!)).toBe(true);
    expect(m.xmpAsString ?? m.xmp?.toString('utf8')).toContain('Ada Lovelace');
  });

  it('carries alpha through unchanged', async () => {
    const img = await decode(p('alpha.png'));
    for (const f of ['png', 'tiff', 'webp'] as const) {
      const out = await writeImage(img, p(`alpha-out.${f}`), { format: f, quality: 100 });
      const back = await decode(out);
      expect(back.alpha, f).toBeDefined();
      expect(maxAbsDiff(back.alpha!, img.alpha!), f).toBeLessThanOrEqual(f === 'webp' ? 1 / 255 + 1e-6 : 1e-6);
    }
    const jpg = await writeImage(img, p('alpha-out.jpg'));
    expect((await sharp(jpg).metadata()).hasAlpha).toBe(false);
  });

  it('writes AVIF where the sharp build encodes HEIF, with ICC', async () => {
    if (!sharp.format.heif.output.buffer) return;
    const img = await decode(p('camera.jpg'));
    const out = await writeImage(img, p('camera-out.avif'), { quality: 90 });
    const m = await sharp(out).metadata();
    expect(m.format).toBe('heif');
    expect(m.compression).toBe('av1');
    expect(m.icc?.length).toBeGreaterThan(100);
    expect(meanAbsDiff((await decode(out)).data, img.data)).toBeLessThan(4 / 255);
  });

  it('16-bit with alpha round-trips in PNG', async () => {
    const n = W * H;
    const img: RgbImage = { ...ref, alpha: Float32Array.from({ length: n }, (_, i) => i / (n - 1)), meta: { format: 'png', bitDepth: 16 } };
    const back = await decode(await writeImage(img, p('deep-alpha.png')));
    expect(back.meta?.bitDepth).toBe(16);
    expect(maxAbsDiff(back.alpha!, img.alpha!)).toBeLessThanOrEqual(0.5 / 65535 + 1e-7);
    expect(maxAbsDiff(back.data, ref.data)).toBeLessThanOrEqual(0.5 / 65535 + 1e-7);
  });

  it('clips out-of-range values and NaN when writing', async () => {
    const img: RgbImage = { width: 2, height: 1, data: new Float32Array([-0.5, 1.5, NaN, 0.5, 2, -1]) };
    const back = await decode(await writeImage(img, p('clip.png')));
    expect(Array.from(back.data)).toEqual([0, 1, 0, 128 / 255, 1, 0].map((v) => Math.fround(v)));
  });

  it('refuses to write over an input, also through a symlink or a hard link', async () => {
    fs.copyFileSync(p('alpha.png'), p('orig.png'));
    const img = await decode(p('orig.png'));
    const before = fs.readFileSync(p('orig.png'));
    fs.symlinkSync(p('orig.png'), p('link.png'));
    fs.linkSync(p('orig.png'), p('hard.png'));
    for (const target of ['orig.png', 'link.png', 'hard.png']) {
      await expectError(writeImage(img, p(target)), 'E_WRITE', /refusing to write over the original/);
    }
    await expectError(writeFileAtomic(p('orig.png'), 'x'), 'E_WRITE');
    expect(fs.readFileSync(p('orig.png')).equals(before)).toBe(true);
  });

  it('a new file that got a deleted original\'s inode number is not an original', async () => {
    // file systems reuse the numbers of deleted files at once: the settings file, rewritten by
    // temp-and-rename, was refused as "the original settings.json" after test photos were deleted
    await writeFileAtomic(p('settings.json'), '{"a":1}');
    const s = fs.statSync(p('settings.json'));
    // an original that was opened, then deleted, under the same (dev, ino) but born earlier
    markInput(p('deleted-original.png'), { ...s, dev: s.dev, ino: s.ino, birthtimeMs: s.birthtimeMs ? s.birthtimeMs - 5000 : 0 } as fs.Stats);
    expect(isInput(p('settings.json'))).toBe(false);
    await writeFileAtomic(p('settings.json'), '{"a":2}');
    expect(fs.readFileSync(p('settings.json'), 'utf8')).toBe('{"a":2}');

    // the real sequence: decode an original, delete it, make new files (one may get its number)
    fs.copyFileSync(p('alpha.png'), p('gone.png'));
    const img = await decode(p('gone.png'));
    const ino = fs.statSync(p('gone.png')).ino;
    fs.unlinkSync(p('gone.png'));
    for (let k = 0; k < 20; k++) {
      await writeFileAtomic(p(`later-${k}.json`), String(k));
      const reused = fs.statSync(p(`later-${k}.json`)).ino === ino;
      await writeFileAtomic(p(`later-${k}.json`), `${k} again`);
      await writeImage(img, p(`later-${k}.png`));
      if (reused) break;
    }
    // and the original's own path stays refused while nothing else is
    await expectError(writeImage(img, p('gone.png')), 'E_WRITE', /refusing to write over the original/);
  });

  it('resolves formats: keep, extension, aliases', () => {
    expect(resolveFormat('keep', '/x/a.png', 'jpeg')).toBe('jpeg');
    expect(resolveFormat(undefined, '/x/a.tif', 'jpeg')).toBe('tiff');
    expect(resolveFormat(undefined, '/x/a', 'webp')).toBe('webp');
    expect(resolveFormat('keep', '/x/a', 'heif')).toBe('avif');
    expect(resolveFormat('jpg', '/x/a', undefined)).toBe('jpeg');
    expect(() => resolveFormat('bmp', '/x/a', undefined)).toThrow(/unknown output format/);
  });
});

describe('writeFileAtomic', () => {
  it('writes strings and buffers, replacing atomically, creating folders', async () => {
    await writeFileAtomic(p('deep/nested/settings.json'), '{"a":1}');
    await writeFileAtomic(p('deep/nested/settings.json'), Buffer.from('{"a":2}'));
    expect(fs.readFileSync(p('deep/nested/settings.json'), 'utf8')).toBe('{"a":2}');
    expect(noTemps()).toEqual([]);
  });

  it('disk full -> E_NO_SPACE, temp file removed, old content intact', async () => {
    await writeFileAtomic(p('full.json'), 'old');
    const realOpen = fsp.open.bind(fsp);
    vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const fh = await realOpen(...args);
      if (String(args[0]).endsWith('.tmp')) {
        fh.writeFile = async () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        };
      }
      return fh;
    });
    await expectError(writeFileAtomic(p('full.json'), 'new'), 'E_NO_SPACE', /^cannot write full\.json: the disk is full/);
    expect(fs.readFileSync(p('full.json'), 'utf8')).toBe('old');
    expect(noTemps()).toEqual([]);
  });

  it('read-only folder -> E_READ_ONLY naming the file', async () => {
    vi.spyOn(fsp, 'open').mockRejectedValue(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }));
    await expectError(writeFileAtomic(p('ro/x.png'), 'x'), 'E_READ_ONLY', /^cannot write x\.png: the folder is read-only/);
    vi.restoreAllMocks();
    vi.spyOn(fsp, 'open').mockRejectedValue(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
    await expectError(writeImage(ref, p('ro/y.png')), 'E_READ_ONLY', /y\.png/);
  });

  it('other failures -> E_WRITE naming the file', async () => {
    fs.writeFileSync(p('afile'), 'x');
    await expectError(writeFileAtomic(p('afile/inside.png'), 'x'), 'E_WRITE', /inside\.png/);
  });
});
