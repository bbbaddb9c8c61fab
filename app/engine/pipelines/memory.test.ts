// A 24-megapixel denoise (decode, tiled run, write) must peak under 2 GB RSS: the tiler
// accumulates into one output buffer with analytic weights, no per-tile full-size copies.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, photoLike, sharpOf, tmpDir } from '../../../test/fixtures/images/make.ts';

const { dir, cleanup } = tmpDir();
afterAll(cleanup);

describe('memory', () => {
  it('a 24 MP denoise peaks under 2 GB RSS', { timeout: 300_000 }, async () => {
    const input = path.join(dir, '24mp.jpg');
    await sharpOf(photoLike(600, 400, 3)).resize(6000, 4000, { kernel: 'cubic' }).jpeg({ quality: 90 }).toFile(input);
    const out = path.join(dir, '24mp-out.jpg');
    const child = path.join(import.meta.dirname, 'memory-child.ts');
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', child, input, out, FIXTURE_MODELS, '512', 'fake'], { encoding: 'utf8', timeout: 280_000 });
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    expect([r.width, r.height]).toEqual([6000, 4000]);
    expect(r.maxRssMB).toBeLessThan(2048);
    const m = await sharp(out).metadata();
    expect([m.width, m.height]).toEqual([6000, 4000]);
    expect(fs.statSync(out).size).toBeGreaterThan(100_000);
  });
});
