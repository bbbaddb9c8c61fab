// Cheap versions of the memory measurements (memory.ts has the full ones): a 400-file batch must
// hold RSS flat once warm (the allocator and V8 grow over the first ~150-200 files, then stay),
// and denoising a 24-megapixel photo must peak at no more than 2 GB.
import { peak, soak } from '../memory.ts';
import { check } from '../harness.ts';
import type { Case } from './common.ts';

/** The plan's limit (row 34): under 5 MB per 100 files. */
const SOAK_SLOPE_LIMIT = 5;
const PEAK_LIMIT_MB = 2048;

export const memoryCases: Case[] = [
  {
    id: 'memory-soak-400',
    title: '400-file batch (48x48 JPEGs): RSS flat after the first 200 (least-squares slope per 100 files)',
    plan: [34],
    timeoutMs: 300_000,
    async run(ctx, env) {
      const onInputs = (d: string) => {
        ctx.protect(d);
        ctx.seal();
      };
      const s = await soak({ dir: ctx.dir, model: env.denoiser, threads: 1, files: 400, side: 48, warmup: 200, env: ctx.env, onInputs });
      check(s.exit === 0, `the batch exited ${s.exit}`);
      check(s.samples >= 5, `only ${s.samples} RSS samples`);
      check(s.slopeMBper100 < SOAK_SLOPE_LIMIT, `RSS grows ${s.slopeMBper100.toFixed(2)} MB per 100 files (limit ${SOAK_SLOPE_LIMIT})`);
      return `slope ${s.slopeMBper100.toFixed(2)} MB/100 files (${s.samples} samples, RSS ${s.startMB.toFixed(0)} -> ${s.endMB.toFixed(0)} MB, ${s.seconds.toFixed(0)} s)`;
    },
  },
  {
    id: 'memory-24mp-peak',
    title: 'denoise a 24-megapixel photo: peak RSS <= 2 GB',
    plan: [35],
    timeoutMs: 600_000,
    async run(ctx, env) {
      const onInputs = (d: string) => {
        ctx.protect(d);
        ctx.seal();
      };
      const p = await peak({ dir: ctx.dir, model: env.denoiser, threads: 2, megapixels: 24, env: ctx.env, timeoutMs: 580_000, onInputs });
      check(p.exit === 0, `exit ${p.exit}: ${p.stderr.trim().split('\n').slice(-3).join(' ')}`);
      check(p.output && p.output.width === p.input.width && p.output.height === p.input.height, `output ${JSON.stringify(p.output)} for a ${p.input.width}x${p.input.height} input`);
      check(p.peakHwmMB <= PEAK_LIMIT_MB, `peak RSS ${p.peakHwmMB.toFixed(0)} MB > ${PEAK_LIMIT_MB} MB`);
      return `${p.input.width}x${p.input.height} done, peak RSS ${p.peakHwmMB.toFixed(0)} MB in ${p.seconds.toFixed(0)} s`;
    },
  },
];
