// Memory measurements of the real CLI as a child process (RSS read from /proc, summed over the
// child's process tree):
//   soak:  an N-file batch of small images; RSS sampled against files done; least-squares slope
//          in MB per 100 files after a warm-up (the first 10 % of files), which must stay flat.
//   peak:  one 24-megapixel photo denoised; the largest VmHWM of any process in the tree.
//
//   node --import tsx test/reliability/memory.ts --files 1000 --model tiny-denoise --threads 2
//        [--side 64] [--mp 24] [--no-peak] [--no-soak] [--keep]
// The suite runs a cheap version of both (see cases/memory.ts).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { pattern, rng, writeRaw } from './fixtures.ts';
import { makeRoot, REPO, runCli } from './harness.ts';

export interface SoakResult {
  files: number;
  seconds: number;
  samples: number;
  warmup: number; // files done before samples count
  startMB: number; // RSS after warm-up
  endMB: number;
  peakMB: number;
  slopeMBper100: number; // least squares over samples after warm-up
  exit: number | null;
}

export interface PeakResult {
  megapixels: number;
  seconds: number;
  peakHwmMB: number; // largest VmHWM of one process
  exit: number | null;
  output?: { width: number; height: number }; // the written result, when there is one
  input: { width: number; height: number };
  stderr: string;
}

export interface MemoryOptions {
  dir: string; // work folder (inputs and outputs go under it)
  model: string;
  threads: number;
  env?: Record<string, string>;
  /** Called with the inputs folder once the inputs exist, before the CLI starts (snapshots). */
  onInputs?: (dir: string) => void;
}

/** Least-squares slope of y on x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

function countFiles(dir: string): number {
  try {
    return readdirSync(dir).filter((n) => /\.(jpe?g|png)$/i.test(n)).length;
  } catch {
    return 0;
  }
}

/** N small JPEGs (distinct content, so no cache can shortcut them). */
export async function makeSmallBatch(dir: string, n: number, side: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const base = pattern(side, side, 1);
  const r = rng(99);
  for (let k = 0; k < n; k++) {
    const data = Buffer.from(base.data);
    for (let i = 0; i < data.length; i += 7) data[i] = (data[i] + Math.floor(r() * 40)) & 255;
    await writeRaw(join(dir, `f${String(k).padStart(5, '0')}.jpg`), { ...base, data }, 'jpeg', { quality: 85 });
  }
}

export async function soak(o: MemoryOptions & { files: number; side: number; warmup?: number; onSample?: (x: number, rss: number) => void }): Promise<SoakResult> {
  const inDir = join(o.dir, 'soak-in');
  const outDir = join(o.dir, 'soak-out');
  await makeSmallBatch(inDir, o.files, o.side);
  o.onInputs?.(inDir);
  const xs: number[] = [];
  const ys: number[] = [];
  const t0 = Date.now();
  const r = await runCli(['denoise', inDir, '--out', outDir, '--threads', String(o.threads), '--sigma', '15', '--model', o.model, '--json'], {
    env: o.env,
    timeoutMs: 3_600_000,
    sample: {
      // every 60 ms (the harness ticks every 30): the quick case's 400 small files can finish their last 200 in
      // about a second, which at 250 ms left 4-7 samples after warm-up, and the case failed on a fast run
      everyMs: 60,
      x: () => countFiles(outDir),
      onSample: (x, rss) => {
        xs.push(x);
        ys.push(rss);
        o.onSample?.(x, rss);
      },
    },
  });
  const warm = o.warmup ?? Math.ceil(o.files * 0.1);
  const keep = xs.map((x, i) => [x, ys[i]] as const).filter(([x]) => x >= warm && x < o.files);
  const kx = keep.map(([x]) => x);
  const ky = keep.map(([, y]) => y);
  return {
    files: o.files,
    seconds: (Date.now() - t0) / 1000,
    samples: keep.length,
    warmup: warm,
    startMB: ky[0] ?? 0,
    endMB: ky[ky.length - 1] ?? 0,
    peakMB: Math.max(0, ...ys),
    slopeMBper100: slope(kx, ky) * 100,
    exit: r.code,
  };
}

/** A photo-like 24 MP JPEG (6000x4000): gradients plus grain, so the denoiser has work. */
export async function makeBigPhoto(file: string, megapixels: number): Promise<{ width: number; height: number }> {
  const height = Math.round(Math.sqrt((megapixels * 1e6 * 2) / 3));
  const width = Math.round((height * 3) / 2);
  const small = pattern(600, 400, 3);
  // upscale a small pattern and add grain in libvips, not in JS: fast and low on memory
  const grain = await sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 12 } } }).raw().toBuffer();
  await sharp(small.data, { raw: { width: 600, height: 400, channels: 3 } })
    .resize(width, height, { kernel: 'linear' })
    .composite([{ input: grain, raw: { width, height, channels: 3 }, blend: 'soft-light' }])
    .jpeg({ quality: 90 })
    .toFile(file);
  return { width, height };
}

export async function peak(o: MemoryOptions & { megapixels: number; timeoutMs?: number }): Promise<PeakResult> {
  const inDir = join(o.dir, 'peak-in');
  mkdirSync(inDir, { recursive: true });
  const file = join(inDir, 'big.jpg');
  const size = await makeBigPhoto(file, o.megapixels);
  o.onInputs?.(inDir);
  const t0 = Date.now();
  const r = await runCli(['denoise', file, '--out', join(o.dir, 'peak-out'), '--threads', String(o.threads), '--sigma', '15', '--model', o.model, '--json'], {
    env: o.env,
    timeoutMs: o.timeoutMs ?? 1_800_000,
  });
  const seconds = (Date.now() - t0) / 1000;
  let output: PeakResult['output'];
  try {
    const m = await sharp(join(o.dir, 'peak-out', 'big.jpg'), { limitInputPixels: false }).metadata();
    output = { width: m.width ?? 0, height: m.height ?? 0 };
  } catch {
    output = undefined;
  }
  return { megapixels: o.megapixels, seconds, peakHwmMB: r.peakRssMB, exit: r.code, stderr: r.stderr, output, input: size };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : d;
  };
  const files = Number(opt('files', '1000'));
  const model = opt('model', 'tiny-denoise');
  const threads = Number(opt('threads', '2'));
  const side = Number(opt('side', '64'));
  const mp = Number(opt('mp', '24'));
  const modelsDir = resolve(opt('models-dir', process.env.RESTORA_MODELS_DIR ?? join(REPO, 'test/fixtures/models')));
  const root = makeRoot();
  const env = { RESTORA_MODELS_DIR: modelsDir, HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'home/.config'), NO_COLOR: '1' };
  let ok = true;
  try {
    if (!argv.includes('--no-soak')) {
      const s = await soak({ dir: root, model, threads, files, side, env });
      console.log(
        `soak: ${s.files} files of ${side}x${side} in ${s.seconds.toFixed(0)} s (exit ${s.exit}); RSS ${s.startMB.toFixed(0)} -> ${s.endMB.toFixed(0)} MB ` +
          `(peak ${s.peakMB.toFixed(0)}); slope ${s.slopeMBper100.toFixed(2)} MB per 100 files over ${s.samples} samples after warm-up`,
      );
      ok &&= s.exit === 0;
    }
    if (!argv.includes('--no-peak')) {
      const p = await peak({ dir: root, model, threads, megapixels: mp, env });
      console.log(`peak: ${p.megapixels} MP denoised in ${p.seconds.toFixed(0)} s (exit ${p.exit}); peak RSS (VmHWM) ${p.peakHwmMB.toFixed(0)} MB; limit 2048 MB: ${p.peakHwmMB <= 2048 ? 'ok' : 'OVER'}`);
      if (p.exit !== 0) console.log(p.stderr.trim().split('\n').slice(-5).join('\n'));
      ok &&= p.exit === 0 && p.peakHwmMB <= 2048;
    }
  } finally {
    if (!argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
  process.exitCode = ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
