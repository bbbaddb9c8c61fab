#!/usr/bin/env node
// Measures speed with `restora bench` (the engine's own path) and the 24 MP memory peak, writes
// docs/speed.json and the speed table of README.md (between <!-- speed:start --> and
// <!-- speed:end -->). Run it with nothing else busy on the machine.
//
//   node scripts/speed-report.mjs [--threads 2] [--repeats 3] [--no-memory]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { atomicWrite, replaceSection } from './lib/docs-io.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, repeats: { type: 'string', default: '3' }, 'no-memory': { type: 'boolean', default: false } },
});

const benchArgs = ['bench', '--threads', opt.threads, '--ep', 'cpu', '--repeats', opt.repeats, '--json'];
// the denoiser's "Best quality" (8 passes) row comes from a second bench run
const bestArgs = ['bench', '--task', 'denoise', '--passes', '8', '--threads', opt.threads, '--ep', 'cpu', '--repeats', opt.repeats, '--json'];
function runBench(args) {
  const b = spawnSync(process.execPath, [path.join(root, 'bin', 'restora.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const last = (b.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(last);
  } catch {
    console.error(`restora ${args.join(' ')} failed (exit ${b.status}):\n${(b.stderr || '').slice(-2000)}`);
    process.exit(1);
  }
}
const bench = runBench(benchArgs);
bench.results.push(...runBench(bestArgs).results);
atomicWrite(path.join(root, 'docs', 'speed.json'), JSON.stringify(bench) + '\n');

let memoryLine = '';
if (!opt['no-memory']) {
  const args = ['--import', 'tsx', path.join(root, 'test', 'reliability', 'memory.ts'), '--no-soak', '--model', 'restora-denoise', '--threads', opt.threads, '--models-dir', path.join(root, 'models')];
  const m = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 16 << 20 });
  const peak = /peak: (\d+) MP denoised in (\d+) s \(exit (\d+)\); peak RSS \(VmHWM\) (\d+) MB/.exec(m.stdout || '');
  if (peak && peak[3] === '0') {
    memoryLine = `A ${peak[1]}-megapixel denoise (card tile, \`node --import tsx test/reliability/memory.ts --no-soak --model restora-denoise --threads ${opt.threads} --models-dir models\`) took ${peak[2]} s and peaked at ${peak[4]} MB RSS.`;
  } else {
    console.error(`memory peak run failed (exit ${m.status}):\n${(m.stdout || '').slice(-1000)}\n${(m.stderr || '').slice(-1000)}`);
  }
}

const targets = { denoise: '≤ 1.5 s/MP', 'upscale-x2': '≤ 1.5 s per output MP', 'upscale-x4': '≤ 1.5 s per output MP', inpaint: '≤ 3 s for 1 MP', preview: 'about 1 s' };
const mc = bench.machine;
let md = `Measured with \`node scripts/speed-report.mjs\` (it runs \`npx restora ${benchArgs.join(' ')}\`, and for the 8-pass row \`npx restora ${bestArgs.join(' ')}\`) on this ${mc.cores}-core machine (${mc.cpu}, ONNX Runtime ${mc.onnxruntime}, ${mc.ep.toUpperCase()}), median of ${opt.repeats}, with nothing else running. An upscaler’s megapixels are those of its output. \`tiles\` is the engine’s window plan for the image; \`overhead\` is end-to-end time over bare \`session.run\` time on the same tiles. Raw numbers are in \`docs/speed.json\`.\n\n`;
md += '| task | model | input | seconds | s per MP | target | tiles | peak RSS | overhead |\n|---|---|---|---|---|---|---|---|---|\n';
for (const r of bench.results) {
  const best = r.passes === 8;
  md += `| ${r.task}${best ? ', 8 passes' : ''} | ${r.model} | ${r.width}x${r.height} | ${r.seconds.toFixed(2)} | ${r.seconds_per_mp.toFixed(2)} | ${best ? 'none (the Best quality option)' : targets[r.task] ?? ''} | ${r.tiles} × ${r.tile} px${best ? ' × 8' : ''} | ${r.peak_rss_mb} MB | ${r.overhead_ratio.toFixed(2)} |\n`;
}
if (memoryLine) md += `\n${memoryLine}\n`;

// keep a memory paragraph written by hand (e.g. the 1000-file soak) after the generated part
replaceSection(path.join(root, 'README.md'), 'speed', (old) => {
  const kept = old.split('\n').filter((l) => l.startsWith('Memory')).join('\n');
  return md + (kept ? `\n${kept}\n` : '');
});
console.log(md);
