import fs from 'node:fs';
import zlib from 'node:zlib';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import type { RgbImage } from '../api.ts';
import { maxAbsDiff, meanAbsDiff, photoLike, sharpOf, tmpDir, toRgb16 } from '../../../test/fixtures/images/make.ts';
import { decode } from './decode.ts';
import { isInput, markInput } from './inputs.ts';
import { DOMParser } from '@xmldom/xmldom';
import { estimateJpegQuality, exifTiff, getExifOrientation, setExifPixelSize, getExifResolution, setExifResolution, spliceIccPng, xmpAddHistory } from './metadata.ts';
import { resolveFormat, writeFileAtomic, writeImage, writeLosses } from './writer.ts';

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

/** The processing history of an XMP packet as a photo app reads it: parsed as XML, by namespace. */
function historyOf(xmp: string): { action: string; parameters: string; softwareAgent: string; when: string }[] {
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: (m) => errors.push(m), fatalError: (m) => errors.push(m) } }).parseFromString(xmp.replace(/^\uFEFF/, ''), 'text/xml');
  expect(errors, 'the packet is well-formed XML').toEqual([]);
  const histories = doc.getElementsByTagNameNS('http://ns.adobe.com/xap/1.0/mm/', 'History');
  expect(histories.length, 'one xmpMM:History').toBe(1);
  const items = histories[0].getElementsByTagNameNS('http://www.w3.org/1999/02/22-rdf-syntax-ns#', 'li');
  const evt = 'http://ns.adobe.com/xap/1.0/sType/ResourceEvent#';
  return Array.from({ length: items.length }, (_, i) => {
    const li = items[i];
    const field = (n: string) => li.getElementsByTagNameNS(evt, n)[0]?.textContent ?? '';
    return { action: field('action'), parameters: field('parameters'), softwareAgent: field('softwareAgent'), when: field('when') };
  });
}

describe('xmpAddHistory: what made an output, in its XMP processing history', () => {
  const ev = { software: 'Restora 1.2.3', parameters: 'denoise σ 8.1, estimated (restora-denoise) → upscale ×2 (a & b <x>)', when: new Date('2026-12-05T12:00:00.123Z') };
  const want = { action: 'edited', parameters: ev.parameters, softwareAgent: 'Restora 1.2.3', when: '2026-12-05T12:00:00Z' };

  it('makes a packet when the source had none', () => {
    expect(historyOf(xmpAddHistory(undefined, ev))).toEqual([want]);
    expect(historyOf(xmpAddHistory('  ', ev))).toEqual([want]);
  });

  it("adds a history of its own to a camera's packet and keeps everything else", () => {
    const out = xmpAddHistory(XMP, ev);
    expect(historyOf(out)).toEqual([want]);
    expect(out).toContain('<dc:creator>Ada Lovelace</dc:creator>');
  });

  it("appends to the history an editor left (Lightroom's own prefixes, a packet wrapper), after its entries", () => {
    const lr =
      '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">\n <r:RDF xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n' +
      '  <r:Description r:about="" xmlns:mm="http://ns.adobe.com/xap/1.0/mm/" xmlns:e="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" mm:InstanceID="xmp.iid:1">\n' +
      '   <mm:History>\n    <r:Seq>\n     <r:li r:parseType="Resource"><e:action>saved</e:action><e:softwareAgent>Adobe Photoshop Lightroom Classic 13.0</e:softwareAgent><e:when>2026-11-01T10:00:00Z</e:when></r:li>\n    </r:Seq>\n   </mm:History>\n' +
      '  </r:Description>\n </r:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>';
    const out = xmpAddHistory(lr, ev);
    const h = historyOf(out);
    expect(h.map((e) => e.softwareAgent)).toEqual(['Adobe Photoshop Lightroom Classic 13.0', 'Restora 1.2.3']);
    expect(h[1]).toEqual(want);
    expect(out).toContain('mm:InstanceID="xmp.iid:1"');
    // an empty history element is filled in
    expect(historyOf(xmpAddHistory(lr.replace(/<mm:History>[\s\S]*<\/mm:History>/, '<mm:History/>'), ev))).toEqual([want]);
  });

  it("goes into the photo's own history, not one a Photoshop pantry keeps for a placed document; an empty sequence is filled in", () => {
    const pantry =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#">' +
      '<xmpMM:Pantry><rdf:Bag><rdf:li rdf:parseType="Resource"><xmpMM:InstanceID>xmp.iid:placed</xmpMM:InstanceID><xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource"><stEvt:action>created</stEvt:action><stEvt:softwareAgent>Placed doc</stEvt:softwareAgent></rdf:li></rdf:Seq></xmpMM:History></rdf:li></rdf:Bag></xmpMM:Pantry>' +
      '<xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource"><stEvt:action>saved</stEvt:action><stEvt:softwareAgent>Adobe Photoshop 25.0</stEvt:softwareAgent></rdf:li></rdf:Seq></xmpMM:History>' +
      '</rdf:Description></rdf:RDF></x:xmpmeta>';
    const out = xmpAddHistory(pantry, ev);
    const doc = new DOMParser().parseFromString(out, 'text/xml');
    const histories = Array.from({ length: doc.getElementsByTagNameNS('http://ns.adobe.com/xap/1.0/mm/', 'History').length }, (_, i) => doc.getElementsByTagNameNS('http://ns.adobe.com/xap/1.0/mm/', 'History')[i]);
    const agents = (h: Element) => Array.from({ length: h.getElementsByTagNameNS('http://ns.adobe.com/xap/1.0/sType/ResourceEvent#', 'softwareAgent').length }, (_, i) => h.getElementsByTagNameNS('http://ns.adobe.com/xap/1.0/sType/ResourceEvent#', 'softwareAgent')[i].textContent);
    expect(histories.map(agents)).toEqual([['Placed doc'], ['Adobe Photoshop 25.0', 'Restora 1.2.3']]);
    const emptySeq = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><xmpMM:History><rdf:Seq/></xmpMM:History></rdf:Description></rdf:RDF></x:xmpmeta>';
    expect(historyOf(xmpAddHistory(emptySeq, ev))).toEqual([want]);
  });

  it('leaves a packet it cannot place the entry in as it was', () => {
    expect(xmpAddHistory('<not-xmp/>', ev)).toBe('<not-xmp/>');
    expect(xmpAddHistory('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF', ev)).toBe('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF');
  });
});

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
      expect(m.xmpAsString ?? m.xmp?.toString('utf8'), `${fmt}: no history asked for, none added`).not.toContain('History');
      // the pixels were converted back to P3 for the embedded profile: decoding gives the same sRGB
      const back = await decode(out);
      expect(meanAbsDiff(back.data, img.data), fmt).toBeLessThan(fmt === 'png' ? 1.5 / 255 : 3 / 255);
    }
  });

  it('adds the history it is given to the XMP of JPEG, PNG, WebP and TIFF, with or without XMP in the source', async () => {
    const history = { software: 'Restora 9.9.9', parameters: 'denoise σ 25.0 (restora-denoise)', when: new Date('2026-12-05T12:00:00Z') };
    const camera = await decode(p('camera.jpg'));
    const plain = await decode(p('deep.png'));
    for (const fmt of ['jpeg', 'png', 'webp', 'tiff'] as const) {
      for (const [name, img] of [['camera', camera], ['plain', plain]] as const) {
        const out = await writeImage(img, p(`history-${name}.${fmt}`), { format: fmt, history });
        const xmp = (await sharp(out).metadata()).xmpAsString ?? '';
        expect(historyOf(xmp), `${name} as ${fmt}`).toEqual([{ action: 'edited', parameters: history.parameters, softwareAgent: 'Restora 9.9.9', when: '2026-12-05T12:00:00Z' }]);
        if (name === 'camera') expect(xmp).toContain('Ada Lovelace');
      }
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

  it('publish: never over a file already there; the next name is used, the temp removed', async () => {
    fs.writeFileSync(p('pub.png'), 'not ours');
    fs.writeFileSync(p('pub-1.png'), 'not ours either');
    const names = (t: string) => (t.endsWith('pub.png') ? p('pub-1.png') : p('pub-2.png'));
    expect(await writeFileAtomic(p('pub.png'), 'mine', { nextName: names })).toBe(p('pub-2.png'));
    expect(fs.readFileSync(p('pub.png'), 'utf8')).toBe('not ours');
    expect(fs.readFileSync(p('pub-1.png'), 'utf8')).toBe('not ours either');
    expect(fs.readFileSync(p('pub-2.png'), 'utf8')).toBe('mine');
    // what the caller calls its own is replaced in place
    expect(await writeFileAtomic(p('pub.png'), 'mine again', { nextName: names, mayReplace: (t) => t === p('pub.png') })).toBe(p('pub.png'));
    expect(fs.readFileSync(p('pub.png'), 'utf8')).toBe('mine again');
    // no name left: E_WRITE naming the file, nothing replaced
    await expectError(writeFileAtomic(p('pub-1.png'), 'x', { nextName: () => undefined }), 'E_WRITE', /pub-1\.png: the name is taken/);
    expect(fs.readFileSync(p('pub-1.png'), 'utf8')).toBe('not ours either');
    expect(noTemps()).toEqual([]);
  });

  it('publish without hard links (FAT, some shares): looks before it renames, so an existing file is still kept', async () => {
    for (const code of ['EPERM', 'ENOTSUP', 'EXDEV', 'ENOSYS', 'EISDIR', 'EACCES']) {
      vi.spyOn(fsp, 'link').mockRejectedValue(Object.assign(new Error(`${code}: link`), { code }));
      fs.writeFileSync(p(`fat-${code}.png`), 'not ours');
      const out = await writeFileAtomic(p(`fat-${code}.png`), 'mine', { nextName: () => p(`fat-${code}-1.png`) });
      expect(out, code).toBe(p(`fat-${code}-1.png`));
      expect(fs.readFileSync(p(`fat-${code}.png`), 'utf8')).toBe('not ours');
      expect(fs.readFileSync(out, 'utf8')).toBe('mine');
      vi.restoreAllMocks();
    }
    expect(noTemps()).toEqual([]);
  });

  it('other failures -> E_WRITE naming the file', async () => {
    fs.writeFileSync(p('afile'), 'x');
    await expectError(writeFileAtomic(p('afile/inside.png'), 'x'), 'E_WRITE', /inside\.png/);
  });
});

/** A PNG whose resolution lives only in its pHYs chunk (no EXIF), set to `dpi`. */
function withPhys(png: Buffer, dpi: number): Buffer {
  const pxPerM = Math.round(dpi / 0.0254);
  const parts: Buffer[] = [png.subarray(0, 8)];
  let off = 8;
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString('latin1');
    if (type !== 'pHYs' && type !== 'eXIf') parts.push(png.subarray(off, off + 12 + len));
    if (type === 'IHDR') {
      const body = Buffer.alloc(13);
      body.write('pHYs', 0, 'latin1');
      body.writeUInt32BE(pxPerM, 4);
      body.writeUInt32BE(pxPerM, 8);
      body[12] = 1; // metre
      const head = Buffer.alloc(4);
      head.writeUInt32BE(9);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32(body) >>> 0);
      parts.push(head, body, crc);
    }
    off += 12 + len;
  }
  return Buffer.concat(parts);
}

/** Resolution as a reader sees it: sharp's density, or for WebP (sharp reads none) EXIF's. */
async function dpiOf(file: string): Promise<number | undefined> {
  const m = await sharp(file).metadata();
  if (m.format === 'webp') return m.exif ? getExifResolution(exifTiff(m.exif)!) : undefined;
  return m.density;
}

const count = (buf: Buffer, what: string) => {
  let n = 0;
  for (let i = buf.indexOf(what, 0, 'latin1'); i >= 0; i = buf.indexOf(what, i + 1, 'latin1')) n++;
  return n;
};

/** A minimal ICC v2 grey profile (GRAY data, XYZ PCS, kTRC = gamma). */
function greyIcc(gamma: number): Buffer {
  const s15 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(Math.round(v * 65536));
    return b;
  };
  const name = Buffer.from('Restora test grey\0', 'latin1');
  const nameLen = Buffer.alloc(4);
  nameLen.writeUInt32BE(name.length);
  const desc = Buffer.concat([Buffer.from('desc\0\0\0\0', 'latin1'), nameLen, name, Buffer.alloc(78)]);
  const wtpt = Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), s15(0.9642), s15(1), s15(0.8249)]);
  const curv = Buffer.alloc(14);
  curv.write('curv', 0, 'latin1');
  curv.writeUInt32BE(1, 8);
  curv.writeUInt16BE(Math.round(gamma * 256), 12);
  const cprt = Buffer.from('text\0\0\0\0No copyright\0', 'latin1');
  const tags: [string, Buffer][] = [['desc', desc], ['wtpt', wtpt], ['kTRC', curv], ['cprt', cprt]];
  const table = Buffer.alloc(4 + 12 * tags.length);
  table.writeUInt32BE(tags.length);
  const bodies: Buffer[] = [];
  let off = 128 + table.length;
  tags.forEach(([sig, data], i) => {
    const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
    table.write(sig, 4 + 12 * i, 'latin1');
    table.writeUInt32BE(off, 8 + 12 * i);
    table.writeUInt32BE(data.length, 12 + 12 * i);
    bodies.push(padded);
    off += padded.length;
  });
  const head = Buffer.alloc(128);
  head.writeUInt32BE(off, 0);
  head.writeUInt32BE(0x02100000, 8);
  head.write('mntrGRAYXYZ ', 12, 'latin1');
  head.write('acsp', 36, 'latin1');
  Buffer.concat([s15(0.9642), s15(1), s15(0.8249)]).copy(head, 68);
  return Buffer.concat([head, table, ...bodies]);
}

/** What a per-channel model does to a grey photo: the three planes drift apart a little. */
function speckle(img: RgbImage): RgbImage {
  const n = img.width * img.height;
  const data = Float32Array.from(img.data);
  for (let i = 0; i < n; i++) {
    const d = (((i * 7) % 9) - 4) / 255;
    data[i] += d;
    data[2 * n + i] -= d;
  }
  return { ...img, data };
}

/** Stored samples of a file's first channel, without colour management. */
async function storedGrey(file: string): Promise<number[]> {
  const m = await sharp(file).metadata();
  const deep = m.depth === 'ushort';
  const buf = await sharp(file, { ignoreIcc: true }).toColourspace(deep ? 'grey16' : 'b-w').raw(deep ? { depth: 'ushort' } : {}).toBuffer();
  return Array.from(deep ? new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2) : buf);
}

describe('resolution (dpi)', () => {
  beforeAll(async () => {
    await sharpOf(ref).withDensity(300).tiff({ compression: 'lzw' }).toFile(p('dpi300.tif'));
    await sharpOf(ref).withDensity(300).jpeg({ quality: 95 }).toFile(p('dpi300.jpg'));
    fs.writeFileSync(p('dpi300.png'), withPhys(await sharpOf(ref).png().toBuffer(), 300));
    await sharpOf(ref).withDensity(300).webp({ lossless: true }).toFile(p('dpi300.webp'));
  });

  it('the sources say 300 dpi (a PNG through pHYs only) and decode keeps it in meta', async () => {
    const png = await sharp(p('dpi300.png')).metadata();
    expect(png.exif).toBeUndefined();
    for (const src of ['dpi300.tif', 'dpi300.jpg', 'dpi300.png', 'dpi300.webp']) {
      expect(await dpiOf(p(src)), src).toBe(300);
      expect((await decode(p(src))).meta?.density, src).toBe(300);
    }
  });

  it('300-dpi TIFF, JPEG, PNG (pHYs only) and WebP come out at 300 dpi in TIFF, JPEG, PNG and WebP', async () => {
    for (const src of ['dpi300.tif', 'dpi300.jpg', 'dpi300.png', 'dpi300.webp']) {
      const img = await decode(p(src));
      for (const fmt of ['tiff', 'jpeg', 'png', 'webp'] as const) {
        const out = await writeImage(img, p(`dpi-out-${src}.${fmt}`), { format: fmt });
        expect(await dpiOf(out), `${src} -> ${fmt}`).toBe(300);
        const m = await sharp(out).metadata();
        if (fmt === 'tiff') expect(m.resolutionUnit).toBe('inch');
        // one EXIF block only: the source's replaces the one sharp writes for the density
        const bytes = fs.readFileSync(out);
        if (fmt === 'jpeg') expect(count(bytes, 'Exif\0\0'), `${src} -> jpeg`).toBe(1);
        if (fmt === 'png') expect(count(bytes, 'eXIf'), `${src} -> png`).toBe(1);
        if (fmt === 'webp') expect(count(bytes, 'EXIF'), `${src} -> webp`).toBe(1);
      }
    }
  });

  it('keeps the dpi number when the image is upscaled', async () => {
    const img = await decode(p('dpi300.tif'));
    const big: RgbImage = { width: W * 2, height: H * 2, data: photoLike(W * 2, H * 2, 3).data, meta: img.meta };
    const out = await writeImage(big, p('dpi-up.tif'));
    expect((await sharp(out).metadata()).width).toBe(W * 2);
    expect(await dpiOf(out)).toBe(300);
  });

  it('a source without a resolution gets 72 dpi in TIFF and PNG (not 25.4), and JPEG reads 72', async () => {
    const img: RgbImage = { ...ref, meta: { format: 'png', bitDepth: 8 } };
    for (const fmt of ['tiff', 'png', 'jpeg'] as const) {
      const out = await writeImage(img, p(`nodpi.${fmt}`), { format: fmt });
      expect(await dpiOf(out), fmt).toBe(72);
    }
  });

  it('keeps the camera EXIF in AVIF too (orientation 1, the output size and resolution)', async () => {
    if (!sharp.format.heif.output.buffer) return;
    const img = await decode(p('camera.jpg'));
    img.meta!.density = 240;
    const out = await writeImage(img, p('camera-exif.avif'), { format: 'avif', quality: 80 });
    const m = await sharp(out).metadata();
    expect(m.format).toBe('heif');
    expect(m.exif, 'avif exif').toBeDefined();
    expect(m.exif!.toString('latin1')).toContain('TestCam');
    expect(m.exif!.toString('latin1')).toContain('T-1000');
    const tiff = exifTiff(m.exif!)!;
    expect(getExifOrientation(tiff)).toBe(1);
    expect(getExifResolution(tiff)).toBe(240);
    expect([m.width, m.height]).toEqual([H, W]);
    expect(m.xmpAsString ?? m.xmp?.toString('utf8')).toContain('Ada Lovelace');
    expect(writeLosses(img, 'avif')).toEqual([]);
    // no resolution known but the EXIF's own: that one, not the 25.4 dpi libvips would put there
    const own: RgbImage = { ...img, meta: { ...img.meta!, density: undefined, exif: setExifResolution(exifTiff(img.meta!.exif!)!, 300) } };
    const out2 = await writeImage(own, p('camera-exif-300.avif'), { format: 'avif', quality: 80 });
    expect(getExifResolution(exifTiff((await sharp(out2).metadata()).exif!)!)).toBe(300);
  });

  it('TIFF cannot hold the EXIF: the output says so when the source had EXIF, and only then', async () => {
    const img = await decode(p('camera.jpg'));
    const out = await writeImage(img, p('camera-exif.tif'), { format: 'tiff' });
    expect((await sharp(out).metadata()).exif).toBeUndefined(); // what the note is about
    expect(writeLosses(img, 'tiff')).toEqual(['EXIF (camera, lens, date, exposure) not kept: Restora cannot write EXIF into TIFF']);
    expect(writeLosses(img, 'tif')).toHaveLength(1);
    for (const fmt of ['jpeg', 'png', 'webp', 'avif']) expect(writeLosses(img, fmt), fmt).toEqual([]);
    expect(writeLosses(ref, 'tiff'), 'no EXIF in the source').toEqual([]);
  });

  it('camera EXIF is kept with the resolution set (orientation still 1)', async () => {
    const img = await decode(p('camera.jpg'));
    img.meta!.density = 240;
    for (const fmt of ['jpeg', 'png', 'webp'] as const) {
      const out = await writeImage(img, p(`camera-dpi.${fmt}`), { format: fmt, quality: 95 });
      const m = await sharp(out).metadata();
      expect(m.exif!.toString('latin1'), fmt).toContain('TestCam');
      expect(getExifOrientation(exifTiff(m.exif!)!), fmt).toBe(1);
      expect(await dpiOf(out), fmt).toBe(240);
    }
  });

  it('setExifResolution adds the tags to an EXIF block without them, keeping the rest', () => {
    for (const le of [true, false]) {
      // IFD0: Make (ASCII, out of line) and Orientation 6; no resolution
      const b = Buffer.alloc(8 + 2 + 2 * 12 + 4 + 8);
      const w16 = (v: number, o: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
      const w32 = (v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
      b.write(le ? 'II*\0' : 'MM\0*', 0, 'latin1');
      w32(8, 4);
      w16(2, 8);
      w16(0x010f, 10); w16(2, 12); w32(8, 14); w32(38, 18);
      w16(0x0112, 22); w16(3, 24); w32(1, 26); w16(6, 30);
      w32(0, 34);
      b.write('TestCam\0', 38, 'latin1');
      expect(getExifResolution(b)).toBeUndefined();
      const out = setExifResolution(b, 300);
      expect(getExifResolution(out)).toBe(300);
      expect(getExifOrientation(out)).toBe(6);
      expect(out.toString('latin1')).toContain('TestCam');
      expect(getExifResolution(setExifResolution(out, 96))).toBe(96); // patched in place now
      expect(setExifResolution(out, 96).length).toBe(out.length);
    }
  });
});

describe('greyscale sources', () => {
  const n = W * H;
  const g8 = Buffer.from(Array.from({ length: n }, (_, i) => Math.round(ref.data[i] * 255)));
  const g16 = Uint16Array.from({ length: n }, (_, i) => Math.round(ref.data[i] * 65535));
  const ga = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) {
    ga[2 * i] = g8[i];
    ga[2 * i + 1] = (i * 13) % 256;
  }
  const grey = (b: Buffer | Uint16Array, ch: 1 | 2 = 1) => sharp(b, { raw: { width: W, height: H, channels: ch } });

  beforeAll(async () => {
    await grey(g8).toColourspace('b-w').jpeg({ quality: 95 }).toFile(p('grey.jpg'));
    await grey(g8).toColourspace('b-w').png().toFile(p('grey.png'));
    await grey(g16).toColourspace('grey16').png().toFile(p('grey16.png'));
    await grey(ga, 2).toColourspace('b-w').png().toFile(p('grey-alpha.png'));
    fs.writeFileSync(p('g10.icc'), greyIcc(1.0));
    await grey(g8).toColourspace('b-w').png().toBuffer().then((b) => fs.writeFileSync(p('grey-icc.png'), spliceIccPng(b, greyIcc(1.0))));
    await grey(g16).toColourspace('grey16').png().toBuffer().then((b) => fs.writeFileSync(p('grey16-icc.png'), spliceIccPng(b, greyIcc(1.0))));
  });

  it('decode marks grey sources (pixels stay RGB) and not RGB ones', async () => {
    for (const src of ['grey.jpg', 'grey.png', 'grey16.png', 'grey-alpha.png']) {
      const img = await decode(p(src));
      expect(img.meta?.grey, src).toBe(true);
      expect(img.data.length).toBe(3 * n);
    }
    expect((await decode(p('camera.jpg'))).meta?.grey).toBeUndefined();
    expect((await decode(p('deep.png'))).meta?.grey).toBeUndefined();
  });

  it('grey JPEG, PNG and 16-bit PNG come back as 1 channel at their depth, the mean of the planes', async () => {
    const cases = [['grey.jpg', 'b-w', 'uchar'], ['grey.png', 'b-w', 'uchar'], ['grey16.png', 'grey16', 'ushort']] as const;
    for (const [src, space, depth] of cases) {
      const img = speckle(await decode(p(src)));
      const out = await writeImage(img, p(`grey-out-${src}`), { format: 'keep' });
      const m = await sharp(out).metadata();
      expect([m.channels, m.space, m.depth], src).toEqual([1, space, depth]);
      if (src.endsWith('.png')) {
        const max = depth === 'ushort' ? 65535 : 255;
        const want = Array.from({ length: n }, (_, i) => Math.round(Math.min(1, Math.max(0, (img.data[i] + img.data[n + i] + img.data[2 * n + i]) / 3)) * max));
        expect(maxAbsDiff(await storedGrey(out), want), src).toBe(0);
      }
    }
  });

  it('grey sources as TIFF are grey too (8 and 16 bit)', async () => {
    for (const [src, space, depth] of [['grey.png', 'b-w', 'uchar'], ['grey16.png', 'grey16', 'ushort']] as const) {
      const out = await writeImage(speckle(await decode(p(src))), p(`grey-out-${src}.tif`));
      const m = await sharp(out).metadata();
      expect([m.channels, m.space, m.depth], src).toEqual([1, space, depth]);
    }
  });

  it('grey + alpha PNG comes back with 2 channels; JPEG flattens it to 1', async () => {
    const img = speckle(await decode(p('grey-alpha.png')));
    const m = await sharp(await writeImage(img, p('grey-alpha-out.png'))).metadata();
    expect([m.channels, m.space, m.hasAlpha]).toEqual([2, 'b-w', true]);
    const back = await decode(p('grey-alpha-out.png'));
    expect(maxAbsDiff(back.alpha!, img.alpha!)).toBeLessThanOrEqual(1e-6);
    const j = await sharp(await writeImage(img, p('grey-alpha-out.jpg'))).metadata();
    expect([j.channels, j.space]).toEqual([1, 'b-w']);
  });

  it('WebP has no grey mode: RGB with equal channels, no colour speckle', async () => {
    const img = speckle(await decode(p('grey.png')));
    const out = await writeImage(img, p('grey-out.webp'), { quality: 100 });
    const back = await decode(out);
    expect(back.meta?.grey).toBeUndefined();
    expect(maxAbsDiff(back.data.subarray(0, n), back.data.subarray(n, 2 * n))).toBe(0);
    expect(maxAbsDiff(back.data.subarray(0, n), back.data.subarray(2 * n))).toBe(0);
  });

  it('an RGB source, or an image without grey meta, stays RGB', async () => {
    const rgb = await sharp(await writeImage(await decode(p('camera.jpg')), p('rgb-stays.jpg'))).metadata();
    expect([rgb.channels, rgb.space]).toEqual([3, 'srgb']);
    const flat = speckle(await decode(p('grey.png')));
    delete flat.meta!.grey;
    const m = await sharp(await writeImage(flat, p('no-grey-meta.png'))).metadata();
    expect(m.channels).toBe(3);
    const bare = await sharp(await writeImage({ width: W, height: H, data: flat.data }, p('bare.png'))).metadata();
    expect(bare.channels).toBe(3);
  });

  it('a grey profile is kept on grey output: 8-bit pixels converted back to it, 16-bit as they were', async () => {
    const icc = greyIcc(1.0);
    for (const [src, fmt] of [['grey-icc.png', 'png'], ['grey-icc.png', 'jpeg'], ['grey-icc.png', 'tiff'], ['grey16-icc.png', 'png'], ['grey16-icc.png', 'tiff'], ['grey16-icc.png', 'jpeg']] as const) {
      const img = await decode(p(src));
      expect(img.meta?.icc?.equals(icc)).toBe(true);
      const out = await writeImage(img, p(`icc-out-${src}.${fmt}`), { format: fmt, quality: 100 });
      const m = await sharp(out).metadata();
      expect(m.channels, `${src} ${fmt}`).toBe(1);
      expect(m.icc?.equals(icc), `${src} ${fmt} icc`).toBe(true);
      const stored = await storedGrey(out);
      const srcStored = await storedGrey(p(src));
      const scale = m.depth === 'ushort' ? 1 : srcStored.some((v) => v > 255) ? 1 / 257 : 1;
      const tol = fmt === 'jpeg' ? 2 : m.depth === 'ushort' ? 0 : 1;
      expect(maxAbsDiff(stored, srcStored.map((v) => Math.round(v * scale))), `${src} ${fmt}`).toBeLessThanOrEqual(tol);
    }
    // RGB output cannot carry a grey profile: sRGB instead
    const w = await sharp(await writeImage(await decode(p('grey-icc.png')), p('icc-out.webp'), { quality: 100 })).metadata();
    expect(w.icc?.subarray(16, 20).toString('latin1')).toBe('RGB ');
  });
});


describe('JPEG quality', () => {
  it('estimates the quality a JPEG was saved at from its table (libjpeg scaling), 8-bit tables', async () => {
    for (const q of [30, 50, 75, 85, 92, 98, 100]) {
      const jpeg = await sharpOf(ref).jpeg({ quality: q, mozjpeg: false }).toBuffer();
      expect(Math.abs(estimateJpegQuality(jpeg)! - q), `q${q}`).toBeLessThanOrEqual(1);
    }
    expect(estimateJpegQuality(Buffer.from('not a jpeg'))).toBeUndefined();
    // no table before the scan (truncated after SOI): unknown, not a guess
    expect(estimateJpegQuality(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]))).toBeUndefined();
  });

  it('JPEG output without a quality keeps a higher source quality (q98 stays about q98); 92 otherwise; a given quality wins', async () => {
    const src = await decode(p('camera.jpg')); // saved at q98
    expect(src.meta?.jpegQuality).toBe(98);
    const kept = await writeImage(src, p('q-kept.jpg'), { format: 'jpeg' });
    expect(estimateJpegQuality(fs.readFileSync(kept))).toBe(98);
    const given = await writeImage(src, p('q-given.jpg'), { format: 'jpeg', quality: 80 });
    expect(estimateJpegQuality(fs.readFileSync(given))).toBe(80);
    fs.writeFileSync(p('q70.jpg'), await sharpOf(ref).jpeg({ quality: 70 }).toBuffer());
    const low = await writeImage(await decode(p('q70.jpg')), p('q-low.jpg'), { format: 'jpeg' });
    expect(estimateJpegQuality(fs.readFileSync(low))).toBe(92);
    // only JPEG sources carry one
    const png = await decode(p('deep.png'));
    expect(png.meta?.jpegQuality).toBeUndefined();
  });
});

describe('EXIF pixel size', () => {
  const pixelSize = (tiff: Buffer): [number, number] | undefined => {
    // the Exif IFD's PixelXDimension / PixelYDimension, as a reader finds them
    const le = tiff[0] === 0x49;
    const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
    const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
    const ifd0 = u32(4);
    let exif = 0;
    for (let i = 0; i < u16(ifd0); i++) if (u16(ifd0 + 2 + i * 12) === 0x8769) exif = u32(ifd0 + 2 + i * 12 + 8);
    if (!exif) return undefined;
    const v: number[] = [];
    for (let i = 0; i < u16(exif); i++) {
      const e = exif + 2 + i * 12;
      if (u16(e) === 0xa002 || u16(e) === 0xa003) v.push(u16(e + 2) === 3 ? u16(e + 8) : u32(e + 8));
    }
    return v.length === 2 ? [v[0], v[1]] : undefined;
  };

  it('an output says its own size in EXIF, not the source’s (an upscale made it larger)', async () => {
    const src = await sharpOf(ref).withExif({ IFD0: { Make: 'TestCam' }, IFD2: { PixelXDimension: String(W), PixelYDimension: String(H) } }).jpeg().toBuffer();
    fs.writeFileSync(p('dims.jpg'), src);
    expect(pixelSize(exifTiff((await sharp(src).metadata()).exif!)!)).toEqual([W, H]);
    const img = await decode(p('dims.jpg'));
    const big: RgbImage = { ...photoLike(W * 4, H * 4, 3), meta: img.meta };
    for (const f of ['jpeg', 'png', 'webp'] as const) {
      const out = await writeImage(big, p(`dims-x4.${f}`), { format: f });
      const m = await sharp(out).metadata();
      expect(pixelSize(exifTiff(m.exif!)!), f).toEqual([W * 4, H * 4]);
      expect(m.exif!.includes(Buffer.from('TestCam')), f).toBe(true);
    }
  });

  it('setExifPixelSize widens a SHORT tag to LONG for a size over 65535, and leaves blocks without the tags alone', () => {
    // II*, IFD0 at 8 with one entry (ExifIFD -> 26), Exif IFD with PixelXDimension/PixelYDimension as SHORT
    const b = Buffer.alloc(26 + 2 + 24 + 4);
    b.write('II*\0', 0, 'latin1');
    b.writeUInt32LE(8, 4);
    b.writeUInt16LE(1, 8);
    b.writeUInt16LE(0x8769, 10); b.writeUInt16LE(4, 12); b.writeUInt32LE(1, 14); b.writeUInt32LE(26, 18);
    b.writeUInt32LE(0, 22);
    b.writeUInt16LE(2, 26);
    b.writeUInt16LE(0xa002, 28); b.writeUInt16LE(3, 30); b.writeUInt32LE(1, 32); b.writeUInt16LE(100, 36);
    b.writeUInt16LE(0xa003, 40); b.writeUInt16LE(3, 42); b.writeUInt32LE(1, 44); b.writeUInt16LE(80, 48);
    expect(pixelSize(setExifPixelSize(b, 70000, 400))).toEqual([70000, 400]);
    expect(setExifPixelSize(b, 70000, 400).readUInt16LE(30)).toBe(4); // now a LONG
    expect(pixelSize(b)).toEqual([100, 80]); // the input is not changed
    const bare = Buffer.from('II*\0\x08\0\0\0\0\0\0\0\0\0', 'latin1');
    expect(setExifPixelSize(bare, 10, 10).equals(bare)).toBe(true);
  });
});
