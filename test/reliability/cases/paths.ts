// Names and links: non-ASCII and odd names, very long paths, symlinked files, link loops,
// an output folder inside the input folder, and an output that would be the input itself.
import { existsSync, linkSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeImage } from '../fixtures.ts';
import { check, listImages } from '../harness.ts';
import { denoise, entryFor, expectDone, reportOf, type Case } from './common.ts';

export const pathCases: Case[] = [
  {
    id: 'non-ascii-names',
    title: 'non-ASCII and odd names: NFC/NFD accents, CJK, Cyrillic, emoji, quotes, leading dash, newline',
    plan: [28],
    async run(ctx, env) {
      const dir = join(ctx.in, 'фото 写真 ✓');
      const names = [
        'café.jpg',
        'cafe\u0301-nfd.jpg',
        '日本の夏.png',
        'Ølberg—ß.png',
        '😀 smile.png',
        `it's "quoted" & <b>.png`,
        '-leading-dash.png',
        'line\nbreak.png',
        ' spaced .png',
      ];
      const files = [];
      for (const [k, n] of names.entries()) files.push(await makeImage(join(dir, n), 24, 16, k + 1));
      ctx.seal();
      // the folder is given (so '-leading-dash' is not an argument), and one file by its own name
      const direct = join(ctx.in, 'Ünïcødé direct.png');
      await makeImage(direct, 24, 16, 40);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [dir, direct]), 0);
      check(rep.done === names.length + 1, `done ${rep.done} of ${names.length + 1}`);
      for (const f of [...files, direct]) {
        const { entry } = await expectDone(rep, f);
        check(basename(entry.output!) === basename(f), `name changed: ${JSON.stringify(basename(f))} -> ${JSON.stringify(basename(entry.output!))}`);
      }
      return `${names.length + 1}/${names.length + 1} done, names kept byte for byte`;
    },
  },
  {
    id: 'very-long-paths',
    title: 'a 1,200-character path and a 250-byte file name',
    plan: [28],
    async run(ctx, env) {
      let deep = ctx.in;
      for (let k = 0; k < 5; k++) deep = join(deep, `${k}`.repeat(1) + 'd'.repeat(239));
      const deepFile = await makeImage(join(deep, 'photo.jpg'), 24, 16);
      const longName = await makeImage(join(ctx.in, 'n'.repeat(246) + '.jpg'), 24, 16, 2);
      check(deepFile.length > 1200, `fixture path is only ${deepFile.length} chars`);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [ctx.in], ['--recursive']), [0, 1]);
      const a = await expectDone(rep, deepFile);
      check(a.entry.output!.length > 1200, 'the output tree was not mirrored');
      const e = entryFor(rep, longName);
      if (e.status === 'done') {
        await expectDone(rep, longName);
        return `deep path (${deepFile.length} chars) and 250-byte name both done`;
      }
      check(e.error && e.error.code === 'E_WRITE' && /long/i.test(e.error.message), `250-byte name: ${e.status} ${e.error?.code} ${e.error?.message}`);
      return `deep path done; 250-byte name refused clearly: ${e.error.message.slice(0, 80)}`;
    },
  },
  {
    id: 'symlinked-file',
    title: 'a symlink to a photo given by name: processed, link and target untouched',
    plan: [29],
    async run(ctx, env) {
      const real = await makeImage(join(ctx.in, 'real.jpg'));
      const link = join(ctx.in, 'shortcut.jpg');
      symlinkSync(real, link);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [link]), 0);
      const { entry } = await expectDone(rep, link);
      check(!lstatSync(entry.output!).isSymbolicLink(), 'the output is a symlink');
      check(lstatSync(link).isSymbolicLink(), 'the input link was replaced');
      return `output ${basename(entry.output!)} is a regular file; link and target unchanged`;
    },
  },
  {
    id: 'symlink-loops',
    title: 'folder with a link loop (sub/up -> ..), a self link, a 2-cycle, a dangling link and a link out',
    plan: [29],
    timeoutMs: 60_000,
    async run(ctx, env) {
      const tree = join(ctx.in, 'tree');
      const a = await makeImage(join(tree, 'a.png'));
      const b = await makeImage(join(tree, 'sub', 'b.png'));
      symlinkSync('..', join(tree, 'sub', 'up'));
      symlinkSync('self.png', join(tree, 'self.png'));
      symlinkSync('y.png', join(tree, 'x.png'));
      symlinkSync('x.png', join(tree, 'y.png'));
      symlinkSync(join(ctx.dir, 'nowhere.png'), join(tree, 'dangling.png'));
      const outside = join(ctx.dir, 'elsewhere');
      await makeImage(join(outside, 'private.png'));
      symlinkSync(outside, join(tree, 'out-link'));
      ctx.protect(outside);
      ctx.seal();
      const r = await denoise(ctx, env, [tree], ['--recursive']);
      const rep = reportOf(r, [0, 1]);
      await expectDone(rep, a);
      await expectDone(rep, b);
      const outs = listImages(ctx.out);
      check(!outs.some((o) => o.includes('private')), `a file outside the folder was processed: ${outs.join(', ')}`);
      check(outs.length === 2, `expected 2 outputs, got ${outs.length}: ${outs.join(', ')}`);
      return `walk ended in ${r.ms} ms; 2 outputs, the outside link not followed`;
    },
  },
  {
    id: 'output-inside-input',
    title: 'output folder inside the input folder, run twice: own outputs never re-processed',
    plan: [27],
    async run(ctx, env) {
      const shoot = join(ctx.in, 'shoot');
      await makeImage(join(shoot, 'a.jpg'));
      await makeImage(join(shoot, 'b.jpg'), 48, 32, 2);
      const out = join(shoot, 'results');
      ctx.seal();
      const args = ['denoise', shoot, '--recursive', '--out', out, '--threads', '1', '--sigma', '10', '--json', '--model', env.denoiser];
      const first = reportOf(await ctx.cli(args), 0);
      check(first.total === 2 && first.done === 2, `first run: total ${first.total}, done ${first.done}`);
      const second = reportOf(await ctx.cli(args), 0);
      check(second.total === 2, `second run saw ${second.total} inputs (its own outputs were taken as inputs)`);
      check(second.skipped === 2, `second run redid ${2 - second.skipped} files`);
      const outs = listImages(out);
      check(outs.length === 2, `outputs: ${outs.join(', ')}`);
      return 'second run: 2 inputs, 2 skipped, 2 outputs in all';
    },
  },
  {
    id: 'output-is-input',
    title: 'output would be the input: same folder, via a symlinked folder, via a hard link',
    plan: [26],
    async run(ctx, env) {
      const notes: string[] = [];
      // (1) --out is the input's own folder, no suffix
      const f = await makeImage(join(ctx.in, 'same', 'photo.jpg'));
      // (2) --out is a symlink to the input's folder
      const g = await makeImage(join(ctx.in, 'viaLink', 'photo.jpg'), 48, 32, 2);
      const linkDir = join(ctx.dir, 'link-to-input');
      symlinkSync(join(ctx.in, 'viaLink'), linkDir);
      // (3) the output name already exists in --out as a hard link to the input
      const h = await makeImage(join(ctx.in, 'hard', 'photo.jpg'), 48, 32, 3);
      const hardOut = join(ctx.dir, 'hard-out');
      mkdirSync(hardOut);
      linkSync(h, join(hardOut, 'photo.jpg'));
      ctx.seal();
      const runs: [string, string, string[]][] = [
        [f, join(ctx.in, 'same'), []],
        [g, linkDir, []],
        [h, hardOut, []],
        [h, hardOut, ['--overwrite']],
      ];
      for (const [input, out, extra] of runs) {
        const rep = reportOf(
          await ctx.cli(['denoise', input, '--out', out, '--threads', '1', '--sigma', '10', '--json', '--model', env.denoiser, ...extra]),
          [0, 1],
        );
        const e = entryFor(rep, input);
        if (e.status === 'failed') {
          check(e.error && ['E_WRITE', 'E_USAGE'].includes(e.error.code) && e.error.message.includes('photo.jpg'), `refusal unclear: ${JSON.stringify(e.error)}`);
          notes.push(`refused (${e.error.code})`);
        } else {
          check(e.status === 'done' && e.output && existsSync(e.output), `status ${e.status}`);
          check(basename(e.output) !== 'photo.jpg' || extra.includes('--overwrite'), `wrote over ${e.output}`);
          notes.push(`written as ${basename(e.output)}`);
        }
      }
      return notes.join('; ') + '; originals intact';
    },
  },
];
