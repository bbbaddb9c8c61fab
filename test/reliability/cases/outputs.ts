// Where outputs go: read-only and full output folders (small tmpfs mounts), name collisions,
// overwrite through links, and a batch that goes on past failures with a complete report.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeImage, noise, pattern, writeRaw } from '../fixtures.ts';
import { check, listAll, listImages, sha256, skip, type Ctx } from '../harness.ts';
import { denoise, entryFor, expectDone, expectFailed, human, reportOf, type Case } from './common.ts';

/** Mount a small tmpfs at dir (root only); skips the case with the reason when not permitted. */
function mountTmpfs(ctx: Ctx, dir: string, opts: string): () => void {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    skip(`cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]})`);
  }
  const umount = () => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
  };
  ctx.onCleanup(umount);
  return umount;
}

export const outputCases: Case[] = [
  {
    id: 'read-only-output',
    title: 'output folder on a read-only mount: clear error, nothing lost, nothing written',
    plan: [24],
    async run(ctx, env) {
      const files = [await makeImage(join(ctx.in, 'a.jpg')), await makeImage(join(ctx.in, 'b.png'), 48, 32, 2)];
      const ro = join(ctx.dir, 'ro');
      mountTmpfs(ctx, ro, 'ro,size=1m');
      ctx.seal();
      const r = await ctx.cli(['denoise', ...files, '--out', ro, '--threads', '1', '--sigma', '10', '--json', '--model', env.denoiser]);
      const rep = reportOf(r, 1);
      for (const f of files) expectFailed(rep, f, ['E_READ_ONLY']);
      check(listAll(ro).length === 0, `files appeared on the read-only mount: ${listAll(ro).join(', ')}`);
      return `both E_READ_ONLY: "${entryFor(rep, files[0]).error!.message}"`;
    },
  },
  {
    id: 'full-output-disk',
    title: 'output on a 1 MB tmpfs that fills mid-batch: E_NO_SPACE, no partial file, earlier files kept',
    plan: [23],
    async run(ctx, env) {
      // outputs of noise images are ~190 KB each as PNG: 3 fit beside the 400 KB keeper, 8 do not
      const files: string[] = [];
      for (let k = 0; k < 8; k++) files.push(await writeRaw(join(ctx.in, `n${k}.png`), noise(256, 256, 30 + k), 'png'));
      const full = join(ctx.dir, 'full');
      mountTmpfs(ctx, full, 'size=1m');
      const keeper = join(full, 'keep-me.bin');
      writeFileSync(keeper, Buffer.alloc(400 * 1024, 0x5a));
      ctx.protect(keeper);
      ctx.seal();
      const r = await ctx.cli(['denoise', ...files, '--out', full, '--threads', '1', '--sigma', '10', '--json', '--model', env.identity]);
      const rep = reportOf(r, 1);
      const done = rep.files.filter((f) => f.status === 'done');
      const failed = rep.files.filter((f) => f.status === 'failed');
      check(failed.length > 0, 'nothing failed: the disk never filled');
      for (const f of failed) expectFailed(rep, f.input, ['E_NO_SPACE']);
      check(failed.some((f) => /full|space/i.test(f.error!.message)), `no message says the disk is full: ${failed[0].error!.message}`);
      for (const f of done) await expectDone(rep, f.input);
      const stray = listAll(full).filter((n) => n !== 'keep-me.bin' && !done.some((d) => basename(d.output!) === n) && !n.startsWith('.restora-batch-') && !n.startsWith('restora-report-'));
      check(stray.length === 0, `leftovers on the full disk: ${stray.join(', ')}`);
      return `${done.length} written, ${failed.length} E_NO_SPACE ("${failed[0].error!.message.slice(0, 70)}"); no temp or partial file left`;
    },
  },
  {
    id: 'name-collisions',
    title: 'a.jpg + a.png -> png, with an earlier a.png in the output: -1, -2, nothing overwritten',
    plan: [25],
    async run(ctx, env) {
      const a1 = await makeImage(join(ctx.in, 'a.jpg'));
      const a2 = await makeImage(join(ctx.in, 'a.png'), 48, 32, 2);
      mkdirSync(ctx.out, { recursive: true });
      const earlier = await makeImage(join(ctx.out, 'a.png'), 16, 16, 3);
      const earlierHash = sha256(earlier);
      ctx.protect(earlier);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [a1, a2], ['--format', 'png']), 0);
      const o1 = (await expectDone(rep, a1)).entry.output!;
      const o2 = (await expectDone(rep, a2)).entry.output!;
      const names = [basename(o1), basename(o2)].sort();
      check(JSON.stringify(names) === JSON.stringify(['a-1.png', 'a-2.png']), `outputs named ${names.join(', ')}`);
      check(sha256(earlier) === earlierHash, 'the earlier a.png was overwritten');
      // a second, different command (new suffix) must not touch the first one's files either
      const before = Object.fromEntries(listImages(ctx.out).map((n) => [n, sha256(join(ctx.out, n))]));
      const rep2 = reportOf(await denoise(ctx, env, [a2], ['--format', 'png', '--suffix', '']), 0);
      const o3 = entryFor(rep2, a2).output ?? '';
      for (const [n, h] of Object.entries(before)) check(sha256(join(ctx.out, n)) === h, `${n} changed by the second run`);
      return `a-1.png, a-2.png; earlier a.png kept; rerun wrote ${basename(o3)}`;
    },
  },
  {
    id: 'overwrite-through-link',
    title: '--overwrite where the output name is a symlink to a protected file: the link is replaced, never its target',
    plan: [26],
    async run(ctx, env) {
      const f = await makeImage(join(ctx.in, 'photo.png'));
      const precious = await writeRaw(join(ctx.dir, 'precious', 'family.png'), pattern(20, 20, 21), 'png');
      mkdirSync(ctx.out, { recursive: true });
      symlinkSync(precious, join(ctx.out, 'photo.png'));
      ctx.protect(precious);
      ctx.seal();
      const rep = reportOf(await denoise(ctx, env, [f], ['--overwrite']), 0);
      const { entry } = await expectDone(rep, f);
      return `wrote ${basename(entry.output!)}; the linked file outside is unchanged`;
    },
  },
  {
    id: 'failures-isolated-report',
    title: 'one bad file never stops a batch: 4 good + 4 bad, report (JSON and human) lists each failure',
    plan: [3, 21],
    async run(ctx, env) {
      const good = await Promise.all([0, 1, 2, 3].map((k) => makeImage(join(ctx.in, `good-${k}.jpg`), 40, 30, k + 1)));
      const trunc = join(ctx.in, 'bad-truncated.jpg');
      writeFileSync(trunc, readFileSync(good[0]).subarray(0, 300));
      const empty = join(ctx.in, 'bad-empty.png');
      writeFileSync(empty, '');
      const missing = join(ctx.in, 'bad-missing.jpg');
      const text = join(ctx.in, 'bad-text.tif');
      writeFileSync(text, 'not a tiff');
      const order = [good[0], trunc, good[1], empty, missing, good[2], text, good[3]];
      ctx.seal();
      const r = await denoise(ctx, env, order);
      const rep = reportOf(r, 1);
      check(rep.done === 4, `done ${rep.done}, expected 4`);
      check(rep.failed === 4, `failed ${rep.failed}, expected 4`);
      expectFailed(rep, trunc, 'E_DECODE');
      expectFailed(rep, empty, 'E_DECODE');
      expectFailed(rep, missing, 'E_NOT_FOUND');
      expectFailed(rep, text, ['E_DECODE', 'E_UNSUPPORTED']);
      for (const g of good) await expectDone(rep, g);
      // the same failures in words, for a person at a terminal (no --json)
      const h = await ctx.cli(['denoise', ...order, '--out', ctx.out, '--threads', '1', '--sigma', '10', '--model', env.denoiser]);
      check(h.code === 1, `human run exit ${h.code}`);
      const text2 = human(h);
      for (const [f, code] of [
        [trunc, 'E_DECODE'],
        [empty, 'E_DECODE'],
        [missing, 'E_NOT_FOUND'],
      ] as const) {
        const line = text2.split('\n').find((l) => l.includes(basename(f)) && l.includes(code));
        check(line, `the human report has no line naming ${basename(f)} with ${code}`);
      }
      return `exit 1; 4 done, 4 failures, each with code and file name in JSON and in words`;
    },
  },
];
