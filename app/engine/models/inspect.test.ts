import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RestoraError } from '../../contract/index.ts';
import { FIXTURE_MODELS, tmpDir } from '../../../test/fixtures/images/make.ts';
import { OrtBackend } from '../runtime/ort-backend.ts';
import { inspectModel, installModel } from './inspect.ts';
import { scanOnnx } from './onnx-proto.ts';
import { ModelRegistry } from './registry.ts';

const { dir, cleanup } = tmpDir();
afterAll(cleanup);
const backend = new OrtBackend();
const hostile = (n: string) => path.join(FIXTURE_MODELS, 'hostile', n);
const fixture = (id: string) => path.join(FIXTURE_MODELS, id, 'model.onnx');

async function refused(file: string, re: RegExp): Promise<void> {
  try {
    await inspectModel(file, backend);
  } catch (e) {
    expect(e).toBeInstanceOf(RestoraError);
    expect((e as RestoraError).code).toBe('E_MODEL_INVALID');
    expect((e as RestoraError).message).toMatch(new RegExp(`^${path.basename(file).replace('.', '\\.')} `));
    expect((e as RestoraError).message).toMatch(re);
    return;
  }
  throw new Error(`${file} was accepted`);
}

describe('scanOnnx', () => {
  it('reads inputs, outputs, nodes and parameters of a real model', () => {
    const s = scanOnnx(fs.readFileSync(fixture('tiny-denoise')));
    expect(s.inputs).toEqual(['image', 'sigma']);
    expect(s.outputs).toEqual(['output']);
    expect(s.nodes).toBeGreaterThan(5);
    expect(s.params).toBeGreaterThan(1000);
    expect(s.externalData).toEqual([]);
    expect(s.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version).toBe(17);
  });
  it('finds external data and its location', () => {
    const s = scanOnnx(fs.readFileSync(hostile('external-data.onnx')));
    expect(s.externalData).toEqual([{ tensor: 'w', location: '../../etc/passwd' }]);
  });
  it('rejects bytes that are not ONNX, including truncated models', () => {
    expect(() => scanOnnx(fs.readFileSync(hostile('not-onnx.onnx')))).toThrow();
    const real = fs.readFileSync(fixture('tiny-upscale-x2'));
    expect(() => scanOnnx(real.subarray(0, Math.floor(real.length / 2)))).toThrow();
    expect(() => scanOnnx(Buffer.from([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94]))).toThrow(); // a pickle
  });
});

describe('inspectModel', () => {
  it('accepts a plain user x2 model: names, layout, channels, scale and size multiple by probe', async () => {
    const { card } = await inspectModel(hostile('user-nearest-x2.onnx'), backend);
    expect(card).toMatchObject({ id: 'user-nearest-x2', task: 'upscale', scale: 2, size_multiple: 1, source: 'user', fp16_safe: false });
    expect(card.inputs).toEqual([{ name: 'input_rgb', role: 'image', channels: 3, layout: 'NCHW', range: [0, 1], dtype: 'float32' }]);
    expect(card.outputs[0].name).toBe('sr');
  });

  it('finds the denoiser\'s sigma input and size multiple 4, and the inpainter\'s mask', async () => {
    const d = (await inspectModel(fixture('tiny-denoise'), backend)).card;
    expect(d).toMatchObject({ task: 'denoise', scale: 1, size_multiple: 4 });
    expect(d.inputs.map((i) => i.role)).toEqual(['image', 'sigma']);
    const i = (await inspectModel(fixture('tiny-inpaint'), backend)).card;
    expect(i).toMatchObject({ task: 'inpaint', scale: 1 });
    expect(i.inputs.map((x) => x.role)).toEqual(['image', 'mask']);
    const x4 = (await inspectModel(fixture('tiny-upscale-x4'), backend, { id: 'mine-x4' })).card;
    expect(x4).toMatchObject({ id: 'mine-x4', task: 'upscale', scale: 4 });
  });

  it('refuses hostile and unsuitable files with a clear reason', async () => {
    await refused(hostile('not-onnx.onnx'), /is not an ONNX model/);
    await refused(hostile('external-data.onnx'), /stores weights in an external file \(\.\.\/\.\.\/etc\/passwd, outside the model's folder\)/);
    await refused(hostile('one-channel.onnx'), /input image has 1 channels; Restora models take RGB images/);
    await refused(hostile('classifier.onnx'), /not an RGB image/);
    await refused(hostile('fixed-size.onnx'), /fixed size 32x32; Restora needs dynamic height and width/);
    await refused(hostile('huge-scale.onnx'), /turns a 64x64 input into 1024x1024; Restora accepts scales 1, 2, 3, 4 or 8 only/);
    const pickle = path.join(dir, 'weights.onnx');
    fs.writeFileSync(pickle, Buffer.concat([Buffer.from([0x80, 0x04, 0x95]), Buffer.alloc(64, 7)]));
    await refused(pickle, /is not an ONNX model/);
    await expect(inspectModel(path.join(dir, 'missing.onnx'), backend)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('a task that contradicts the model is refused', async () => {
    await expect(inspectModel(hostile('user-nearest-x2.onnx'), backend, { task: 'denoise' })).rejects.toMatchObject({ code: 'E_MODEL_INVALID', message: expect.stringMatching(/upscales x2, so it cannot be a denoise model/) });
  });

  it('installs into the user folder with a card the registry accepts', async () => {
    const user = path.join(dir, 'user-models');
    const res = await inspectModel(hostile('user-nearest-x2.onnx'), backend);
    const where = await installModel(res, user);
    expect(fs.readFileSync(path.join(where, 'model.onnx')).equals(fs.readFileSync(hostile('user-nearest-x2.onnx')))).toBe(true);
    const reg = new ModelRegistry({ bundled: FIXTURE_MODELS, user });
    expect(reg.skipped).toEqual([]);
    const e = reg.get('user-nearest-x2')!;
    expect(e.source).toBe('user');
    await expect(reg.verify(e)).resolves.toBeUndefined();
  });
});
