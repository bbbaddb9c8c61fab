// Broken, lying and hostile input files: each is refused per file with a clear error (code and
// file name), nothing is written for it, the batch goes on, and nothing hangs or blows memory.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  flipBytes,
  jpegScanStart,
  makeHostileSvg,
  makeImage,
  makeLyingJpeg,
  makeLyingPng,
  makeMinimalPdf,
  makePngBomb,
  pattern,
  truncateFile,
  writeRaw,
} from '../fixtures.ts';
import { check, decodeStrict, listImages, pixelDiff } from '../harness.ts';
import { denoise, expectDone, expectFailed, reportOf, type Case } from './common.ts';

const truncated = (fmt: 'jpeg' | 'png' | 'tiff', ext: string, plan: number[]): Case => ({
  id: `truncated-${ext}`,
  title: `truncated ${fmt.toUpperCase()} (first 60 % of the bytes)`,
  plan,
  async run(ctx, env) {
    const whole = await writeRaw(join(ctx.dir, `whole.${ext}`), pattern(64, 48, 5), fmt);
    const bad = truncateFile(whole, join(ctx.in, `cut.${ext}`), 0.6);
    const good = await makeImage(join(ctx.in, `good.${ext}`));
    ctx.seal();
    const rep = reportOf(await denoise(ctx, env, [bad, good]), 1);
    const f = expectFailed(rep, bad, 'E_DECODE');
    await expectDone(rep, good);
    check(rep.failed === 1 && rep.done === 1, `report says done ${rep.done}, failed ${rep.failed}`);
    return `E_DECODE "${f.error!.message}"; the good file next to it was done`;
  },
});

export const inputCases: Case[] = [
  truncated('jpeg', 'jpg', [3]),
  truncated('png', 'png', [3]),
  truncated('tiff', 'tif', [3]),
  {
    id: 'zero-byte',
    title: 'zero-byte .jpg and .png',
    plan: [6],
    async run(ctx, env) {
      const a = join(ctx.in, 'empty.jpg');
      const b = join(ctx.in, 'empty.png');
      writeFileSync(a, '');
      writeFileSync(b, '');
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [a, b]), 1);
      expectFailed(rep, a, 'E_DECODE');
      expectFailed(rep, b, 'E_DECODE');
      check(listImages(ctx.out).length === 0, `outputs were written: ${listImages(ctx.out).join(', ')}`);
      return `both E_DECODE, nothing written`;
    },
  },
  {
    id: 'not-an-image',
    title: 'text saved as .png, a ZIP named .jpg, a PDF named .tif',
    plan: [6],
    async run(ctx, env) {
      const txt = join(ctx.in, 'notes.png');
      writeFileSync(txt, 'These are my notes, not a photo.\n'.repeat(20));
      const zip = join(ctx.in, 'archive.jpg');
      writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200, 7)]));
      const pdf = makeMinimalPdf(join(ctx.in, 'scan.tif'));
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [txt, zip, pdf]), 1);
      for (const f of [txt, zip, pdf]) expectFailed(rep, f, ['E_DECODE', 'E_UNSUPPORTED']);
      check(listImages(ctx.out).length === 0, `outputs were written: ${listImages(ctx.out).join(', ')}`);
      return '3/3 refused (E_DECODE/E_UNSUPPORTED), nothing written';
    },
  },
  {
    id: 'svg-loader-blocked',
    title: 'SVG (pulling a local file) renamed .png: the SVG loader must not run',
    plan: [6],
    async run(ctx, env) {
      const canary = join(ctx.dir, 'canary.png');
      await makeImage(canary, 64, 64, 9);
      const svg = makeHostileSvg(join(ctx.in, 'vector.png'), canary);
      const named = join(ctx.in, 'drawing.svg');
      copyFileSync(svg, named);
      ctx.protect(canary);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [svg, named]), 1);
      expectFailed(rep, svg, ['E_DECODE', 'E_UNSUPPORTED']);
      expectFailed(rep, named, ['E_DECODE', 'E_UNSUPPORTED']);
      check(listImages(ctx.out).length === 0, `an SVG was rendered: ${listImages(ctx.out).join(', ')}`);
      return 'SVG refused under .png and .svg names';
    },
  },
  {
    id: 'misnamed-png-as-jpg',
    title: 'a PNG named .jpg and a JPEG named .png are read by their content',
    plan: [6],
    async run(ctx, env) {
      const src = pattern(48, 32, 2);
      const pngAsJpg = await writeRaw(join(ctx.in, 'really-png.jpg'), src, 'png');
      const jpgAsPng = await writeRaw(join(ctx.in, 'really-jpeg.png'), src, 'jpeg');
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [pngAsJpg, jpgAsPng], ['--model', env.identity]), 0);
      const notes: string[] = [];
      for (const f of [pngAsJpg, jpgAsPng]) {
        const { entry, out } = await expectDone(rep, f);
        const inp = await decodeStrict(f);
        const d = pixelDiff(inp, out);
        check(d.mean < 3, `${entry.output}: mean difference ${d.mean.toFixed(2)} from the input`);
        notes.push(`${entry.output!.split('/').pop()} holds ${out.format}`);
      }
      return notes.join('; ');
    },
  },
  {
    id: 'corrupt-entropy',
    title: 'JPEGs with flipped bytes in the entropy-coded data (6 files): decoded or E_DECODE, no hang',
    plan: [4],
    timeoutMs: 120_000,
    async run(ctx, env) {
      const whole = await writeRaw(join(ctx.dir, 'whole.jpg'), pattern(64, 64, 8), 'jpeg');
      const start = jpegScanStart(readFileSync(whole));
      check(start > 0, 'fixture: no scan data found');
      const files = Array.from({ length: 6 }, (_, k) => flipBytes(whole, join(ctx.in, `flip-${k}.jpg`), 10 + 10 * k, 100 + k, start));
      ctx.seal();
      const r = await denoise(ctx, env, files);
      const rep = reportOf(r, [0, 1]);
      let ok = 0;
      let refused = 0;
      for (const f of files) {
        const e = rep.files.find((x) => x.input === f);
        check(e, `${f} missing from the report`);
        if (e.status === 'done') {
          const { out } = await expectDone(rep, f);
          check(out.width === 64 && out.height === 64, `${f}: output ${out.width}x${out.height}`);
          ok++;
        } else {
          expectFailed(rep, f, 'E_DECODE');
          refused++;
        }
      }
      const perFile = r.ms / files.length;
      check(perFile < 10_000, `${perFile.toFixed(0)} ms per file`);
      return `${ok} decoded, ${refused} E_DECODE; ${(r.ms / 1000).toFixed(1)} s for the batch`;
    },
  },
  {
    id: 'pixel-bomb-lying-png',
    title: 'PNG header declaring 65000x65000 (4.2 GP) with 1 KB of data',
    plan: [1, 2],
    async run(ctx, env) {
      const f = makeLyingPng(join(ctx.in, 'bomb.png'), 65000, 65000);
      ctx.seal();
      const r = await denoise(ctx, env, [f]);
      const rep = reportOf(r, 1);
      const e = expectFailed(rep, f, ['E_TOO_LARGE']);
      check(r.ms < 15_000, `took ${r.ms} ms`);
      return `E_TOO_LARGE in ${r.ms} ms, peak RSS ${r.peakRssMB.toFixed(0)} MB: "${e.error!.message}"`;
    },
  },
  {
    id: 'pixel-bomb-real-png',
    title: 'a complete, valid 20000x20000 PNG of ~60 KB (400 MP decompression bomb)',
    plan: [1],
    async run(ctx, env) {
      const f = makePngBomb(join(ctx.in, 'zip-bomb.png'), 20000);
      const size = readFileSync(f).length;
      ctx.seal();
      const r = await denoise(ctx, env, [f]);
      const rep = reportOf(r, 1);
      expectFailed(rep, f, ['E_TOO_LARGE']);
      check(r.ms < 15_000, `took ${r.ms} ms`);
      check(r.peakRssMB < 1500, `peak RSS ${r.peakRssMB.toFixed(0)} MB while refusing a bomb`);
      return `${(size / 1024).toFixed(0)} KB file refused (E_TOO_LARGE) in ${r.ms} ms, peak RSS ${r.peakRssMB.toFixed(0)} MB`;
    },
  },
  {
    id: 'lying-jpeg-header',
    title: 'JPEG whose SOF says 65000x65000, data cut after the scan header',
    plan: [2],
    async run(ctx, env) {
      const src = await writeRaw(join(ctx.dir, 'src.jpg'), pattern(32, 32), 'jpeg');
      const f = makeLyingJpeg(src, join(ctx.in, 'liar.jpg'), 65000, 65000);
      ctx.seal();
      const r = await denoise(ctx, env, [f]);
      const rep = reportOf(r, 1);
      const e = expectFailed(rep, f, ['E_TOO_LARGE', 'E_DECODE']);
      check(r.ms < 15_000, `took ${r.ms} ms`);
      return `${e.error!.code} in ${r.ms} ms`;
    },
  },
  {
    id: 'extreme-dimensions',
    title: 'extreme shapes: 1x1, 3000x1, 1x2000 and 7x5 pixels',
    plan: [32],
    async run(ctx, env) {
      const shapes: [number, number][] = [
        [1, 1],
        [3000, 1],
        [1, 2000],
        [7, 5],
      ];
      const files = await Promise.all(shapes.map(([w, h]) => writeRaw(join(ctx.in, `s${w}x${h}.png`), pattern(w, h, w + h), 'png')));
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, files, ['--model', env.identity]), 0);
      for (let k = 0; k < files.length; k++) {
        const { out } = await expectDone(rep, files[k]);
        const [w, h] = shapes[k];
        check(out.width === w && out.height === h, `${w}x${h} came out ${out.width}x${out.height}`);
        const d = pixelDiff(await decodeStrict(files[k]), out);
        check(d.max <= 2, `${w}x${h}: max difference ${d.max} through an identity model`);
      }
      return `4/4 shapes kept their size and pixels (identity model, max diff <= 2)`;
    },
  },
];
