// Colour spaces, bit depths, alpha, palettes, EXIF orientation, ICC profiles and multi-frame
// files. Colour cases run the suite's identity model, so the output must equal the input up to
// encoding tolerance: a wrong rotation, a lost alpha, 8-bit truncation or an ignored profile shows.
import { join } from 'node:path';
import sharp from 'sharp';
import {
  iccDescription,
  makeCmykJpeg,
  makeGray,
  makeMultiFrame,
  makeOriented,
  makeP3,
  makePalette,
  pattern,
  pattern16,
  writeRaw,
} from '../fixtures.ts';
import { check, decodeStrict, pixelDiff, type Decoded } from '../harness.ts';
import { denoise, entryFor, expectDone, expectFailed, reportOf, type Case } from './common.ts';

const sixteenBit = (fmt: 'png' | 'tiff', ext: string): Case => ({
  id: `16-bit-${ext}`,
  title: `16-bit ${fmt.toUpperCase()} in, 16-bit out, no 8-bit truncation`,
  plan: [10],
  async run(ctx, env) {
    const f = await writeRaw(join(ctx.in, `deep.${ext}`), pattern16(40, 30), fmt);
    const meta = await sharp(f).metadata();
    check(meta.depth === 'ushort', `fixture is ${meta.depth}, not 16-bit`);
    ctx.seal();
    const rep = reportOf(await denoise(ctx, env, [f], ['--model', env.identity]), 0);
    const { entry } = await expectDone(rep, f);
    const om = await sharp(entry.output!).metadata();
    check(om.depth === 'ushort', `output depth is ${om.depth}, expected 16-bit (ushort)`);
    const d = pixelDiff(await decodeStrict(f, { keep16: true }), await decodeStrict(entry.output!, { keep16: true }));
    // 8-bit truncation would show as errors up to 257 LSB
    check(d.max <= 8, `max difference ${d.max} LSB (16-bit scale) through an identity model`);
    return `output ${om.format} ${om.depth}, max error ${d.max} LSB16, mean ${d.mean.toFixed(2)}`;
  },
});

function alphaOf(d: Decoded): number[] {
  const a: number[] = [];
  for (let i = 0; i < d.width * d.height; i++) a.push(d.channels === 4 ? d.data[4 * i + 3] : 255);
  return a;
}

export const formatCases: Case[] = [
  {
    id: 'cmyk-jpeg',
    title: 'CMYK JPEG: converted for the model, colours right in the output',
    plan: [9],
    async run(ctx, env) {
      const f = await makeCmykJpeg(join(ctx.in, 'print.jpg'), pattern(48, 32, 6));
      check((await sharp(f).metadata()).space === 'cmyk', 'fixture is not CMYK');
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [f], ['--model', env.identity]), 0);
      const { entry } = await expectDone(rep, f);
      const want = await decodeStrict(f, { srgb: true });
      const got = await decodeStrict(entry.output!, { srgb: true });
      const d = pixelDiff(want, got);
      check(d.mean < 4, `mean sRGB difference ${d.mean.toFixed(2)} (max ${d.max})`);
      return `output ${got.space}, mean sRGB difference ${d.mean.toFixed(2)} (p99 ${d.p99})`;
    },
  },
  sixteenBit('png', 'png'),
  sixteenBit('tiff', 'tif'),
  {
    id: 'alpha',
    title: 'RGBA PNG with a gradient alpha: alpha kept, colour kept',
    plan: [11],
    async run(ctx, env) {
      const src = pattern(48, 32, 7, 4);
      const f = await writeRaw(join(ctx.in, 'cutout.png'), src, 'png');
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [f], ['--model', env.identity]), 0);
      const { out } = await expectDone(rep, f);
      check(out.channels === 4 && out.hasAlpha, `output has ${out.channels} channels, no alpha`);
      const inp = await decodeStrict(f);
      const ai = alphaOf(inp);
      const ao = alphaOf(out);
      let amax = 0;
      let cmax = 0;
      for (let i = 0; i < ai.length; i++) {
        amax = Math.max(amax, Math.abs(ai[i] - ao[i]));
        if (ai[i] >= 128) for (let c = 0; c < 3; c++) cmax = Math.max(cmax, Math.abs(inp.data[4 * i + c] - out.data[4 * i + c]));
      }
      check(amax <= 1, `alpha max difference ${amax}`);
      check(cmax <= 3, `colour max difference ${cmax} where alpha >= 128`);
      return `alpha max diff ${amax}, colour max diff ${cmax} (alpha >= 50 %)`;
    },
  },
  {
    id: 'grayscale',
    title: 'grayscale PNG and JPEG',
    plan: [9],
    async run(ctx, env) {
      const a = await makeGray(join(ctx.in, 'bw.png'));
      const b = await makeGray(join(ctx.in, 'bw.jpg'));
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [a, b], ['--model', env.identity]), 0);
      const notes: string[] = [];
      for (const f of [a, b]) {
        const { out } = await expectDone(rep, f);
        const d = pixelDiff(await decodeStrict(f), out, 3);
        check(d.mean < (f.endsWith('.png') ? 1 : 3), `${f}: mean difference ${d.mean.toFixed(2)}`);
        notes.push(`${f.split('.').pop()}: ${out.channels} ch, mean diff ${d.mean.toFixed(2)}`);
      }
      return notes.join('; ');
    },
  },
  {
    id: 'palette-png',
    title: 'palette (indexed, 16 colours) PNG',
    plan: [9],
    async run(ctx, env) {
      const f = await makePalette(join(ctx.in, 'indexed.png'));
      check((await sharp(f).metadata()).isPalette, 'fixture is not a palette PNG');
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [f], ['--model', env.identity]), 0);
      const { out } = await expectDone(rep, f);
      const d = pixelDiff(await decodeStrict(f), out);
      check(d.mean < 2, `mean difference ${d.mean.toFixed(2)}`);
      return `mean diff ${d.mean.toFixed(2)}, max ${d.max}`;
    },
  },
  {
    id: 'exif-orientation-1-8',
    title: 'EXIF orientations 1..8: output upright, tag 1 or absent, 5..8 swap sides',
    plan: [8],
    async run(ctx, env) {
      const upright = pattern(48, 32, 12);
      const uprightDec: Decoded = { data: upright.data, width: 48, height: 32, channels: 3, depth: 8, format: 'raw', pages: 1, hasAlpha: false };
      const files: string[] = [];
      for (let o = 1; o <= 8; o++) {
        const f = await makeOriented(join(ctx.in, `orient-${o}.jpg`), upright, o);
        // the fixture itself must display upright in a viewer that honours the tag
        const shown = await decodeStrict(f);
        check(pixelDiff(uprightDec, shown).mean < 3, `fixture for orientation ${o} does not display upright`);
        files.push(f);
      }
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, files, ['--model', env.identity]), 0);
      const bad: string[] = [];
      for (let o = 1; o <= 8; o++) {
        const { entry, out } = await expectDone(rep, files[o - 1]);
        const meta = await sharp(entry.output!).metadata();
        if (meta.orientation !== undefined && meta.orientation !== 1) bad.push(`${o}: tag ${meta.orientation}`);
        if (meta.width !== 48 || meta.height !== 32) bad.push(`${o}: stored ${meta.width}x${meta.height}`);
        else {
          const d = pixelDiff(uprightDec, out);
          if (d.mean >= 4) bad.push(`${o}: not upright (mean diff ${d.mean.toFixed(1)})`);
        }
      }
      check(bad.length === 0, bad.join('; '));
      return '8/8 upright, stored 48x32 with orientation 1/absent';
    },
  },
  {
    id: 'icc-display-p3',
    title: 'Display P3 tagged PNG and JPEG: profile embedded in the output, colours right',
    plan: [12],
    async run(ctx, env) {
      const src = pattern(48, 32, 13);
      const files = [await makeP3(join(ctx.in, 'wide.png'), src), await makeP3(join(ctx.in, 'wide.jpg'), src)];
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, files, ['--model', env.identity]), 0);
      const notes: string[] = [];
      for (const f of files) {
        const inDesc = iccDescription((await sharp(f).metadata()).icc);
        check(inDesc && /p3/i.test(inDesc), `fixture profile is "${inDesc}"`);
        const { entry } = await expectDone(rep, f);
        const outDesc = iccDescription((await sharp(entry.output!).metadata()).icc);
        check(outDesc === inDesc, `${f.split('/').pop()}: output profile "${outDesc ?? 'none'}", input "${inDesc}"`);
        const d = pixelDiff(await decodeStrict(f, { srgb: true }), await decodeStrict(entry.output!, { srgb: true }));
        check(d.mean < (f.endsWith('.png') ? 1.5 : 3), `${f}: mean sRGB difference ${d.mean.toFixed(2)}`);
        notes.push(`${f.split('.').pop()}: "${outDesc}", mean sRGB diff ${d.mean.toFixed(2)}`);
      }
      return notes.join('; ');
    },
  },
  ...(['gif', 'webp', 'tif'] as const).map(
    (ext): Case => ({
      id: `multi-frame-${ext}`,
      title: ext === 'tif' ? '3-page TIFF: refused, or page 1 only' : `animated ${ext.toUpperCase()} (3 frames): refused, or frame 1 only`,
      plan: [7],
      async run(ctx, env) {
        const f = await makeMultiFrame(join(ctx.in, `anim.${ext}`), 3, 32, 24);
        check(((await sharp(f).metadata()).pages ?? 1) === 3, 'fixture does not have 3 pages');
        ctx.seal();
        const rep = reportOf(await denoise(ctx, env, [f], ['--model', env.identity]), [0, 1]);
        const e = entryFor(rep, f);
        if (e.status === 'failed') {
          expectFailed(rep, f, ['E_UNSUPPORTED', 'E_DECODE']);
          return `refused: ${e.error!.code} "${e.error!.message}"`;
        }
        const { out } = await expectDone(rep, f);
        check(out.width === 32 && out.height === 24, `output ${out.width}x${out.height}: frames stacked, expected 32x24`);
        const first = await sharp(f, { pages: 1 }).raw().toBuffer({ resolveWithObject: true });
        const d = pixelDiff({ data: first.data, width: 32, height: 24, channels: first.info.channels, depth: 8, format: 'raw', pages: 1, hasAlpha: false }, out);
        check(d.mean < 3, `output is not frame 1 (mean diff ${d.mean.toFixed(1)})`);
        return `frame 1 only (${out.pages} page out)`;
      },
    }),
  ),
];
