// A small but real EngineCore for batch tests: sharp decodes and encodes for real; `run` inverts
// the pixels in "tiles" (rows of 16), checking the abort signal between them like the real tiler.
// Files are written by the real writer's writeFileAtomic (app/engine/image/writer.ts): a temp file
// `.restora-<pid>-<hex>.tmp` in the same folder, fsync, then rename or, for a batch's outputs, an
// exclusive publish.
import path from 'node:path';
import sharp from 'sharp';
import { RestoraError } from '../../../contract/index.ts';
import type { EngineCore, RgbImage, RunOptions } from '../../api.ts';
import { writeFileAtomic, type WriteImageOptions } from '../../image/writer.ts';
import type { Recipe } from '../../../contract/index.ts';

export interface FakeCoreOptions {
  /** ms to wait per tile (to give tests time to cancel or kill) */
  tileDelayMs?: number;
  /** called when a file is read (count processed files) */
  onRead?: (file: string) => void;
  /** fail the write with this code for files whose base name matches */
  failWrite?: { match: RegExp; code: 'E_NO_SPACE' | 'E_WRITE' | 'E_READ_ONLY' };
}

export function fakeCore(o: FakeCoreOptions = {}): EngineCore & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async readImage(file: string): Promise<RgbImage> {
      reads.push(file);
      o.onRead?.(file);
      try {
        const { data, info } = await sharp(file, { failOn: 'error' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
        const n = info.width * info.height;
        const out = new Float32Array(3 * n);
        for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = data[i * info.channels + c] / 255;
        const meta = await sharp(file).metadata();
        return { width: info.width, height: info.height, data: out, meta: { format: meta.format ?? 'png', bitDepth: 8 } };
      } catch (e) {
        throw new RestoraError('E_DECODE', `${path.basename(file)} is not a readable image (${e instanceof Error ? e.message : String(e)})`, file);
      }
    },
    async run(img: RgbImage, _recipe: Recipe, opts?: RunOptions): Promise<RgbImage> {
      const n = img.width * img.height;
      const data = new Float32Array(3 * n);
      const tiles = Math.max(1, Math.ceil(img.height / 16));
      for (let t = 0; t < tiles; t++) {
        if (opts?.signal?.aborted) throw new RestoraError('E_CANCELLED', 'cancelled');
        if (o.tileDelayMs) await new Promise((r) => setTimeout(r, o.tileDelayMs));
        for (let y = t * 16; y < Math.min(img.height, (t + 1) * 16); y++) {
          for (let c = 0; c < 3; c++) {
            for (let x = 0; x < img.width; x++) {
              const k = c * n + y * img.width + x;
              data[k] = 1 - img.data[k];
            }
          }
        }
        opts?.onProgress?.({ done: t + 1, total: tiles });
      }
      return { ...img, data };
    },
    async writeImage(img: RgbImage, file: string, opts?: WriteImageOptions): Promise<string> {
      if (o.failWrite && o.failWrite.match.test(path.basename(file))) throw new RestoraError(o.failWrite.code, `cannot write ${path.basename(file)}`, file);
      const n = img.width * img.height;
      const raw = Buffer.alloc(3 * n);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) raw[i * 3 + c] = Math.round(Math.min(1, Math.max(0, img.data[c * n + i])) * 255);
      let s = sharp(raw, { raw: { width: img.width, height: img.height, channels: 3 } });
      const fmt = opts?.format ?? 'png';
      s = fmt === 'jpeg' ? s.jpeg({ quality: opts?.quality ?? 92 }) : fmt === 'webp' ? s.webp({ quality: opts?.quality ?? 92 }) : fmt === 'tiff' ? s.tiff() : s.png();
      const buf = await s.toBuffer();
      return writeFileAtomic(file, buf, opts?.publish);
    },
    async estimateSigma(): Promise<number> {
      return 0;
    },
  };
}

/** Write a tiny test photo (a seeded gradient with a pattern) as PNG or JPEG. */
export async function makeTestImage(file: string, seed = 1, size = 32): Promise<void> {
  const raw = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const k = (y * size + x) * 3;
      raw[k] = (x * 7 + seed * 31) & 255;
      raw[k + 1] = (y * 5 + seed * 17) & 255;
      raw[k + 2] = ((x ^ y) * 3 + seed) & 255;
    }
  }
  const s = sharp(raw, { raw: { width: size, height: size, channels: 3 } });
  const ext = path.extname(file).toLowerCase();
  await (ext === '.jpg' || ext === '.jpeg' ? s.jpeg({ quality: 90 }) : s.png()).toFile(file);
}
