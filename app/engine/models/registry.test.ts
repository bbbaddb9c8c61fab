import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, tmpDir } from '../../../test/fixtures/images/make.ts';
import { validateCard } from './card.ts';
import { ModelRegistry, toRunnable } from './registry.ts';

const { dir, cleanup } = tmpDir();
afterAll(cleanup);
const REPO = path.resolve(import.meta.dirname, '..', '..', '..');

function copyModel(id: string, to: string, edit?: (c: Record<string, unknown>) => void, cardText?: string) {
  const d = path.join(to, id);
  fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(FIXTURE_MODELS, id.replace(/-(copy|bad|dup|nofile|json)$/, ''), 'model.onnx'), path.join(d, 'model.onnx'));
  const c = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, id.replace(/-(copy|bad|dup|nofile|json)$/, ''), 'card.json'), 'utf8'));
  edit?.(c);
  fs.writeFileSync(path.join(d, 'card.json'), cardText ?? JSON.stringify(c));
  return d;
}

describe('card schema', () => {
  it('every committed card (fixtures and models/) passes the schema', () => {
    for (const root of [FIXTURE_MODELS, path.join(REPO, 'models')]) {
      for (const id of fs.readdirSync(root)) {
        const f = path.join(root, id, 'card.json');
        if (!fs.existsSync(f)) continue;
        const v = validateCard(JSON.parse(fs.readFileSync(f, 'utf8')));
        expect(v.ok ? [] : v.reasons, f).toEqual([]);
      }
    }
  });

  it('rejects what the schema and the rules forbid, with readable reasons', () => {
    const good = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-denoise', 'card.json'), 'utf8'));
    const bad = (edit: (c: Record<string, unknown>) => void) => {
      const c = structuredClone(good);
      edit(c);
      const v = validateCard(c);
      return v.ok ? [] : v.reasons;
    };
    expect(bad((c) => delete c.task)).toEqual([expect.stringMatching(/must have required property 'task'/)]);
    expect(bad((c) => ((c.inputs as { layout: string }[])[0].layout = 'NHWC'))[0]).toMatch(/\/inputs\/0\/layout/);
    expect(bad((c) => ((c.inputs as { range: number[] }[])[0].range = [0]))[0]).toMatch(/range/);
    expect(bad((c) => (c.color_space = 'AdobeRGB'))[0]).toMatch(/color_space/);
    expect(bad((c) => (c.size_multiple = 0))[0]).toMatch(/size_multiple/);
    expect(bad((c) => (c.scale = 2))[0]).toMatch(/scale: 2 does not fit task denoise/);
    expect(bad((c) => (c.task = 'inpaint'))).toContain('inputs: an inpainter needs a mask input');
    expect(bad((c) => (c.surprise = 1))[0]).toMatch(/additional properties \(surprise\)/);
    expect(bad((c) => (c.metrics = { 'Kodak24/sigma25/psnr': 'high' }))[0]).toMatch(/metrics/);
  });

  it('accepts a denoiser noise estimator object and rejects malformed ones', () => {
    const good = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-denoise', 'card.json'), 'utf8'));
    const estimator = {
      file: 'estimator.onnx', sha256: 'a'.repeat(64), input: 'image', output: 'sigma', crop: 96, crops: 16, size_multiple: 2,
      description: 'CNN noise level', architecture: '5 3x3 convs of width 32', params: 12345, training: { steps: 100, data: ['BSD200'], anything: { nested: true } }, metrics: { 'CC15/mae': 1.2, note: 'free-form' },
    };
    const check = (edit: (e: Record<string, unknown>, c: Record<string, unknown>) => void) => {
      const c = structuredClone(good);
      c.estimator = structuredClone(estimator);
      edit(c.estimator, c);
      const v = validateCard(c);
      return v.ok ? [] : v.reasons;
    };
    expect(check(() => {})).toEqual([]);
    const v = validateCard({ ...structuredClone(good), estimator });
    expect(v.ok && v.card.estimator).toEqual(estimator);
    // only the required fields
    expect(check((e) => ['description', 'architecture', 'params', 'training', 'metrics'].forEach((k) => delete e[k]))).toEqual([]);
    for (const k of ['file', 'sha256', 'input', 'output', 'crop', 'crops', 'size_multiple']) {
      expect(check((e) => delete e[k]), k).toEqual([expect.stringMatching(new RegExp(`^/estimator: must have required property '${k}'`))]);
    }
    expect(check((e) => (e.extra = 1))[0]).toMatch(/^\/estimator: .*additional properties \(extra\)/);
    expect(check((e) => (e.file = '../estimator.onnx'))[0]).toMatch(/^\/estimator\/file/);
    expect(check((e) => (e.file = 'estimator.bin'))[0]).toMatch(/^\/estimator\/file/);
    expect(check((e) => (e.sha256 = 'ABC'))[0]).toMatch(/^\/estimator\/sha256/);
    expect(check((e) => (e.crop = 8))[0]).toMatch(/^\/estimator\/crop/);
    expect(check((e) => (e.crops = 0))[0]).toMatch(/^\/estimator\/crops/);
    expect(check((e) => (e.crop = 96.5))[0]).toMatch(/^\/estimator\/crop/);
    expect(check((e) => (e.size_multiple = 0))[0]).toMatch(/^\/estimator\/size_multiple/);
    expect(check((e) => (e.input = ''))[0]).toMatch(/^\/estimator\/input/);
    expect(check((e) => (e.architecture = 5))[0]).toMatch(/^\/estimator\/architecture/);
    expect(check((e) => (e.training = 'lots'))[0]).toMatch(/^\/estimator\/training/);
    expect(check((e) => (e.metrics = [1]))[0]).toMatch(/^\/estimator\/metrics/);
    expect(check((_e, c) => (c.estimator = 'estimator.onnx'))[0]).toMatch(/^\/estimator: must be object/);
    expect(check((e) => (e.file = 'model.onnx'))).toEqual(['estimator: its file must not be the model file']);
    // only denoisers have one
    const up = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-upscale-x2', 'card.json'), 'utf8'));
    const r = validateCard({ ...up, estimator });
    expect(r.ok ? [] : r.reasons).toEqual(['estimator: a noise estimator only makes sense for a denoiser']);
  });

  it("accepts a denoiser's net for strengths above the noise beside its estimator, and rejects it elsewhere", () => {
    const good = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-denoise', 'card.json'), 'utf8'));
    const estimator = { file: 'estimator.onnx', sha256: 'a'.repeat(64), input: 'image', output: 'sigma', crop: 96, crops: 16, size_multiple: 2 };
    const above = { file: 'above-noise.onnx', sha256: 'b'.repeat(64), from_ratio: 1.25, description: 'for strengths above the noise', training: { steps: 3 }, metrics: {} };
    const check = (edit: (a: Record<string, unknown>, c: Record<string, unknown>) => void) => {
      const c = { ...structuredClone(good), estimator: structuredClone(estimator), above_noise: structuredClone(above) };
      edit(c.above_noise, c);
      const v = validateCard(c);
      return v.ok ? [] : v.reasons;
    };
    expect(check(() => {})).toEqual([]);
    expect(new ModelRegistry({ bundled: FIXTURE_MODELS }).list().find((m) => m.id === 'tiny-denoise')?.aboveNoiseFrom).toBeUndefined();
    for (const k of ['file', 'sha256', 'from_ratio']) expect(check((a) => delete a[k]), k).toEqual([expect.stringMatching(new RegExp(`^/above_noise: must have required property '${k}'`))]);
    expect(check((a) => (a.from_ratio = 0.9))[0]).toMatch(/^\/above_noise\/from_ratio/);
    expect(check((a) => (a.file = '../x.onnx'))[0]).toMatch(/^\/above_noise\/file/);
    expect(check((a) => (a.extra = 1))[0]).toMatch(/additional properties \(extra\)/);
    expect(check((a) => (a.file = 'model.onnx'))).toEqual(['above_noise: its file must not be the model file or the estimator file']);
    expect(check((a) => (a.file = 'estimator.onnx'))).toEqual(['above_noise: its file must not be the model file or the estimator file']);
    expect(check((a) => (a.file = 'Model.onnx'))).toEqual(['above_noise: its file must not be the model file or the estimator file']); // one file on macOS and Windows
    // the shipped card's net is listed with the ratio it runs from
    const shipped = new ModelRegistry({ bundled: path.join(FIXTURE_MODELS, '..', '..', '..', 'models') }).list().find((m) => m.id === 'restora-denoise');
    if (shipped) expect(shipped.aboveNoiseFrom).toBe(1.25);
    // the estimator's reading decides when it runs: no estimator, no such net
    expect(check((_a, c) => delete c.estimator)).toEqual(['above_noise: needs the estimator, whose reading tells when a strength is above the noise']);
    const up = JSON.parse(fs.readFileSync(path.join(FIXTURE_MODELS, 'tiny-upscale-x2', 'card.json'), 'utf8'));
    const r = validateCard({ ...up, above_noise: above });
    expect(r.ok ? [] : r.reasons).toEqual(expect.arrayContaining(['above_noise: only a denoiser with a sigma input can have a net for strengths above the noise']));
  });
});

describe('ModelRegistry', () => {
  it('reads the bundled folder and maps cards to ModelInfo and RunnableModel', () => {
    const r = new ModelRegistry({ bundled: FIXTURE_MODELS });
    expect(r.list().map((m) => m.id).sort()).toEqual(['tiny-denoise', 'tiny-inpaint', 'tiny-upscale-x2', 'tiny-upscale-x4']);
    expect(r.skipped).toEqual([]);
    const d = r.list().find((m) => m.id === 'tiny-denoise')!;
    expect(d).toMatchObject({ task: 'denoise', scale: 1, source: 'bundled', license: 'MIT', metrics: {} });
    expect(d.params).toBeGreaterThan(0);
    const run = toRunnable(r.get('tiny-denoise')!);
    expect(run).toMatchObject({ sizeMultiple: 4, tile: 64, overlap: 16, output: 'output', scale: 1 });
    expect(run.inputs.map((i) => i.role)).toEqual(['image', 'sigma']);
  });

  it('picks defaults by task and scale, and checks explicit ids', () => {
    const r = new ModelRegistry({ bundled: FIXTURE_MODELS });
    expect(r.pick('denoise').card.id).toBe('tiny-denoise');
    expect(r.pick('upscale', 4).card.id).toBe('tiny-upscale-x4');
    expect(r.pick('upscale', 2, 'tiny-upscale-x2').card.id).toBe('tiny-upscale-x2');
    expect(() => r.pick('upscale', 2, 'tiny-upscale-x4')).toThrow(/upscales x4, not x2/);
    expect(() => r.pick('inpaint', undefined, 'tiny-denoise')).toThrow(/is a denoise model, not an inpaint model/);
    expect(() => r.pick('denoise', undefined, 'nope')).toThrow(/there is no model named nope/);
    expect(() => new ModelRegistry({}).pick('denoise')).toThrow(/no denoise model is installed/);
  });

  it('skips invalid user cards with a reason and never crashes; bundled wins on duplicate ids', () => {
    const user = path.join(dir, 'user');
    copyModel('tiny-denoise-copy', user, (c) => (c.id = 'my-denoise'));
    copyModel('tiny-denoise-bad', user, (c) => (c.task = 'colorize'));
    copyModel('tiny-denoise-dup', user); // same id as the bundled one
    copyModel('tiny-denoise-json', user, undefined, '{ not json');
    const nf = copyModel('tiny-denoise-nofile', user, (c) => (c.id = 'no-file'));
    fs.rmSync(path.join(nf, 'model.onnx'));
    fs.mkdirSync(path.join(user, 'empty-folder'));
    const r = new ModelRegistry({ bundled: FIXTURE_MODELS, user });
    const ids = r.list().map((m) => m.id);
    expect(ids).toContain('my-denoise');
    expect(r.list().find((m) => m.id === 'my-denoise')!.source).toBe('user');
    expect(r.pick('denoise').card.id).toBe('tiny-denoise'); // bundled first
    const reasons = r.skipped.map((s) => `${path.basename(path.dirname(s.path))}: ${s.reason}`).sort();
    expect(reasons).toEqual([
      expect.stringMatching(/^tiny-denoise-bad: card\.json does not match the schema: \/task: must be equal to one of the allowed values/),
      expect.stringMatching(/^tiny-denoise-dup: another model already has the id tiny-denoise/),
      expect.stringMatching(/^tiny-denoise-json: card\.json is not valid JSON/),
      expect.stringMatching(/^tiny-denoise-nofile: model\.onnx is missing beside card\.json/),
    ]);
  });

  it('verifies model files against the card sha256', async () => {
    const root = path.join(dir, 'sha');
    const d = copyModel('tiny-upscale-x2-copy', root, (c) => (c.id = 'x2'));
    const r = new ModelRegistry({ bundled: root });
    await expect(r.verify(r.get('x2')!)).resolves.toBeUndefined();
    const f = path.join(d, 'model.onnx');
    const b = fs.readFileSync(f);
    b[b.length - 5] ^= 0xff;
    fs.writeFileSync(f, b);
    fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
    await expect(r.verify(r.get('x2')!)).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/model x2 is damaged/) });
  });

  it('verifies a denoiser noise estimator file against estimator.sha256, naming the file', async () => {
    const root = path.join(dir, 'est');
    const src = path.join(FIXTURE_MODELS, 'tiny-estimator', 'estimator.onnx');
    const sha = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex');
    const est = { file: 'noise.onnx', sha256: sha, input: 'image', output: 'sigma', crop: 32, crops: 4, size_multiple: 2 };
    const d = copyModel('tiny-denoise-copy', root, (c) => Object.assign(c, { id: 'dn', estimator: est }));
    const r = new ModelRegistry({ bundled: root });
    expect(r.skipped).toEqual([]); // a missing estimator does not hide the model (explicit sigma still works)
    const e = r.get('dn')!;
    expect(r.estimatorFile(e)).toBe(path.join(d, 'noise.onnx'));
    await expect(r.verifyEstimator(e)).rejects.toMatchObject({ code: 'E_MODEL', message: 'model dn: its noise estimator noise.onnx is missing beside card.json; reinstall the model' });
    fs.copyFileSync(src, path.join(d, 'noise.onnx'));
    await expect(r.verifyEstimator(e)).resolves.toBeUndefined();
    const bad = { ...e, card: { ...e.card, estimator: { ...est, sha256: '0'.repeat(64) } } };
    await expect(r.verifyEstimator(bad)).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/^model dn is damaged: its noise estimator noise\.onnx does not match the sha256 in its card/) });
    // no estimator: nothing to check
    const plain = new ModelRegistry({ bundled: FIXTURE_MODELS });
    expect(plain.estimatorFile(plain.get('tiny-denoise')!)).toBeUndefined();
    await expect(plain.verifyEstimator(plain.get('tiny-denoise')!)).resolves.toBeUndefined();
  });
});
