// What a file really is, from its first bytes (and, for camera RAW, its name): decided before
// sharp sees the file, so that SVG, PDF, GIF and RAW never reach a libvips loader and every refusal
// has a sentence a photographer understands.
import path from 'node:path';

/** Formats Restora decodes (sharp's names). */
export type ReadableFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'heif';

export type Sniffed =
  | { ok: true; format: ReadableFormat; brand?: string }
  | { ok: false; code: 'E_UNSUPPORTED' | 'E_DECODE'; reason: string };

/** Camera RAW extensions: TIFF-based RAWs would otherwise decode as their small embedded preview. */
export const RAW_EXTENSIONS = new Set([
  '.dng', '.nef', '.nrw', '.cr2', '.cr3', '.crw', '.arw', '.srf', '.sr2', '.orf', '.rw2', '.raf', '.pef', '.ptx',
  '.srw', '.x3f', '.3fr', '.erf', '.kdc', '.dcr', '.mrw', '.mos', '.iiq', '.rwl', '.raw', '.gpr', '.fff',
]);

const RAW_REASON = 'is a camera RAW file; export it as TIFF or JPEG from your RAW developer first';

function ascii(b: Buffer, start: number, end: number): string {
  return b.subarray(start, Math.min(end, b.length)).toString('latin1');
}

/** True when a TIFF header's first IFD carries DNGVersion (0xC612): a DNG whatever its name. */
function tiffIsDng(b: Buffer): boolean {
  const le = b[0] === 0x49;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (b.length < 8) return false;
  const ifd = u32(4);
  if (ifd + 2 > b.length) return false;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > b.length) break;
    if (u16(e) === 0xc612) return true;
  }
  return false;
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis', 'mif2', 'miaf']);

/**
 * Classify a file from its head (the first bytes, 64 KB is plenty) and its name.
 * Refused formats come back with E_UNSUPPORTED and a reason that completes "photo.gif ...".
 */
export function sniff(head: Buffer, filePath: string): Sniffed {
  const ext = path.extname(filePath).toLowerCase();
  if (RAW_EXTENSIONS.has(ext)) return { ok: false, code: 'E_UNSUPPORTED', reason: RAW_REASON };
  const b = head;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ok: true, format: 'jpeg' };
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return { ok: true, format: 'png' };
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return { ok: true, format: 'webp' };
  const t4 = ascii(b, 0, 4);
  if (t4 === 'IIRO' || t4 === 'IIRS' || t4 === 'IIU\0' || t4 === 'FUJI') return { ok: false, code: 'E_UNSUPPORTED', reason: RAW_REASON };
  if (t4 === 'II*\0' || t4 === 'MM\0*' || t4 === 'II+\0' || t4 === 'MM\0+') {
    if (ascii(b, 8, 10) === 'CR' || tiffIsDng(b)) return { ok: false, code: 'E_UNSUPPORTED', reason: RAW_REASON };
    return { ok: true, format: 'tiff' };
  }
  if (ascii(b, 4, 8) === 'ftyp') {
    const brand = ascii(b, 8, 12);
    if (brand === 'crx ') return { ok: false, code: 'E_UNSUPPORTED', reason: RAW_REASON };
    if (HEIF_BRANDS.has(brand)) return { ok: true, format: 'heif', brand };
    return { ok: false, code: 'E_UNSUPPORTED', reason: `is an ISO media file (${brand.trim() || 'unknown brand'}), not a photo format Restora reads` };
  }
  if (ascii(b, 0, 4) === 'GIF8') return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a GIF (256 colours, often animated); convert it to PNG first' };
  if (ascii(b, 0, 5) === '%PDF-') return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a PDF document, not a photograph' };
  if (ascii(b, 0, 4) === '8BPS') return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a Photoshop document; export it as TIFF or PNG first' };
  if (ascii(b, 0, 2) === 'BM') return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a BMP image; convert it to PNG first' };
  if ((b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) || ascii(b, 4, 8) === 'JXL ') return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a JPEG XL image, which this build cannot read' };
  if (ascii(b, 4, 8) === 'jP  ' || (b.length >= 4 && b.readUInt32BE(0) === 0xff4fff51)) return { ok: false, code: 'E_UNSUPPORTED', reason: 'is a JPEG 2000 image, which this build cannot read' };
  const text = ascii(b, 0, 1024).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (/^<(\?xml|svg|!DOCTYPE svg)/i.test(text) && /<svg/i.test(text)) return { ok: false, code: 'E_UNSUPPORTED', reason: 'is an SVG drawing, not a photograph' };
  const expected: Record<string, string> = { '.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG', '.webp': 'WebP', '.tif': 'TIFF', '.tiff': 'TIFF', '.heic': 'HEIF', '.heif': 'HEIF', '.avif': 'AVIF' };
  const what = expected[ext];
  return { ok: false, code: 'E_DECODE', reason: what ? `is not a readable image (not ${what} data)` : 'is not a readable image (unrecognised file contents)' };
}
