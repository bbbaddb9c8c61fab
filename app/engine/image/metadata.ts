// Carrying EXIF through: sharp can only copy EXIF from an encoded input, and our output is built
// from raw pixels, so the writer splices the original EXIF block (verbatim, orientation reset to 1
// because the pixels are already upright) into the encoded JPEG, PNG or WebP bytes.
// TIFF output cannot carry EXIF (libvips limitation); HEIF/AVIF output keeps ICC and XMP only.
import zlib from 'node:zlib';

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

/** EXIF as sharp reports it ("Exif\0\0" + TIFF) -> the bare TIFF structure ("II*\0..." / "MM\0*..."). */
export function exifTiff(exif: Buffer): Buffer | undefined {
  const b = exif.subarray(0, 6).equals(EXIF_HEADER) ? exif.subarray(6) : exif;
  if (b.length < 8) return undefined;
  const magic = b.subarray(0, 4).toString('latin1');
  return magic === 'II*\0' || magic === 'MM\0*' ? b : undefined;
}

/** A copy of a bare-TIFF EXIF block with IFD0's Orientation (0x0112) set to `value` (if present). */
export function setExifOrientation(tiff: Buffer, value = 1): Buffer {
  const b = Buffer.from(tiff);
  const le = b[0] === 0x49;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const ifd = u32(4);
  if (ifd + 2 > b.length) return b;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > b.length) break;
    if (u16(e) === 0x0112 && u16(e + 2) === 3) {
      if (le) b.writeUInt16LE(value, e + 8);
      else b.writeUInt16BE(value, e + 8);
    }
  }
  return b;
}

/** Read IFD0's Orientation from a bare-TIFF EXIF block (undefined when absent). */
export function getExifOrientation(tiff: Buffer): number | undefined {
  const le = tiff[0] === 0x49;
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const ifd = le ? tiff.readUInt32LE(4) : tiff.readUInt32BE(4);
  if (ifd + 2 > tiff.length) return undefined;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    if (u16(e) === 0x0112) return u16(e + 8);
  }
  return undefined;
}

/** XMP packet with tiff:Orientation reset to 1 (attribute or element form). */
export function xmpResetOrientation(xmp: string): string {
  return xmp
    .replace(/(tiff:Orientation\s*=\s*["'])\d(["'])/g, '$11$2')
    .replace(/(<tiff:Orientation>)\s*\d\s*(<\/tiff:Orientation>)/g, '$11$2');
}

/** Insert an APP1 Exif segment right after SOI. Blocks over 64 KB cannot fit a segment: dropped. */
export function spliceExifJpeg(jpeg: Buffer, tiff: Buffer): Buffer {
  const payload = Buffer.concat([EXIF_HEADER, tiff]);
  if (payload.length + 2 > 0xffff || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  const seg = Buffer.alloc(4);
  seg[0] = 0xff;
  seg[1] = 0xe1;
  seg.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), seg, payload, jpeg.subarray(2)]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Insert an eXIf chunk before the first IDAT (PNG 1.5 extension; read by exiftool, browsers, libvips). */
export function spliceExifPng(png: Buffer, tiff: Buffer): Buffer {
  let off = 8;
  while (off + 8 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString('latin1');
    if (type === 'IDAT') return Buffer.concat([png.subarray(0, off), pngChunk('eXIf', tiff), png.subarray(off)]);
    off += 12 + len;
  }
  return png;
}

function riffChunk(fourcc: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(fourcc, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/**
 * Add an EXIF chunk to a WebP file: converts a simple (VP8/VP8L) file to the extended (VP8X)
 * layout when needed, sets the EXIF flag, and places the chunk before any XMP chunk.
 */
export function spliceExifWebp(webp: Buffer, tiff: Buffer, width: number, height: number): Buffer {
  if (webp.subarray(0, 4).toString('latin1') !== 'RIFF' || webp.subarray(8, 12).toString('latin1') !== 'WEBP') return webp;
  const chunks: { id: string; data: Buffer }[] = [];
  let off = 12;
  while (off + 8 <= webp.length) {
    const id = webp.subarray(off, off + 4).toString('latin1');
    const len = webp.readUInt32LE(off + 4);
    chunks.push({ id, data: webp.subarray(off + 8, off + 8 + len) });
    off += 8 + len + (len & 1);
  }
  let vp8x = chunks.find((c) => c.id === 'VP8X');
  if (!vp8x) {
    const d = Buffer.alloc(10);
    d.writeUIntLE(width - 1, 4, 3);
    d.writeUIntLE(height - 1, 7, 3);
    const alpha = chunks.some((c) => c.id === 'VP8L' && c.data.length > 4 && (c.data[4] & 0x10) !== 0);
    if (alpha) d[0] |= 0x10;
    vp8x = { id: 'VP8X', data: d };
    chunks.unshift(vp8x);
  } else {
    vp8x.data = Buffer.from(vp8x.data);
  }
  vp8x.data[0] |= 0x08; // EXIF present
  const withoutExif = chunks.filter((c) => c.id !== 'EXIF');
  const xmpAt = withoutExif.findIndex((c) => c.id === 'XMP ');
  const exif = { id: 'EXIF', data: tiff };
  if (xmpAt >= 0) withoutExif.splice(xmpAt, 0, exif);
  else withoutExif.push(exif);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), ...withoutExif.map((c) => riffChunk(c.id, c.data))]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** True for an ICC profile whose data colour space is RGB (one we can embed on RGB output). */
export function iccIsRgb(icc: Buffer | undefined): boolean {
  return !!icc && icc.length >= 128 && icc.subarray(16, 20).toString('latin1') === 'RGB ';
}
