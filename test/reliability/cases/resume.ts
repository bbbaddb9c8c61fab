// Crash and resume: a batch killed with SIGKILL at several points, then run again, finishes only
// what is missing, leaves finished outputs alone (same inode, mtime and bytes), and never shows
// a half-written file under a final name.
import { lstatSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pattern, writeRaw } from '../fixtures.ts';
import { check, listAll, listImages, sha256, undecodable, type Ctx } from '../harness.ts';
import { entryFor, reportOf, type Case, type SuiteEnv } from './common.ts';

function outputState(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of listImages(dir)) {
    const st = lstatSync(join(dir, f));
    m.set(f, `${st.ino}:${st.mtimeMs}:${sha256(join(dir, f))}`);
  }
  return m;
}

async function makeInputs(ctx: Ctx, n: number, side: number): Promise<string[]> {
  const files: string[] = [];
  for (let k = 0; k < n; k++) files.push(await writeRaw(join(ctx.in, 'shoot', `img-${String(k).padStart(3, '0')}.jpg`), pattern(side, side, k + 1), 'jpeg'));
  return files;
}

function batchArgs(ctx: Ctx, env: SuiteEnv, extra: string[] = []): string[] {
  return ['denoise', join(ctx.in, 'shoot'), '--out', ctx.out, '--threads', '1', '--sigma', '10', '--json', '--model', env.denoiser, ...extra];
}

export const resumeCases: Case[] = [
  {
    id: 'kill-9-resume',
    title: 'SIGKILL mid-batch three times, then resume: only missing files done, finished ones untouched',
    plan: [21],
    timeoutMs: 240_000,
    async run(ctx, env) {
      const N = 36;
      const files = await makeInputs(ctx, N, 160);
      ctx.seal();
      const kills: string[] = [];
      // kill right after an output appears, then at odd moments after one (mid-decode, mid-write)
      for (const [at, delayMs] of [
        [3, 0],
        [12, 23],
        [22, 61],
      ]) {
        let reached = 0;
        const killWhen = () => {
          if (!reached && listImages(ctx.out).length >= at) reached = Date.now();
          return reached > 0 && Date.now() - reached >= delayMs;
        };
        const r = await ctx.cli(batchArgs(ctx, env), { killWhen, timeoutMs: 120_000 });
        check(r.killed, `the batch ended (exit ${r.code}) before ${at} outputs existed; it cannot be killed mid-way`);
        const bad = await undecodable(ctx.out);
        check(bad.length === 0, `after kill -9: partial file under a final name: ${bad.join('; ')}`);
        const n = listImages(ctx.out).length;
        check(n < N, `all ${N} outputs existed when killed`);
        kills.push(String(n));
      }
      // what a crash between the writer's temp write and its rename leaves (a pid that cannot run)
      const stale = join(ctx.out, '.restora-4194303-0123456789ab.tmp');
      writeFileSync(stale, 'half an image');
      const before = outputState(ctx.out);
      const r = await ctx.cli(batchArgs(ctx, env, ['--resume']), { timeoutMs: 120_000 });
      const rep = reportOf(r, 0);
      check(rep.total === N, `resume saw ${rep.total} files`);
      check(rep.done + rep.skipped === N && rep.failed === 0, `resume: done ${rep.done}, skipped ${rep.skipped}, failed ${rep.failed}`);
      // a file renamed into place in the instant before the kill, not yet journaled, is redone in place
      check(rep.skipped >= before.size - 1, `only ${rep.skipped} of ${before.size} finished outputs were kept`);
      const after = outputState(ctx.out);
      check(after.size === N, `${after.size} outputs after resume, expected ${N}: ${[...after.keys()].filter((k) => /-\d+\./.test(k)).join(', ')}`);
      for (const f of files) {
        const e = entryFor(rep, f);
        const name = basename(e.output ?? '');
        check(name === basename(f), `${basename(f)} -> ${name}: a duplicate name instead of the claimed one`);
        if (e.status === 'skipped') check(before.get(name) === after.get(name), `${name} was reported kept but changed`);
      }
      const redone = [...before.keys()].filter((k) => before.get(k) !== after.get(k));
      check(redone.length <= 1, `finished outputs redone: ${redone.join(', ')}`);
      const temps = listAll(ctx.out).filter((n) => /\.(tmp|part)$/.test(n));
      check(temps.length === 0, `temp files left: ${temps.join(', ')}`);
      return `killed at ${kills.join(', ')} outputs; resume did ${rep.done}, kept ${rep.skipped}; ${N} outputs, 0 partial, 0 duplicates, stale temp removed`;
    },
  },
  ...([true, false] as const).map(
    (group): Case => ({
      id: group ? 'cancel-ctrl-c' : 'cancel-sigint-pid',
      title: group
        ? 'Ctrl-C (SIGINT to the process group, as a terminal sends it) mid-batch: prompt clean stop with a report, then resume'
        : 'SIGINT to the restora process only (kill -INT <pid>) mid-batch: prompt clean stop with a report',
      plan: [33],
      timeoutMs: 180_000,
      async run(ctx, env) {
        const N = 24;
        await makeInputs(ctx, N, 160);
        ctx.seal();
        const r = await ctx.cli(batchArgs(ctx, env), { interrupt: { when: () => listImages(ctx.out).length >= 4, signal: 'SIGINT', group }, timeoutMs: 120_000 });
        check(r.msAfterInterrupt !== undefined, `the batch ended (exit ${r.code}) before it could be interrupted`);
        check(r.msAfterInterrupt < 5000, `it took ${r.msAfterInterrupt} ms to stop after SIGINT`);
        const rep = reportOf(r, [1, 130]);
        check(rep.cancelled, 'the report does not say the batch was cancelled');
        const cancelled = rep.files.filter((f) => f.status === 'cancelled').length;
        check(cancelled > 0 && rep.done < N, `done ${rep.done}, cancelled ${cancelled} of ${N}`);
        const kept = outputState(ctx.out);
        check(kept.size === rep.done, `${kept.size} outputs on disk, report says ${rep.done} done`);
        const temps = listAll(ctx.out).filter((n) => /\.(tmp|part)$/.test(n));
        check(temps.length === 0, `temp files left after cancel: ${temps.join(', ')}`);
        const again = reportOf(await ctx.cli(batchArgs(ctx, env)), 0);
        check(again.skipped === rep.done && again.done === N - rep.done, `resume after cancel: done ${again.done}, skipped ${again.skipped}`);
        for (const [n, st] of kept) check(outputState(ctx.out).get(n) === st, `${n} changed by the resume`);
        return `stopped ${r.msAfterInterrupt} ms after SIGINT (exit ${r.code}): ${rep.done} done, ${cancelled} cancelled; resume did the rest`;
      },
    }),
  ),
  {
    id: 'resume-verifies-outputs',
    title: 'rerun after outputs were damaged or deleted: deleted redone, damaged one never overwritten, rest kept',
    plan: [21],
    async run(ctx, env) {
      const files = await makeInputs(ctx, 6, 48);
      ctx.seal();
      const first = reportOf(await ctx.cli(batchArgs(ctx, env)), 0);
      check(first.done === 6, `first run done ${first.done}`);
      const damaged = entryFor(first, files[1]).output!;
      const deleted = entryFor(first, files[2]).output!;
      truncateSync(damaged, 100);
      ctx.damaged.add(basename(damaged));
      rmSync(deleted);
      const damagedHash = sha256(damaged);
      const keep = outputState(ctx.out);
      const rep = reportOf(await ctx.cli(batchArgs(ctx, env)), 0);
      check(rep.skipped === 4, `kept ${rep.skipped} intact outputs, expected 4`);
      check(rep.done === 2, `redid ${rep.done} files, expected 2 (the damaged and the deleted one)`);
      check(sha256(damaged) === damagedHash, 'the damaged file (changed by someone else) was overwritten');
      const redoneDamaged = entryFor(rep, files[1]).output!;
      check(redoneDamaged !== damaged, 'the damaged output was written in place');
      check(entryFor(rep, files[2]).output === deleted, 'the deleted output was not rewritten under its name');
      const bad = (await undecodable(ctx.out)).filter((b) => !b.startsWith(basename(damaged)));
      check(bad.length === 0, `undecodable outputs: ${bad.join('; ')}`);
      for (const [n, s] of keep) if (n !== basename(damaged)) check(outputState(ctx.out).get(n) === s, `${n} changed`);
      return `4 kept, deleted one redone in place, damaged one left and redone as ${basename(redoneDamaged)}`;
    },
  },
];
