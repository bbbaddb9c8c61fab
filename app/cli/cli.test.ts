// The real command, spawned as users run it (bin/restora.js), on tiny fixtures: the fixture models
// of test/fixtures/models (RESTORA_MODELS_DIR) and 48x40 images made here.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchReport } from '../contract/index.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(repo, 'bin', 'restora.js');
const fixtureModels = path.join(repo, 'test', 'fixtures', 'models');
const haveModels = existsSync(path.join(fixtureModels, 'tiny-denoise', 'model.onnx')) && existsSync(path.join(repo, 'app', 'engine', 'index.ts'));
if (!haveModels) console.log('skipping the CLI runs that need the engine: fixture models or app/engine/index.ts missing');

let dir: string;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `restora args` as a child left running (for signals and kills): the fixture models unless `models`, stdout
 * piped, stderr piped only when asked, in a process group of its own when `detached` (a terminal's job).
 */
function startRestora(args: string[], o: { models?: string; stderr?: boolean; detached?: boolean } = {}): ChildProcess & { stdout: Readable; stderr: Readable } {
  // stderr is there only when asked for (piped); the tests read it only then
  return spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, RESTORA_MODELS_DIR: o.models ?? fixtureModels, RESTORA_DATA_DIR: path.join(dir, 'data') },
    stdio: ['ignore', 'pipe', o.stderr ? 'pipe' : 'ignore'],
    ...(o.detached ? { detached: true } : {}),
  }) as ChildProcess & { stdout: Readable; stderr: Readable };
}

function restora(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd ?? dir,
      env: {
        ...process.env,
        RESTORA_MODELS_DIR: fixtureModels,
        RESTORA_USER_MODELS_DIR: path.join(dir, 'user-models'),
        RESTORA_DATA_DIR: path.join(dir, 'data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function photo(file: string, seed: number, w = 48, h = 40): Promise<string> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = (y * w + x) * 3;
      raw[k] = (x * 5 + seed * 40) & 255;
      raw[k + 1] = (y * 6 + seed * 20) & 255;
      raw[k + 2] = (((x >> 3) ^ (y >> 3)) & 1) * 120 + 60;
    }
  }
  await mkdir(path.dirname(file), { recursive: true });
  const s = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  await (file.endsWith('.jpg') ? s.jpeg({ quality: 92 }) : s.png()).toFile(file);
  return file;
}

async function fingerprint(files: string[]): Promise<string[]> {
  return Promise.all(files.map(async (f) => `${f} ${createHash('sha256').update(await readFile(f)).digest('hex')} ${(await stat(f)).mtimeMs}`));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'restora-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('restora (usage)', () => {
  it('prints usage and exits 2 on a usage error', async () => {
    for (const args of [['denoise'], ['upscale', 'a.png', '--scale', '3', '--frobnicate']]) {
      const r = await restora(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage: restora');
      expect(r.stdout).toBe('');
    }
  });

  it('a usage problem found while running is one line, not the whole usage text (exit 2)', async () => {
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [bin, 'denoise', 'x.jpg'], { cwd: dir, env: { ...process.env, RESTORA_CACHE_MB: 'lots', RESTORA_DATA_DIR: path.join(dir, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('RESTORA_CACHE_MB must be a positive number of megabytes (got "lots")');
    expect(r.stderr).not.toContain('Usage: restora');
  });

  it('prints help and exits 0', async () => {
    const r = await restora(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('restora denoise <files and folders...>');
  });

  it("--version and -V print package.json's version and exit 0", async () => {
    const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await restora([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`restora ${version}\n`);
    }
  });
});

describe.skipIf(!haveModels)('restora (with the fixture models)', () => {
  it('denoises a folder: exit 1 when one file is bad, each failure listed with code and reason; JSON lines and summary', async () => {
    const inputs = [await photo(path.join(dir, 'a', 'one.png'), 1), await photo(path.join(dir, 'a', 'sub', 'two.jpg'), 2)];
    const bad = path.join(dir, 'a', 'broken.jpg');
    await writeFile(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]));
    const before = await fingerprint([...inputs, bad]);
    const r = await restora(['denoise', path.join(dir, 'a'), '--recursive', '--sigma', '10', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const lines = jsonLines(r.stdout);
    const files = lines.filter((l) => l.type === 'file');
    expect(files).toHaveLength(3);
    const summary = lines[lines.length - 1];
    expect(summary.type).toBe('summary');
    const report = BatchReport.parse(summary);
    expect(report).toMatchObject({ total: 3, done: 2, failed: 1 });
    const failed = report.files.find((f) => f.status === 'failed')!;
    expect(failed.input).toBe(bad);
    expect(failed.error!.code).toBe('E_DECODE');
    expect(failed.error!.message).toContain('broken.jpg');
    // done files say what each step used: model, provider, and the noise level given
    for (const f of files.filter((l) => l.status === 'done')) expect(f.steps).toEqual([{ task: 'denoise', model: 'tiny-denoise', ep: 'cpu', sigma: 10, sigmaBy: 'given' }]);
    expect(report.files.find((f) => f.status === 'done')!.steps).toEqual([{ task: 'denoise', model: 'tiny-denoise', ep: 'cpu', sigma: 10, sigmaBy: 'given' }]);
    // the human report (stderr with --json) names it too, and the JSON report's path
    expect(r.stderr).toMatch(/E_DECODE\s+.*broken\.jpg/);
    expect(r.stderr).toMatch(/Report: .*restora-report-[0-9a-f]+\.json/);
    // outputs mirror the tree under a/restored; originals untouched
    const out = await sharp(path.join(dir, 'a', 'restored', 'sub', 'two.jpg')).metadata();
    expect([out.width, out.height, out.format]).toEqual([48, 40, 'jpeg']);
    expect(existsSync(path.join(dir, 'a', 'restored', 'one.png'))).toBe(true);
    expect(await fingerprint([...inputs, bad])).toEqual(before);

    // the same command again: finished files are verified and skipped, the bad one fails again
    const again = await restora(['denoise', path.join(dir, 'a'), '--recursive', '--sigma', '10', '--threads', '1', '--json']);
    const rep2 = BatchReport.parse(jsonLines(again.stdout).pop());
    expect(rep2).toMatchObject({ skipped: 2, done: 0, failed: 1 });
  });

  it('exit 0 when all succeed; plain lines (no JSON) without --json; never writes over an input', async () => {
    const input = await photo(path.join(dir, 'b', 'x.png'), 3);
    const before = await fingerprint([input]);
    const r = await restora(['upscale', input, '--scale', '2', '--out', path.join(dir, 'b-out'), '--format', 'png', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Finished: 1 file, 1 restored');
    expect(r.stderr).toMatch(/done .*x\.png -> .*x\.png/);
    const meta = await sharp(path.join(dir, 'b-out', 'x.png')).metadata();
    expect([meta.width, meta.height]).toEqual([96, 80]);
    // an output folder equal to the input's, no suffix: refused for that file, exit 1
    const same = await restora(['denoise', input, '--out', path.join(dir, 'b'), '--overwrite', '--sigma', '5', '--json']);
    expect(same.code).toBe(1);
    const rep = BatchReport.parse(jsonLines(same.stdout).pop());
    expect(rep.files[0].error!.code).toBe('E_WRITE');
    expect(await fingerprint([input])).toEqual(before);
  });

  it('inpaints with a mask and runs a chained recipe', async () => {
    const input = await photo(path.join(dir, 'c', 'p.png'), 4);
    const mask = Buffer.alloc(48 * 40, 0);
    for (let y = 10; y < 20; y++) for (let x = 10; x < 30; x++) mask[y * 48 + x] = 255;
    const maskFile = path.join(dir, 'c-mask.png');
    await sharp(mask, { raw: { width: 48, height: 40, channels: 1 } }).png().toFile(maskFile);
    const r = await restora(['inpaint', input, '--mask', maskFile, '--suffix', '-filled', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'c', 'restored', 'p-filled.png'))).toBe(true);
    const chain = await restora(['run', input, '--recipe', 'denoise:sigma=10,upscale:scale=2', '--suffix', '-dn-x2', '--threads', '1', '--json']);
    expect(chain.code, chain.stderr).toBe(0);
    const meta = await sharp(path.join(dir, 'c', 'restored', 'p-dn-x2.png')).metadata();
    expect([meta.width, meta.height]).toEqual([96, 80]);
    // the output says what made it, in its XMP processing history: Restora's version, each step with its model
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const ev = /<rdf:li [^>]*rdf:parseType="Resource"[^>]*>(.*?)<\/rdf:li>/.exec(meta.xmpAsString ?? '')?.[1] ?? '';
    expect(ev).toContain(`<stEvt:softwareAgent>Restora ${pkg.version}</stEvt:softwareAgent>`);
    expect(ev).toMatch(/<stEvt:parameters>denoise σ 10\.0 \(tiny-denoise\) → upscale ×2 \(tiny-upscale-x2\)<\/stEvt:parameters>/);
    // --grain: the fill gets the photo's grain (its fine detail around the hole); the done line says so
    const W = 96;
    const H = 80;
    const noisy = await sharp(await photo(path.join(dir, 'c', 'big.png'), 6, W, H)).raw().toBuffer();
    let seed = 9;
    for (let i = 0; i < noisy.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      noisy[i] = Math.max(0, Math.min(255, noisy[i] + ((seed >> 8) % 41) - 20));
    }
    const grainy = path.join(dir, 'c', 'grainy.png');
    await sharp(noisy, { raw: { width: W, height: H, channels: 3 } }).png().toFile(grainy);
    const hole = (x: number, y: number) => x >= 30 && x < 60 && y >= 20 && y < 44;
    const bigMask = Buffer.alloc(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) bigMask[y * W + x] = hole(x, y) ? 255 : 0;
    const bigMaskFile = path.join(dir, 'c-big-mask.png');
    await sharp(bigMask, { raw: { width: W, height: H, channels: 1 } }).png().toFile(bigMaskFile);
    const plainRun = await restora(['inpaint', grainy, '--mask', bigMaskFile, '--threads', '1']);
    expect(plainRun.code, plainRun.stderr).toBe(0);
    const grained = await restora(['inpaint', grainy, '--mask', bigMaskFile, '--grain', '--suffix', '-grain', '--threads', '1']);
    expect(grained.code, grained.stderr).toBe(0);
    expect(grained.stdout + grained.stderr).toMatch(/inpaint, grain matched\)/);
    const [plain, withGrain] = await Promise.all(['grainy.png', 'grainy-grain.png'].map((f) => sharp(path.join(dir, 'c', 'restored', f)).raw().toBuffer()));
    let changed = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
      const i = (y * W + x) * 3 + c;
      if (plain[i] !== withGrain[i]) {
        expect(hole(x, y)).toBe(true); // only the hole changes
        changed++;
      }
    }
    expect(changed).toBeGreaterThan(1000);
    // a hole over the whole photo leaves no grain to read: the done line says so
    const allMask = path.join(dir, 'c-all-mask.png');
    await sharp(Buffer.alloc(W * H, 255), { raw: { width: W, height: H, channels: 1 } }).png().toFile(allMask);
    const none = await restora(['inpaint', grainy, '--mask', allMask, '--grain', '--suffix', '-all', '--threads', '1']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout + none.stderr).toMatch(/done .*grainy\.png .*\(inpaint\); inpaint: grain not matched: the hole leaves no photo around it/);
    const missingMask = await restora(['inpaint', input, '--mask', path.join(dir, 'nope.png')]);
    expect(missingMask.code).toBe(2);
    expect(missingMask.stderr).toContain('E_MASK');
    // a mask that is there but is not an image: the same usage error, before any work
    await writeFile(path.join(dir, 'text-mask.jpg'), 'not a picture');
    const badMask = await restora(['inpaint', input, '--mask', path.join(dir, 'text-mask.jpg'), '--suffix', '-bad']);
    expect(badMask.code).toBe(2);
    expect(badMask.stderr).toMatch(/E_MASK: the mask .*text-mask\.jpg cannot be read as an image/);
    expect(existsSync(path.join(dir, 'c', 'restored', 'p-bad.png'))).toBe(false);
  });

  it('lists models and runtime info', async () => {
    const m = await restora(['models', '--json']);
    expect(m.code, m.stderr).toBe(0);
    const models = JSON.parse(m.stdout.trim()) as { id: string; task: string }[];
    expect(models.map((x) => x.id)).toEqual(expect.arrayContaining(['tiny-denoise', 'tiny-upscale-x2', 'tiny-upscale-x4', 'tiny-inpaint']));
    const hostile = path.join(fixtureModels, 'hostile');
    if (existsSync(path.join(hostile, 'user-nearest-x2.onnx'))) {
      const added = await restora(['models', 'add', path.join(hostile, 'user-nearest-x2.onnx'), '--id', 'my-x2', '--json']);
      expect(added.code, added.stderr).toBe(0);
      expect(JSON.parse(added.stdout.trim())).toMatchObject({ id: 'my-x2', task: 'upscale', scale: 2, source: 'user' });
      const refused = await restora(['models', 'add', path.join(hostile, 'not-onnx.onnx')]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/E_MODEL_INVALID: not-onnx\.onnx/);
    }
    const card = await restora(['models', 'tiny-denoise']);
    expect(card.code, card.stderr).toBe(0);
    expect(card.stdout).toMatch(/^ID:\s+tiny-denoise$/m);
    expect(card.stdout).toMatch(/^Task:\s+denoise$/m);
    const unknown = await restora(['models', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('there is no model named nope');
    const info = await restora(['info', '--ep', 'cpu', '--json']);
    expect(info.code, info.stderr).toBe(0);
    const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(JSON.parse(info.stdout.trim())).toMatchObject({ version, requested: 'cpu', active: 'cpu' });
  });

  it('eval prints a table, and with --json a last line with task, data, n, psnr, ssim', async () => {
    await photo(path.join(dir, 'set', 'e1.png'), 5);
    await photo(path.join(dir, 'set', 'e2.png'), 6);
    const r = await restora(['eval', 'denoise', '--data', path.join(dir, 'set'), '--sigma', '15', '--model', 'tiny-denoise', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(last).toMatchObject({ task: 'denoise', data: path.join(dir, 'set'), n: 2, sigma: 15, model: 'tiny-denoise' });
    expect(last.psnr).toBeGreaterThan(15);
    expect(last.ssim).toBeGreaterThan(0);
    const bic = await restora(['eval', 'upscale', '--data', path.join(dir, 'set'), '--model', 'bicubic', '--scale', '2']);
    expect(bic.code, bic.stderr).toBe(0);
    expect(bic.stdout).toMatch(/mean \(2\)/);
  });

  it('bench --json ends with {machine, results: [{task, model, seconds_per_mp, peak_rss_mb, overhead_ratio}]}', async () => {
    const r = await restora(['bench', '--size', '64x64', '--repeats', '1', '--threads', '1', '--json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(last.machine).toMatchObject({ cores: expect.any(Number) });
    const tasks = (last.results as { task: string }[]).map((x) => x.task);
    expect(tasks).toEqual(['denoise', 'upscale-x2', 'upscale-x4', 'inpaint', 'preview']);
    for (const row of last.results as Record<string, unknown>[]) {
      expect(row).toMatchObject({ model: expect.any(String), seconds_per_mp: expect.any(Number), peak_rss_mb: expect.any(Number), overhead_ratio: expect.any(Number) });
      expect(row.overhead_ratio as number).toBeGreaterThan(0);
    }
  });

  it('a wrong --model, an --ep that cannot run here, or an --out that is a file: one usage error before any work', async () => {
    const input = await photo(path.join(dir, 'pre', 'x.png'), 5);
    const cases: [string[], RegExp][] = [
      [['denoise', input, '--model', 'nope'], /--model: there is no model named nope/],
      [['upscale', input, '--model', 'tiny-denoise'], /--model: model tiny-denoise is a denoise model, not an upscale model/],
      [['upscale', input, '--scale', '4', '--model', 'tiny-upscale-x2'], /upscales x2, not x4/],
      [['denoise', input, '--out', input], /--out .*x\.png is a file, not a folder/],
    ];
    if (process.platform !== 'darwin') cases.push([['denoise', input, '--ep', 'coreml'], /--ep coreml: /]);
    for (const [args, msg] of cases) {
      const r = await restora([...args, '--threads', '1']);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/Finished:/);
    }
    expect(existsSync(path.join(dir, 'pre', 'restored'))).toBe(false);
    // a tile below what the model's overlap needs still runs, with one warning
    const small = await restora(['denoise', input, '--tile', '32', '--sigma', '5', '--threads', '1']);
    expect(small.code, small.stderr).toBe(0);
    expect(small.stderr).toMatch(/--tile 32 is below \d+ px, what tiny-denoise needs for its \d+ px overlap/);
    const fine = await restora(['denoise', input, '--tile', '0', '--sigma', '5', '--threads', '1', '--suffix', '-0']);
    expect(fine.stderr).not.toMatch(/is below/);
  });

  it('the summary says what was left out of a folder and which outputs got a number', async () => {
    const card = path.join(dir, 'card');
    await photo(path.join(card, 'a.png'), 6);
    await photo(path.join(card, 'DCIM', 'b.png'), 7);
    await writeFile(path.join(card, 'IMG_1.CR2'), 'raw');
    await writeFile(path.join(card, 'IMG_2.CR2'), 'raw');
    await writeFile(path.join(card, 'notes.txt'), 'x');
    const first = await restora(['denoise', card, '--sigma', '5', '--threads', '1']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Left out: 3 files that are not images Restora reads (.cr2 2, .txt 1).');
    expect(first.stdout).toContain('Left out: 1 sub-folder (add -r to include it).');
    expect(first.stdout).not.toContain('given a number');
    // other settings, same names: never replaced, but said
    const second = await restora(['denoise', card, '--sigma', '9', '--threads', '1']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/1 output was given a number \(.*a-1\.png\) because the name was taken; --overwrite replaces/);
    // a folder whose photos are all in sub-folders: the hint to add -r
    const nested = path.join(dir, 'nested');
    await photo(path.join(nested, 'day1', 'c.png'), 8);
    const none = await restora(['denoise', nested, '--threads', '1']);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('It has sub-folders: add -r to include them.');
    expect(none.stdout).not.toContain('Left out: 1 sub-folder'); // said once, by the hint
    // a folder of files Restora does not read: said what was left out, as the summary does (exit 1 as before)
    const nophotos = path.join(dir, 'nophotos');
    await mkdir(nophotos, { recursive: true });
    for (const f of ['IMG_1.CR2', 'anim.gif', 'notes.txt']) await writeFile(path.join(nophotos, f), 'x');
    const left = await restora(['denoise', 'nophotos', '--threads', '1']);
    expect(left.code).toBe(1);
    expect(left.stdout).toBe('No image files found in nophotos.\nLeft out: 3 files that are not images Restora reads (.cr2 1, .gif 1, .txt 1).\n');
  });

  it('--overwrite never replaces a photo that only shares the output name: it is numbered, and the done line says so', async () => {
    const src = await photo(path.join(dir, 'ow', 'src', 'IMG_0001.jpg'), 11);
    const album = await photo(path.join(dir, 'ow', 'album', 'IMG_0001.jpg'), 12);
    const before = await fingerprint([album, src]);
    const r = await restora(['denoise', 'ow/src', '--out', 'ow/album', '--overwrite', '--sigma', '5', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(await fingerprint([album, src])).toEqual(before);
    expect(r.stderr).toContain('done ow/src/IMG_0001.jpg -> ow/album/IMG_0001-1.jpg (denoise σ 5.0); numbered: the name was taken');
    expect(r.stdout).toMatch(/1 output was given a number \(ow\/album\/IMG_0001-1\.jpg\) because the name was taken; --overwrite replaces Restora's earlier outputs instead, never other files\./);
    // Restora's own output is what --overwrite replaces
    const again = await restora(['denoise', 'ow/src', '--out', 'ow/album', '--overwrite', '--sigma', '6', '--threads', '1']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('-> ow/album/IMG_0001-1.jpg');
    expect((await readdir(path.join(dir, 'ow', 'album'))).filter((f) => !f.startsWith('.') && f.endsWith('.jpg')).sort()).toEqual(['IMG_0001-1.jpg', 'IMG_0001.jpg']);
    expect(await fingerprint([album, src])).toEqual(before);
  });

  it('JPEG -> TIFF says the EXIF could not be kept (file line and report); a photo without EXIF says nothing', async () => {
    const cam = path.join(dir, 'tiff-in', 'cam.jpg');
    await photo(cam, 13);
    await sharp(await readFile(cam)).withExif({ IFD0: { Make: 'TestCam', Model: 'T-1000' } }).jpeg({ quality: 92 }).toFile(path.join(dir, 'tiff-in', 'cam-exif.jpg'));
    const r = await restora(['denoise', 'tiff-in', '--out', 'tiff-out', '--format', 'tiff', '--sigma', '5', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout).filter((l) => l.type === 'file');
    const note = 'EXIF (camera, lens, date, exposure) not kept: Restora cannot write EXIF into TIFF';
    expect(lines.find((l) => String(l.input).endsWith('cam-exif.jpg'))?.notes).toEqual([note]);
    expect(lines.find((l) => String(l.input).endsWith('cam.jpg'))?.notes).toBeUndefined();
    const rep = BatchReport.parse(jsonLines(r.stdout).pop());
    expect(rep.files.find((f) => f.input.endsWith('cam-exif.jpg'))?.notes).toEqual([note]);
  });

  it('Ctrl-C (SIGINT) cancels after the current tile and exits 130; the rerun finishes the rest', async () => {
    for (let i = 0; i < 6; i++) await photo(path.join(dir, 'int', `f${i}.png`), 20 + i, 160, 128);
    const args = ['denoise', path.join(dir, 'int'), '--out', path.join(dir, 'int-out'), '--sigma', '10', '--threads', '1', '--tile', '32', '--json'];
    const child = startRestora(args);
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        if (!sent && s.includes('"status":"done"')) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('close', (c) => resolve(c));
    });
    expect(sent).toBe(true);
    expect(code).toBe(130);
    const r = await restora(args);
    expect(r.code, r.stderr).toBe(0);
    const rep = BatchReport.parse(jsonLines(r.stdout).pop());
    expect(rep.skipped).toBeGreaterThanOrEqual(1);
    expect(rep.done + rep.skipped).toBe(6);
  }, 120_000);

  it('one Ctrl-C to the whole process group (as a terminal sends it) still cancels cleanly: the launcher\'s copy is not a second one', async () => {
    for (let i = 0; i < 6; i++) await photo(path.join(dir, 'grp', `f${i}.png`), 30 + i, 160, 128);
    const args = ['denoise', path.join(dir, 'grp'), '--out', path.join(dir, 'grp-out'), '--sigma', '10', '--threads', '1', '--tile', '32', '--json'];
    const child = startRestora(args, { detached: true }); // its own process group, as a terminal's foreground job
    let out = '';
    let sent = false;
    const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (!sent && s.includes('"status":"done"')) {
          sent = true;
          process.kill(-child.pid!, 'SIGINT');
        }
      });
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    expect(sent).toBe(true);
    expect(end).toEqual({ code: 130, signal: null }); // cancelled, with its report; not killed
    expect(BatchReport.parse(jsonLines(out).pop()).cancelled).toBe(true);
  }, 60_000);

  const shipped = path.join(repo, 'models');
  it.runIf(existsSync(path.join(shipped, 'restora-upscale-x2', 'model.onnx')))(
    'a second Ctrl-C quits at once, even in the middle of a tile (killed by SIGINT); nothing partial is left and the rerun resumes',
    async () => {
      // the shipped x2 upscaler takes seconds per 1024 px tile on one thread, and a tile's inference
      // blocks the CLI's thread: a JS handler would only run once the tile ends
      const src = path.join(dir, 'hard');
      await photo(path.join(src, 'a-small.png'), 40, 64, 48);
      await photo(path.join(src, 'b-big.png'), 41, 1100, 1100);
      const out = path.join(dir, 'hard-out');
      const args = ['upscale', src, '--scale', '2', '--out', out, '--threads', '1', '--json'];
      const child = startRestora(args, { models: shipped, stderr: true, detached: true });
      let stdout = '';
      let stderr = '';
      let second = 0;
      const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          stdout += s;
          // the small photo is done: the big one's first tile starts now; Ctrl-C during it
          if (s.includes('"status":"done"')) setTimeout(() => process.kill(-child.pid!, 'SIGINT'), 300);
        });
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          stderr += s;
          // the first was handled when that tile ended; the next tile has begun: Ctrl-C again
          if (!second && stderr.includes('Cancelling')) {
            second = Date.now();
            process.kill(-child.pid!, 'SIGINT');
          }
        });
        child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() }));
      });
      expect(second, stderr).toBeGreaterThan(0);
      expect({ code: end.code, signal: end.signal }).toEqual({ code: null, signal: 'SIGINT' }); // a shell says 130
      expect(end.at - second).toBeLessThan(1500); // not after the tile (seconds)
      expect(jsonLines(stdout).map((l) => `${path.basename(String(l.input))} ${l.status}`)).toEqual(['a-small.png done']); // ended there: no summary
      // the small photo's output is whole, the big one has none, not even half of one
      expect((await readdir(out)).filter((f) => !f.startsWith('.'))).toEqual(['a-small.png']);
      expect((await sharp(path.join(out, 'a-small.png')).metadata()).width).toBe(128);
      // the rerun (the tiny fixture upscaler, to be quick: same command, same journal) skips the done one
      const r = await restora(args);
      expect(r.code, r.stderr).toBe(0);
      const rep = BatchReport.parse(jsonLines(r.stdout).pop());
      expect(rep).toMatchObject({ done: 1, skipped: 1, failed: 0 });
      expect((await readdir(out)).filter((f) => f.endsWith('.png')).sort()).toEqual(['a-small.png', 'b-big.png']);
      expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    },
    60_000,
  );

  it('a server whose launcher is killed with SIGKILL stops too, freeing its port', async () => {
    const child = startRestora(['serve', '--port', '0']);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(s);
        if (m) resolve(m[0]);
      });
      child.on('close', () => reject(new Error('serve ended before printing its URL')));
    });
    expect((await fetch(url)).status).toBeLessThan(500); // it answers
    child.kill('SIGKILL'); // the launcher only: the server process is its child
    let down = false;
    for (let i = 0; i < 40 && !down; i++) {
      await new Promise((r) => setTimeout(r, 250));
      down = await fetch(url).then(
        () => false,
        () => true,
      );
    }
    expect(down).toBe(true);
  }, 60_000);

  it('resumes after kill -9: the rerun finishes only the missing files', async () => {
    const inputs: string[] = [];
    for (let i = 0; i < 6; i++) inputs.push(await photo(path.join(dir, 'k', `f${i}.png`), 10 + i, 160, 128));
    const out = path.join(dir, 'k-out');
    const args = ['denoise', path.join(dir, 'k'), '--out', out, '--sigma', '10', '--threads', '1', '--tile', '32', '--json'];
    const child = startRestora(args, { detached: true });
    let done = 0;
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        done += s.split('\n').filter((l) => l.includes('"status":"done"')).length;
        if (done >= 2) {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      });
      child.on('close', () => resolve());
    });
    const finals = (await readdir(out)).filter((f) => f.endsWith('.png') && !f.startsWith('.'));
    for (const f of finals) await expect(sharp(path.join(out, f)).raw().toBuffer()).resolves.toBeDefined();
    const r = await restora(args);
    expect(r.code, r.stderr).toBe(0);
    const rep = BatchReport.parse(jsonLines(r.stdout).pop());
    expect(rep.skipped).toBeGreaterThanOrEqual(2);
    expect(rep.done + rep.skipped).toBe(6);
    const after = (await readdir(out)).filter((f) => !f.startsWith('.') && f.endsWith('.png'));
    expect(after.sort()).toEqual(inputs.map((f) => path.basename(f)).sort());
    expect((await readdir(out)).some((f) => f.endsWith('.tmp'))).toBe(false);
  }, 120_000);
});
