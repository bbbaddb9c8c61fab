// Custom models given to `restora models add`: hostile files are refused with E_MODEL_INVALID
// naming the file (and never registered, never unpickled, never allowed to read outside their
// folder); a valid one is accepted and then really runs (the control that makes refusals count).
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fixedSizeModel, hostileModels, makeImage, validModel, type HostileModel } from '../fixtures.ts';
import { check, decodeStrict, listAll, listImages, pixelDiff, type CliResult, type Ctx } from '../harness.ts';
import { expectDone, expectFailed, human, reportOf, tail, type Case } from './common.ts';

/** `restora models add FILE --json` in this case's isolated HOME. */
function addModel(ctx: Ctx, file: string, extra: string[] = []): Promise<CliResult> {
  return ctx.cli(['models', 'add', file, '--json', ...extra], { timeoutMs: 60_000 });
}

/** Every file the case's isolated HOME holds (where user models are registered). */
function homeFiles(ctx: Ctx): string[] {
  return existsSync(ctx.home) ? listAll(ctx.home) : [];
}

/** The ModelInfo printed by a successful `models add --json`. */
function addedId(r: CliResult): string | undefined {
  for (const v of [...r.json].reverse()) {
    const o = v as Record<string, unknown> | null;
    for (const c of [o, o?.model, o?.result]) {
      const m = c as { id?: unknown; task?: unknown } | null | undefined;
      if (m && typeof m.id === 'string' && typeof m.task === 'string') return m.id;
    }
  }
  return undefined;
}

function hostileCase(h: HostileModel): Case {
  return {
    id: `model-${h.id}`,
    title: `models add refuses ${h.what}`,
    plan: h.id.startsWith('external') ? [15] : h.id.startsWith('huge') ? [16] : h.id === 'pickle' ? [20] : h.id === 'nan-output' ? [18] : h.id === 'rank2' || h.id === 'classifier' || h.id === 'int64-input' ? [17] : [14],
    async run(ctx) {
      const secret = join(ctx.dir, 'secret.bin');
      writeFileSync(secret, Buffer.alloc(64, 0x42));
      ctx.protect(secret);
      const dir = join(ctx.in, 'downloads');
      const file = h.make(dir, secret);
      ctx.seal();
      const homeBefore = homeFiles(ctx);
      const r = await addModel(ctx, file);
      check(!r.timedOut, `models add did not finish in ${r.ms} ms`);
      check(r.signal === null, `the CLI died of ${r.signal} (a model must never take the app down); stderr: ${tail(r.stderr)}`);
      check(r.code !== 0, `the model was accepted (exit 0): ${tail(r.stdout)}`);
      const text = human(r);
      check(text.includes('E_MODEL_INVALID'), `no E_MODEL_INVALID in the output: ${tail(text)}`);
      check(text.includes(basename(file)), `the error does not name ${basename(file)}: ${tail(text)}`);
      check(!existsSync(join(dir, 'PWNED')), 'the pickle payload ran');
      const registered = homeFiles(ctx).filter((f) => !homeBefore.includes(f) && /\.onnx$|card\.json$/.test(f));
      check(registered.length === 0, `files registered despite the refusal: ${registered.join(', ')}`);
      const line = text.split('\n').find((l) => l.includes('E_MODEL_INVALID')) ?? '';
      return `exit ${r.code} in ${r.ms} ms: ${line.trim().slice(0, 110)}`;
    },
  };
}

export const modelCases: Case[] = [
  ...hostileModels.map(hostileCase),
  {
    id: 'model-emits-nan',
    title: 'a registered model that emits NaN/Inf on photos: each file fails (E_MODEL), nothing written',
    plan: [18],
    async run(ctx, env) {
      const files = [await makeImage(join(ctx.in, 'one.jpg')), await makeImage(join(ctx.in, 'two.png'), 40, 30, 2)];
      ctx.seal();
      const rep = reportOf(await ctx.cli(['denoise', ...files, '--out', ctx.out, '--model', env.broken, '--threads', '1', '--sigma', '10', '--json']), 1);
      for (const f of files) expectFailed(rep, f, ['E_MODEL', 'E_MODEL_INVALID']);
      check(listImages(ctx.out).length === 0, `outputs written from NaN: ${listImages(ctx.out).join(', ')}`);
      return `both refused: "${rep.files[0].error?.message.slice(0, 90)}"; nothing written`;
    },
  },
  {
    id: 'model-valid-control',
    title: 'models add accepts a valid custom model, which then runs on a photo',
    plan: [17],
    async run(ctx) {
      const file = validModel(join(ctx.in, 'downloads', 'my-identity.onnx'));
      const photo = await makeImage(join(ctx.in, 'photo.png'), 40, 30, 5);
      ctx.seal();
      const r = await addModel(ctx, file, ['--task', 'denoise']);
      check(r.code === 0, `valid model refused (exit ${r.code}): ${tail(human(r))}`);
      const id = addedId(r);
      check(id, `models add printed no ModelInfo: ${tail(r.stdout)}`);
      const run = await ctx.cli(['denoise', photo, '--out', ctx.out, '--model', id, '--threads', '1', '--sigma', '10', '--json']);
      const rep = reportOf(run, 0);
      const { out } = await expectDone(rep, photo);
      const d = pixelDiff(await decodeStrict(photo), out);
      check(d.max <= 2, `the identity model changed pixels by up to ${d.max}`);
      return `registered as ${id}; ran on a photo, max diff ${d.max}`;
    },
  },
  {
    id: 'model-fixed-size',
    title: 'models add with a fixed 1x3x256x256 input: adapted (and runs on 40x30) or refused with the reason',
    plan: [17],
    async run(ctx) {
      const file = fixedSizeModel(join(ctx.in, 'downloads', 'fixed256.onnx'));
      const photo = await makeImage(join(ctx.in, 'small.png'), 40, 30, 6);
      ctx.seal();
      const r = await addModel(ctx, file, ['--task', 'denoise']);
      check(r.signal === null && !r.timedOut, `models add died (${r.signal ?? 'timeout'})`);
      if (r.code !== 0) {
        const text = human(r);
        check(text.includes('E_MODEL_INVALID') && text.includes('fixed256.onnx'), `refusal without code and name: ${tail(text)}`);
        check(/256|fixed|size|dimension|shape/i.test(text), `refusal does not say why: ${tail(text)}`);
        return `refused with a reason: ${(text.split('\n').find((l) => l.includes('E_MODEL_INVALID')) ?? '').trim().slice(0, 100)}`;
      }
      const id = addedId(r);
      check(id, 'accepted but printed no ModelInfo');
      const rep = reportOf(await ctx.cli(['denoise', photo, '--out', ctx.out, '--model', id, '--threads', '1', '--sigma', '10', '--json']), 0);
      const { out } = await expectDone(rep, photo);
      check(out.width === 40 && out.height === 30, `output ${out.width}x${out.height}`);
      const d = pixelDiff(await decodeStrict(photo), out);
      check(d.max <= 2, `max diff ${d.max}`);
      return `adapted: registered as ${id}, 40x30 photo processed (max diff ${d.max})`;
    },
  },
];

