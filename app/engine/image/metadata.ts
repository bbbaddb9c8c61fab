// Carrying EXIF through: sharp can only copy EXIF from an encoded input, and our output is built
// from raw pixels, so the writer splices the original EXIF block (verbatim, orientation reset to 1
// because the pixels are already upright) into the encoded JPEG, PNG or WebP bytes.
// TIFF output cannot carry EXIF (libvips limitation); HEIF/AVIF output keeps ICC and XMP only.
// Resolution: for JPEG and WebP sharp stores the density only in EXIF, so the spliced block
// replaces the one sharp wrote and gets its XResolution/YResolution set to the density.
import zlib from 'node:zlib';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

/** EXIF as sharp reports it ("Exif\0\0" + TIFF) -> the bare TIFF structure ("II*\0..." / "MM\0*..."). */
export function exifTiff(exif: Buffer): Buffer | undefined {
  const b = exif.subarray(0, 6).equals(EXIF_HEADER) ? exif.subarray(6) : exif;
  if (b.length < 8) return undefined;
  const magic = b.subarray(0, 4).toString('latin1');
  return magic === 'II*\0' || magic === 'MM\0*' ? b : undefined;
}

/** Reading and writing a bare-TIFF block in its own byte order ("II" little-endian, "MM" big-endian). */
interface ByteOrder {
  u16(b: Buffer, o: number): number;
  u32(b: Buffer, o: number): number;
  w16(b: Buffer, v: number, o: number): void;
  w32(b: Buffer, v: number, o: number): void;
}
const LITTLE: ByteOrder = { u16: (b, o) => b.readUInt16LE(o), u32: (b, o) => b.readUInt32LE(o), w16: (b, v, o) => void b.writeUInt16LE(v, o), w32: (b, v, o) => void b.writeUInt32LE(v, o) };
const BIG: ByteOrder = { u16: (b, o) => b.readUInt16BE(o), u32: (b, o) => b.readUInt32BE(o), w16: (b, v, o) => void b.writeUInt16BE(v, o), w32: (b, v, o) => void b.writeUInt32BE(v, o) };
const byteOrder = (tiff: Buffer): ByteOrder => (tiff[0] === 0x49 ? LITTLE : BIG);

/** Offsets of the 12-byte entries of the IFD at `ifd` that lie inside the block (none when it does not). */
function ifdEntries(tiff: Buffer, bo: ByteOrder, ifd: number): number[] {
  if (ifd + 2 > tiff.length) return [];
  const out: number[] = [];
  for (let i = 0, n = bo.u16(tiff, ifd); i < n && ifd + 2 + (i + 1) * 12 <= tiff.length; i++) out.push(ifd + 2 + i * 12);
  return out;
}

/** A copy of a bare-TIFF EXIF block with IFD0's Orientation (0x0112) set to `value` (if present). */
export function setExifOrientation(tiff: Buffer, value = 1): Buffer {
  const b = Buffer.from(tiff);
  const bo = byteOrder(b);
  for (const e of ifdEntries(b, bo, bo.u32(b, 4))) if (bo.u16(b, e) === 0x0112 && bo.u16(b, e + 2) === 3) bo.w16(b, value, e + 8);
  return b;
}

/**
 * A copy of a bare-TIFF EXIF block whose Exif IFD says the image is `width` x `height`
 * (PixelXDimension / PixelYDimension), patched in place where the tags are there: after an upscale
 * the source's numbers would be wrong. A SHORT tag too small for the new size becomes a LONG
 * (both are allowed); a block without the tags, or one we cannot follow, is returned as it was.
 */
export function setExifPixelSize(tiff: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(tiff);
  if (b.length < 8) return b;
  const bo = byteOrder(b);
  const exifIfd = ifdEntries(b, bo, bo.u32(b, 4)).find((e) => bo.u16(b, e) === 0x8769);
  const at = exifIfd === undefined ? 0 : bo.u32(b, exifIfd + 8);
  if (at < 8) return b;
  for (const e of ifdEntries(b, bo, at)) {
    const tag = bo.u16(b, e);
    if ((tag !== 0xa002 && tag !== 0xa003) || bo.u32(b, e + 4) !== 1) continue;
    const v = tag === 0xa002 ? width : height;
    const type = bo.u16(b, e + 2);
    if (type === 3 && v <= 0xffff) bo.w16(b, v, e + 8);
    else if (type === 3 || type === 4) {
      bo.w16(b, 4, e + 2);
      bo.w32(b, v, e + 8);
    }
  }
  return b;
}

/** Read IFD0's Orientation from a bare-TIFF EXIF block (undefined when absent). */
export function getExifOrientation(tiff: Buffer): number | undefined {
  const bo = byteOrder(tiff);
  const e = ifdEntries(tiff, bo, bo.u32(tiff, 4)).find((x) => bo.u16(tiff, x) === 0x0112);
  return e === undefined ? undefined : bo.u16(tiff, e + 8);
}

const X_RESOLUTION = 0x011a;
const Y_RESOLUTION = 0x011b;
const RESOLUTION_UNIT = 0x0128;

/** IFD0's resolution in pixels per inch (undefined when absent or unit-less). */
export function getExifResolution(tiff: Buffer): number | undefined {
  if (tiff.length < 8) return undefined;
  const bo = byteOrder(tiff);
  let x: number | undefined;
  let unit = 2; // TIFF default: inch
  for (const e of ifdEntries(tiff, bo, bo.u32(tiff, 4))) {
    const tag = bo.u16(tiff, e);
    if (tag === X_RESOLUTION && bo.u16(tiff, e + 2) === 5) {
      const at = bo.u32(tiff, e + 8);
      if (at + 8 <= tiff.length && bo.u32(tiff, at + 4) > 0) x = bo.u32(tiff, at) / bo.u32(tiff, at + 4);
    } else if (tag === RESOLUTION_UNIT) {
      unit = bo.u16(tiff, e + 8);
    }
  }
  if (!x || !(x > 0)) return undefined;
  return unit === 2 ? x : unit === 3 ? x * 2.54 : undefined;
}

/**
 * A copy of a bare-TIFF EXIF block whose IFD0 says `dpi` pixels per inch (XResolution,
 * YResolution, ResolutionUnit = inch). Tags already there are patched in place; otherwise IFD0
 * is rewritten at the end of the block with the tags added (all other data stays where it was).
 */
export function setExifResolution(tiff: Buffer, dpi: number): Buffer {
  if (tiff.length < 8 || !(dpi > 0)) return Buffer.from(tiff);
  const bo = byteOrder(tiff);
  const den = Number.isInteger(dpi) ? 1 : 10000;
  const num = Math.round(dpi * den);
  const ifd = bo.u32(tiff, 4);
  if (ifd + 2 > tiff.length) return Buffer.from(tiff);
  const n = bo.u16(tiff, ifd);
  if (ifd + 2 + n * 12 + 4 > tiff.length) return Buffer.from(tiff);
  const entries = ifdEntries(tiff, bo, ifd);
  // in place when all three tags are there with their usual types
  const b = Buffer.from(tiff);
  const found = new Set<number>();
  for (const e of entries) {
    const tag = bo.u16(b, e);
    const type = bo.u16(b, e + 2);
    if ((tag === X_RESOLUTION || tag === Y_RESOLUTION) && type === 5 && bo.u32(b, e + 4) === 1 && bo.u32(b, e + 8) + 8 <= b.length) {
      bo.w32(b, num, bo.u32(b, e + 8));
      bo.w32(b, den, bo.u32(b, e + 8) + 4);
      found.add(tag);
    } else if (tag === RESOLUTION_UNIT && type === 3) {
      bo.w16(b, 2, e + 8);
      found.add(tag);
    }
  }
  if (found.size === 3) return b;
  // rewrite IFD0 (sorted entries) after the data, followed by the two rationals
  const kept = entries.filter((e) => ![X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT].includes(bo.u16(tiff, e))).map((e) => tiff.subarray(e, e + 12));
  const at = tiff.length + (tiff.length & 1);
  const m = kept.length + 3;
  const rationals = at + 2 + m * 12 + 4;
  const out = Buffer.alloc(rationals + 16);
  tiff.copy(out);
  const entry = (tag: number, type: number, value: number) => {
    const e = Buffer.alloc(12);
    bo.w16(e, tag, 0);
    bo.w16(e, type, 2);
    bo.w32(e, 1, 4);
    if (type === 3) bo.w16(e, value, 8);
    else bo.w32(e, value, 8);
    return e;
  };
  kept.push(entry(X_RESOLUTION, 5, rationals), entry(Y_RESOLUTION, 5, rationals + 8), entry(RESOLUTION_UNIT, 3, 2));
  kept.sort((p, q) => bo.u16(p, 0) - bo.u16(q, 0));
  bo.w16(out, m, at);
  kept.forEach((e, i) => e.copy(out, at + 2 + i * 12));
  bo.w32(out, bo.u32(tiff, ifd + 2 + n * 12), at + 2 + m * 12); // next IFD (IFD1, the thumbnail) unchanged
  for (const o of [rationals, rationals + 8]) {
    bo.w32(out, num, o);
    bo.w32(out, den, o + 4);
  }
  bo.w32(out, at, 4);
  return out;
}

/** XMP packet with tiff:Orientation reset to 1 (attribute or element form). */
export function xmpResetOrientation(xmp: string): string {
  return xmp
    .replace(/(tiff:Orientation\s*=\s*["'])\d(["'])/g, '$11$2')
    .replace(/(<tiff:Orientation>)\s*\d\s*(<\/tiff:Orientation>)/g, '$11$2');
}

const NS_RDF = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
const NS_MM = 'http://ns.adobe.com/xap/1.0/mm/';
const NS_EVT = 'http://ns.adobe.com/xap/1.0/sType/ResourceEvent#';

/** One entry of an output's processing history (XMP `xmpMM:History`): what made it, with what, and when. */
export interface XmpHistoryEvent {
  /** `stEvt:softwareAgent`, e.g. "Restora 0.1.0" */
  software: string;
  /** `stEvt:parameters`: the steps and what each used, in words */
  parameters: string;
  when: Date;
}

const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';
const EMPTY_PACKET = `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="${NS_RDF}"></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

const elements = (parent: Element, ns: string, local: string): Element[] =>
  Array.from(parent.childNodes as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);

/**
 * `xmp` (the source's packet, or none) with `ev` added to its processing history, as Photoshop and
 * Lightroom keep theirs: an `rdf:li` appended to the photo's own `xmpMM:History` (one directly under a
 * top-level `rdf:Description`, not one of the documents a Photoshop file keeps in its pantry), else a new
 * history in an `rdf:Description` of its own; a whole new packet when the source had none. The packet is
 * read as XML (namespaces by URI, whatever their prefixes); everything else in it is kept. A packet that
 * is not well-formed XML, or has no `rdf:RDF`, is returned unchanged.
 */
export function xmpAddHistory(xmp: string | undefined, ev: XmpHistoryEvent): string {
  const source = xmp && xmp.trim() ? xmp : EMPTY_PACKET;
  let broken = false;
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: () => (broken = true), fatalError: () => (broken = true) } }).parseFromString(source.replace(/^\uFEFF/, ''), 'text/xml');
  const rdf = doc?.getElementsByTagNameNS(NS_RDF, 'RDF')[0];
  if (broken || !doc || !rdf) return xmp ?? '';
  const el = (ns: string, name: string, text?: string): Element => {
    const e = doc.createElementNS(ns, name);
    if (text !== undefined) e.appendChild(doc.createTextNode(text));
    return e;
  };
  const li = el(NS_RDF, 'rdf:li');
  li.setAttributeNS(NS_XMLNS, 'xmlns:stEvt', NS_EVT);
  li.setAttributeNS(NS_RDF, 'rdf:parseType', 'Resource');
  li.appendChild(el(NS_EVT, 'stEvt:action', 'edited'));
  li.appendChild(el(NS_EVT, 'stEvt:changed', '/'));
  li.appendChild(el(NS_EVT, 'stEvt:parameters', ev.parameters));
  li.appendChild(el(NS_EVT, 'stEvt:softwareAgent', ev.software));
  li.appendChild(el(NS_EVT, 'stEvt:when', ev.when.toISOString().replace(/\.\d{3}Z$/, 'Z')));
  const history = elements(rdf, NS_RDF, 'Description').flatMap((d) => elements(d, NS_MM, 'History'))[0];
  if (history) {
    let seq = elements(history, NS_RDF, 'Seq')[0];
    if (!seq) {
      if (Array.from(history.childNodes as ArrayLike<Node>).some((n) => n.nodeType === 1)) return xmp ?? ''; // not a sequence: left as it is
      seq = history.appendChild(el(NS_RDF, 'rdf:Seq'));
    }
    seq.appendChild(li);
  } else {
    const d = el(NS_RDF, 'rdf:Description');
    d.setAttributeNS(NS_RDF, 'rdf:about', '');
    const h = el(NS_MM, 'xmpMM:History');
    h.appendChild(el(NS_RDF, 'rdf:Seq')).appendChild(li);
    d.appendChild(h);
    rdf.appendChild(d);
  }
  return new XMLSerializer().serializeToString(doc);
}

/**
 * The marker segments of a JPEG before its first scan (fill bytes skipped), and the offset where
 * the walk stopped: the scan, the end, or the first byte that is not a well-formed segment.
 * Undefined when the bytes do not start with SOI.
 */
function jpegSegments(jpeg: Buffer): { segments: { marker: number; start: number; end: number }[]; rest: number } | undefined {
  if (jpeg.length < 2 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return undefined;
  const segments: { marker: number; start: number; end: number }[] = [];
  let off = 2;
  while (off + 4 <= jpeg.length && jpeg[off] === 0xff) {
    const marker = jpeg[off + 1];
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    // the scan, the end and the standalone markers end the header
    if (marker === 0xda || marker === 0xd9 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) break;
    const len = jpeg.readUInt16BE(off + 2);
    if (len < 2 || off + 2 + len > jpeg.length) break;
    segments.push({ marker, start: off, end: off + 2 + len });
    off += 2 + len;
  }
  return { segments, rest: off };
}

/**
 * Put an APP1 Exif segment into a JPEG, replacing any Exif segment already there (sharp writes one
 * when a density is set). It goes right after SOI, or after a leading JFIF APP0. Blocks over
 * 64 KB cannot fit a segment: the JPEG is returned unchanged.
 */
export function spliceExifJpeg(jpeg: Buffer, tiff: Buffer): Buffer {
  const payload = Buffer.concat([EXIF_HEADER, tiff]);
  const h = jpegSegments(jpeg);
  if (payload.length + 2 > 0xffff || !h) return jpeg;
  const seg = Buffer.alloc(4);
  seg[0] = 0xff;
  seg[1] = 0xe1;
  seg.writeUInt16BE(payload.length + 2, 2);
  const kept = h.segments
    .filter((x) => !(x.marker === 0xe1 && jpeg.subarray(x.start + 4, x.start + 10).equals(EXIF_HEADER)))
    .map((x) => ({ marker: x.marker, bytes: jpeg.subarray(x.start, x.end) }));
  const insertAt = kept[0]?.marker === 0xe0 ? 1 : 0;
  const parts = kept.map((x) => x.bytes);
  parts.splice(insertAt, 0, seg, payload);
  return Buffer.concat([jpeg.subarray(0, 2), ...parts, jpeg.subarray(h.rest)]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** The chunks of a PNG (type and byte range), in order, as far as they are whole. */
function pngChunks(png: Buffer): { type: string; start: number; end: number }[] {
  const out: { type: string; start: number; end: number }[] = [];
  for (let off = 8; off + 12 <= png.length; ) {
    const end = Math.min(png.length, off + 12 + png.readUInt32BE(off));
    out.push({ type: png.subarray(off + 4, off + 8).toString('latin1'), start: off, end });
    off = end;
  }
  return out;
}

/**
 * A PNG without the chunks of the types in `drop`, with `chunk` inserted right after IHDR or
 * before the first IDAT (left out when there is no such chunk).
 */
function replacePngChunks(png: Buffer, drop: string[], chunk: Buffer, where: 'afterIHDR' | 'beforeIDAT'): Buffer {
  const chunks = pngChunks(png);
  const parts: Buffer[] = [png.subarray(0, 8)];
  for (const c of chunks) {
    if (where === 'beforeIDAT' && c.type === 'IDAT' && !parts.includes(chunk)) parts.push(chunk);
    if (!drop.includes(c.type)) parts.push(png.subarray(c.start, c.end));
    if (where === 'afterIHDR' && c.type === 'IHDR') parts.push(chunk);
  }
  const tail = chunks.length ? chunks[chunks.length - 1].end : 8;
  if (tail < png.length) parts.push(png.subarray(tail));
  return Buffer.concat(parts);
}

/**
 * Insert an eXIf chunk before the first IDAT (PNG 1.5 extension; read by exiftool, browsers,
 * libvips), replacing any eXIf chunk already there (sharp writes one when a density is set).
 */
export function spliceExifPng(png: Buffer, tiff: Buffer): Buffer {
  return replacePngChunks(png, ['eXIf'], pngChunk('eXIf', tiff), 'beforeIDAT');
}

/** Embed an ICC profile (iCCP chunk, after IHDR) in a PNG, replacing any iCCP/sRGB/gAMA chunk. */
export function spliceIccPng(png: Buffer, icc: Buffer): Buffer {
  const data = Buffer.concat([Buffer.from('ICC profile\0\0', 'latin1'), zlib.deflateSync(icc)]);
  return replacePngChunks(png, ['iCCP', 'sRGB', 'gAMA'], pngChunk('iCCP', data), 'afterIHDR');
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

/** True for an ICC profile whose data colour space is grey (one we can embed on grey output). */
export function iccIsGrey(icc: Buffer | undefined): boolean {
  return !!icc && icc.length >= 128 && icc.subarray(16, 20).toString('latin1') === 'GRAY';
}

/** The IJG (libjpeg) luminance quantization table at quality 50; the sum is all the estimate needs. */
const IJG_LUMA_SUM = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
].reduce((a, b) => a + b, 0);

/**
 * The quality (1-100) a JPEG was saved at, estimated from its luminance quantization table as
 * libjpeg scales it (as ImageMagick's "Quality" does); undefined when the bytes hold no such table
 * before the scan starts. Cameras and editors that use their own tables get the nearest IJG quality.
 */
export function estimateJpegQuality(jpeg: Buffer): number | undefined {
  for (const { marker, start, end } of jpegSegments(jpeg)?.segments ?? []) {
    if (marker !== 0xdb) continue;
    // a DQT segment holds one or more tables: a byte (precision << 4 | id), then 64 values
    for (let p = start + 4; p < end; ) {
      const precision = jpeg[p] >> 4;
      const size = precision ? 128 : 64;
      if (p + 1 + size > end) return undefined;
      if ((jpeg[p] & 15) === 0) {
        let sum = 0;
        let ones = 0;
        for (let i = 0; i < 64; i++) {
          const q = precision ? jpeg.readUInt16BE(p + 1 + 2 * i) : jpeg[p + 1 + i];
          sum += q;
          if (q <= 1) ones++;
        }
        if (ones === 64) return 100;
        const scale = (100 * sum) / IJG_LUMA_SUM;
        const quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
        return Math.min(100, Math.max(1, Math.round(quality)));
      }
      p += 1 + size;
    }
  }
  return undefined;
}
