// The reliability and security suite: `npm run test:reliability`
//   (= node --import tsx test/reliability/run.ts [--only id,id] [--skip id,id] [--list] [--keep] [--quick])
//
// Every case makes its own hostile inputs in a temp folder, runs the real CLI (or the web-mode
// server) on them and asserts the right output or a clear error (code + file name). Around every
// case the runner snapshots all protected files (sha256, size, mtime, inode) and afterwards
// counts originals changed and files lost, and checks that no file under a final output name is
// partial and no temp file is left. One line per case, then a table; the last line is
// "N passed, M failed"; the exit code is non-zero on any failure.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { encodeModel, floatTensor, identityConvWeights, type Node, type Tensor } from './onnx-writer.ts';
import { CaseFailure, CaseSkip, cliAvailable, Ctx, fmtMs, listAll, makeRoot, REPO, undecodable, type CaseResult } from './harness.ts';
import type { Case, SuiteEnv } from './cases/common.ts';
import { inputCases } from './cases/inputs.ts';
import { formatCases } from './cases/formats.ts';
import { pathCases } from './cases/paths.ts';
import { outputCases } from './cases/outputs.ts';
import { resumeCases } from './cases/resume.ts';
import { modelCases } from './cases/models.ts';
import { closeWeb, webCases } from './cases/web.ts';
import { memoryCases } from './cases/memory.ts';

const allCases: Case[] = [...inputCases, ...formatCases, ...pathCases, ...outputCases, ...resumeCases, ...modelCases, ...webCases, ...memoryCases];

const FIXTURE_MODELS = join(REPO, 'test/fixtures/models');
const IDENTITY_ID = 'rel-identity-denoise';
const NAN_ID = 'rel-nan-denoise';

/**
 * The suite's models folder: the committed fixture models plus two "denoisers" with the fixture
 * denoiser's inputs (image, sigma) and card: an identity, so colour, depth and orientation cases
 * can require output == input up to encoding tolerance, and one that emits only NaN/Inf.
 */
function prepareModels(root: string): SuiteEnv {
  const modelsDir = join(root, 'models');
  mkdirSync(modelsDir, { recursive: true });
  let denoiser: string | undefined;
  let upscaler: string | undefined;
  let denoiseCard: Record<string, unknown> | undefined;
  if (existsSync(FIXTURE_MODELS)) {
    for (const id of readdirSync(FIXTURE_MODELS).sort()) {
      const card = join(FIXTURE_MODELS, id, 'card.json');
      if (!existsSync(card)) continue;
      mkdirSync(join(modelsDir, id));
      for (const f of readdirSync(join(FIXTURE_MODELS, id))) copyFileSync(join(FIXTURE_MODELS, id, f), join(modelsDir, id, f));
      const c = JSON.parse(readFileSync(card, 'utf8')) as Record<string, unknown>;
      if (c.task === 'denoise' && (!denoiser || id === 'tiny-denoise')) {
        denoiser = id;
        denoiseCard = c;
      }
      if (c.task === 'upscale' && c.scale === 2) upscaler = id;
    }
  }
  if (!denoiser || !denoiseCard) throw new Error(`no denoise fixture model under ${FIXTURE_MODELS} (run npm run fixtures)`);
  const cardBase = denoiseCard;
  /** A "denoiser" with the fixture denoiser's inputs (image, sigma) and card; `tail` maps c (= image) to output. */
  const install = (id: string, name: string, description: string, tail: Node[], extra: Tensor[] = []) => {
    const model = encodeModel({
      inputs: [
        { name: 'image', shape: [1, 3, 'height', 'width'] },
        { name: 'sigma', shape: [1, 1, 'height', 'width'] },
      ],
      outputs: [{ name: 'output', shape: [1, 3, 'height', 'width'] }],
      nodes: [
        { op: 'Conv', inputs: ['image', 'w', 'b'], outputs: ['c0'] },
        { op: 'Mul', inputs: ['sigma', 'zero'], outputs: ['z'] },
        { op: 'Add', inputs: ['c0', 'z'], outputs: ['c'] },
        ...tail,
      ],
      initializers: [identityConvWeights(), floatTensor('b', [3], [0, 0, 0]), floatTensor('zero', [1], [0]), ...extra],
    });
    const dir = join(modelsDir, id);
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.onnx'), model);
    const card = {
      ...cardBase,
      id,
      name,
      architecture: `${name} (reliability suite)`,
      description,
      params: 12,
      macs_per_pixel: 9,
      sha256: createHash('sha256').update(model).digest('hex'),
      source: 'test/reliability/run.ts',
    };
    writeFileSync(join(dir, 'card.json'), JSON.stringify(card, null, 2) + '\n');
  };
  install(IDENTITY_ID, 'Identity', 'Returns its input: lets the reliability suite compare output and input pixels exactly.', [
    { op: 'Identity', inputs: ['c'], outputs: ['output'] },
  ]);
  // a bundled model that passed every check but emits NaN/Inf on real photos (a broken export, fp16 overflow)
  install(NAN_ID, 'Broken (NaN)', 'Divides by zero: every output value is NaN or infinite.', [{ op: 'Div', inputs: ['c', 'zero'], outputs: ['output'] }]);
  return { root, modelsDir, denoiser, identity: IDENTITY_ID, broken: NAN_ID, upscaler };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new CaseFailure(`${what}: case timed out after ${fmtMs(ms)}`)), ms);
    }),
  ]);
}

async function runCase(c: Case, env: SuiteEnv, keep: boolean): Promise<CaseResult> {
  const ctx = new Ctx(c.id, env.root, env.modelsDir);
  const t0 = Date.now();
  let status: CaseResult['status'] = 'pass';
  let detail = '';
  let originalsChanged = 0;
  let filesLost = 0;
  try {
    ctx.seal(); // cases seal again once their fixtures exist
    detail = await withTimeout(c.run(ctx, env), c.timeoutMs ?? 120_000, c.id);
  } catch (e) {
    if (e instanceof CaseSkip) {
      status = 'skip';
      detail = e.message;
    } else {
      status = 'fail';
      detail = e instanceof CaseFailure ? e.message : `unexpected error: ${(e as Error).stack ?? String(e)}`;
    }
  }
  if (status !== 'skip') {
    const problems: string[] = [];
    const v = ctx.verifyOriginals();
    originalsChanged = v.changed.length;
    filesLost = v.lost.length;
    if (v.changed.length) problems.push(`originals changed: ${v.changed.join(', ')}`);
    if (v.lost.length) problems.push(`files lost: ${v.lost.join(', ')}`);
    const partial = (await undecodable(ctx.out)).filter((b) => ![...ctx.damaged].some((d) => b.startsWith(`${d}:`)));
    if (partial.length) problems.push(`partial files under final names: ${partial.join('; ')}`);
    const temps = listAll(ctx.out).filter((n) => /\.(tmp|part)$/.test(n));
    if (temps.length) problems.push(`temp files left: ${temps.join(', ')}`);
    if (problems.length) {
      detail = status === 'fail' ? `${detail}; ${problems.join('; ')}` : problems.join('; ');
      status = 'fail';
    }
  }
  const cleanupErrors = ctx.runCleanups();
  if (cleanupErrors.length) detail += ` (cleanup: ${cleanupErrors.join('; ')})`;
  if (keep || status === 'fail') detail += ` [kept ${ctx.dir}]`;
  else ctx.removeDir();
  return { id: c.id, status, detail, ms: Date.now() - t0, originalsChanged, filesLost };
}

function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  const v = Math.max(...rows.map(([, x]) => x.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(v + 2)}+`;
  return [line, ...rows.map(([k, x]) => `| ${k.padEnd(w)} | ${x.padStart(v)} |`), line].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const list = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  };
  const only = list('--only');
  const skipIds = list('--skip') ?? [];
  const keep = argv.includes('--keep');
  let cases = allCases.filter((c) => (!only || only.some((o) => c.id === o || (o.endsWith('*') && c.id.startsWith(o.slice(0, -1))))) && !skipIds.includes(c.id));
  if (argv.includes('--quick')) cases = cases.filter((c) => !c.id.startsWith('memory-'));
  if (argv.includes('--list')) {
    for (const c of allCases) console.log(`${c.id.padEnd(28)} plan ${c.plan.join(',').padEnd(6)} ${c.title}`);
    console.log(`${allCases.length} cases`);
    return;
  }
  if (!cliAvailable()) console.log('note: neither bin/restora.js nor app/cli/main.ts exists; CLI cases will fail');
  const root = makeRoot();
  const env = prepareModels(root);
  console.log(`restora reliability suite: ${cases.length} cases, models ${env.denoiser} + ${env.identity}, work dir ${root}`);
  const t0 = Date.now();
  const results: CaseResult[] = [];
  for (const c of cases) {
    const r = await runCase(c, env, keep);
    results.push(r);
    const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
    // CI's summary takes "<n> passed/failed/skipped" from any line: only the last line may say that
    const detail = r.detail.replace(/\n/g, ' ').replace(/(\d+)(\s+)(passed|failed|skipped)\b/g, '($1)$2$3');
    console.log(`${tag}  ${c.id.padEnd(28)} ${fmtMs(r.ms).padStart(7)}  ${detail}`);
  }
  await closeWeb();
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  const changed = results.reduce((a, r) => a + r.originalsChanged, 0);
  const lost = results.reduce((a, r) => a + r.filesLost, 0);
  console.log('');
  console.log(
    table([
      ['cases run', String(results.length - skipped)],
      ['passed', String(passed)],
      ['failed', String(failed)],
      ['skipped', String(skipped)],
      ['originals changed (must be 0)', String(changed)],
      ['files lost (must be 0)', String(lost)],
      ['time', fmtMs(Date.now() - t0)],
    ]),
  );
  if (failed) console.log(`failed: ${results.filter((r) => r.status === 'fail').map((r) => r.id).join(', ')}`);
  if (!keep && !failed) {
    try {
      (await import('node:fs')).rmSync(root, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed || changed || lost ? 1 : 0;
}

await main();
