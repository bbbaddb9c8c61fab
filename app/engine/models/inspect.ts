// Inspecting a user's .onnx before it is ever used: size cap, a strict protobuf pre-scan
// (refuses external data, custom op domains, absurd graphs), then a CPU session and probe runs on
// tiny inputs (64 px and a few sizes around it) to learn the output scale and size multiple.
// A model that passes is copied into the user models folder with a generated card.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { RestoraError, type Task } from '../../contract/index.ts';
import { writeFileAtomic } from '../image/writer.ts';
import type { BackendSession, InferenceBackend, TensorData, ValueInfo } from '../runtime/backend.ts';
import { aOrAn, validateCard, type CardTensor, type ModelCard, type Role } from './card.ts';
import { OnnxFormatError, scanOnnx } from './onnx-proto.ts';

export const MAX_MODEL_BYTES = 512 * 1024 * 1024;
const MAX_NODES = 50_000;
const KNOWN_DOMAINS = new Set(['', 'ai.onnx', 'com.microsoft', 'ai.onnx.ml']);
const SCALES = [1, 2, 3, 4, 8];

export interface InspectResult {
  card: ModelCard;
  bytes: Buffer;
}

function invalid(file: string, reason: string): RestoraError {
  return new RestoraError('E_MODEL_INVALID', `${path.basename(file)} ${reason}`, file);
}

function dimsText(d: (number | string)[]): string {
  return `[${d.map((x) => (typeof x === 'number' && x >= 0 ? x : 'N')).join(', ')}]`;
}

const isDynamic = (d: number | string | undefined) => typeof d === 'string' || d === undefined || d < 0;

function roleOf(v: ValueInfo, task: Task | undefined): Role | undefined {
  const ch = v.dims[1];
  if (ch === 3) return 'image';
  if (ch !== 1) return undefined;
  if (/mask|hole/i.test(v.name)) return 'mask';
  if (/sigma|noise|level|strength/i.test(v.name)) return 'sigma';
  if (task === 'inpaint') return 'mask';
  if (task === 'denoise') return 'sigma';
  return undefined;
}

function slug(s: string): string {
  const x = s.toLowerCase().replace(/\.onnx$/, '').replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 56);
  return x || 'model';
}

function feedsFor(inputs: { name: string; role: Role; channels: number }[], side: number): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  for (const i of inputs) {
    const n = i.channels * side * side;
    const data = new Float32Array(n);
    for (let k = 0; k < n; k++) data[k] = i.role === 'sigma' ? 0.1 : i.role === 'mask' ? (rnd() > 0.8 ? 1 : 0) : rnd();
    feeds[i.name] = { data, dims: [1, i.channels, side, side] };
  }
  return feeds;
}

/**
 * Inspect `file` and build a card for it (not yet written). Throws E_MODEL_INVALID with a reason
 * for: unreadable or oversized files, non-ONNX bytes, external data (any location, in particular
 * paths leaving the folder), unknown op domains, inputs that are not NCHW float32 RGB with
 * dynamic height/width, outputs that are not (1,3,H*s,W*s) for an integer s in 1,2,3,4,8,
 * non-finite outputs.
 */
export async function inspectModel(file: string, backend: InferenceBackend, opts: { task?: Task; id?: string } = {}): Promise<InspectResult> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new RestoraError('E_NOT_FOUND', `${path.basename(file)} does not exist`, file);
  }
  if (!st.isFile()) throw invalid(file, 'is not a file');
  if (st.size > MAX_MODEL_BYTES) throw invalid(file, `is ${(st.size / 2 ** 20).toFixed(0)} MB; Restora accepts models up to ${MAX_MODEL_BYTES / 2 ** 20} MB`);
  if (st.size < 16) throw invalid(file, 'is not an ONNX model (too small)');
  const bytes = await fsp.readFile(file);
  let scan;
  try {
    scan = scanOnnx(bytes);
  } catch (e) {
    const why = e instanceof OnnxFormatError ? e.message : String(e);
    throw invalid(file, `is not an ONNX model (${why})`);
  }
  if (scan.externalData.length) {
    const loc = scan.externalData[0].location || '(no location)';
    const escapes = path.isAbsolute(loc) || loc.split(/[\\/]/).includes('..');
    throw invalid(file, `stores weights in an external file (${loc}${escapes ? ', outside the model\'s folder' : ''}); Restora only accepts self-contained .onnx files`);
  }
  const custom = scan.domains.filter((d) => !KNOWN_DOMAINS.has(d));
  if (custom.length) throw invalid(file, `uses custom operators (${custom.join(', ')}), which Restora never loads`);
  if (scan.nodes > MAX_NODES) throw invalid(file, `has ${scan.nodes} nodes, more than the ${MAX_NODES} Restora accepts`);

  let session: BackendSession;
  try {
    session = await backend.load(file, { ep: 'cpu', threads: 1, quiet: true });
  } catch (e) {
    throw invalid(file, `cannot be loaded by ONNX Runtime (${(e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200)})`);
  }
  try {
    const ins = session.inputs;
    if (ins.length < 1 || ins.length > 3) throw invalid(file, `has ${ins.length} inputs; Restora models take an image (and optionally a sigma map or a mask)`);
    for (const v of ins) {
      if (v.type !== 'float32') throw invalid(file, `input ${v.name} is ${v.type}; Restora needs float32 inputs (export without half precision)`);
      if (v.dims.length !== 4) throw invalid(file, `input ${v.name} has shape ${dimsText(v.dims)}; Restora needs NCHW (N, C, H, W)`);
      if (!isDynamic(v.dims[2]) || !isDynamic(v.dims[3])) throw invalid(file, `input ${v.name} has a fixed size ${v.dims[2]}x${v.dims[3]}; Restora needs dynamic height and width to tile photos`);
      if (typeof v.dims[1] !== 'number') throw invalid(file, `input ${v.name} has an unknown channel count; Restora needs NCHW with 3 (RGB) or 1 channel`);
    }
    const roles = ins.map((v) => ({ name: v.name, role: roleOf(v, opts.task), channels: v.dims[1] as number }));
    const bad = roles.find((r) => !r.role);
    if (bad) throw invalid(file, `input ${bad.name} has ${bad.channels} channels; Restora models take RGB images (N, 3, H, W), plus 1-channel sigma or mask inputs`);
    const images = roles.filter((r) => r.role === 'image');
    if (images.length !== 1) throw invalid(file, images.length ? 'has more than one RGB input' : 'has no RGB (3-channel) image input');
    const typed = roles as { name: string; role: Role; channels: number }[];
    const hasSigma = typed.some((r) => r.role === 'sigma');
    const hasMask = typed.some((r) => r.role === 'mask');
    if (hasSigma && hasMask) throw invalid(file, 'has both a sigma and a mask input; Restora cannot tell what it does');
    const outs = session.outputs;
    if (outs.length < 1) throw invalid(file, 'has no outputs');
    const out = outs[0];
    if (out.type !== 'float32') throw invalid(file, `output ${out.name} is ${out.type}; Restora needs float32`);
    if (out.dims.length !== 4 || (typeof out.dims[1] === 'number' && out.dims[1] !== 3)) throw invalid(file, `output ${out.name} has shape ${dimsText(out.dims)}; it is not an RGB image (N, 3, H, W)`);

    const probe = async (side: number): Promise<{ ok: true; h: number; w: number } | { ok: false; why: string }> => {
      try {
        const r = await session.run(feedsFor(typed, side));
        const o = r[out.name];
        if (!o) return { ok: false, why: 'no output' };
        if (o.dims.length !== 4 || o.dims[0] !== 1 || o.dims[1] !== 3) return { ok: false, why: `output shape ${dimsText(o.dims)} is not an RGB image` };
        for (let i = 0; i < o.data.length; i++) if (!Number.isFinite(o.data[i])) return { ok: false, why: 'output contains NaN or infinite values' };
        return { ok: true, h: o.dims[2], w: o.dims[3] };
      } catch (e) {
        return { ok: false, why: (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 160) };
      }
    };
    const base = await probe(64);
    if (!base.ok) throw invalid(file, `fails on a 64x64 test input (${base.why})`);
    if (base.h !== base.w || base.h % 64 !== 0 || !SCALES.includes(base.h / 64)) {
      throw invalid(file, `turns a 64x64 input into ${base.w}x${base.h}; Restora accepts scales 1, 2, 3, 4 or 8 only`);
    }
    const scale = base.h / 64;
    let multiple = 64;
    for (const m of [1, 2, 4, 8, 16, 32]) {
      const r = await probe(64 + m);
      if (r.ok && r.h === (64 + m) * scale && r.w === (64 + m) * scale) {
        multiple = m;
        break;
      }
    }
    const task: Task = opts.task ?? (hasMask ? 'inpaint' : hasSigma ? 'denoise' : scale > 1 ? 'upscale' : 'denoise');
    if (task === 'upscale' && scale === 1) throw invalid(file, 'does not change the image size, so it cannot be an upscaler');
    if (task !== 'upscale' && scale !== 1) throw invalid(file, `upscales x${scale}, so it cannot be ${aOrAn(task)} model`);
    if (task === 'inpaint' && !hasMask) throw invalid(file, 'has no mask input, so it cannot be an inpainter');
    if (task !== 'inpaint' && hasMask) throw invalid(file, 'has a mask input, so it can only be an inpainter');
    const id = opts.id ?? slug(path.basename(file));
    const tile = Math.max(multiple, Math.floor(256 / multiple) * multiple);
    const overlap = Math.min(Math.ceil(32 / multiple) * multiple, Math.floor((tile - multiple) / 2 / multiple) * multiple);
    const tensor = (name: string, role: Role, channels: 1 | 3): CardTensor => ({ name, role, channels, layout: 'NCHW', range: [0, 1], dtype: 'float32' });
    const card: ModelCard = {
      id,
      name: path.basename(file).replace(/\.onnx$/i, ''),
      task,
      version: '1',
      scale,
      file: 'model.onnx',
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      inputs: typed.map((r) => tensor(r.name, r.role, r.channels === 3 ? 3 : 1)),
      outputs: [tensor(out.name, 'image', 3)],
      size_multiple: multiple,
      tiling: { tile, overlap },
      fp16_safe: false,
      color_space: 'sRGB',
      license: 'unknown (added by the user)',
      architecture: scan.producer ? `user ONNX model (${scan.producer})` : 'user ONNX model',
      params: scan.params,
      metrics: {},
      description: `Added from ${path.basename(file)}; inputs ${typed.map((r) => `${r.name} (${r.role})`).join(', ')}; output x${scale}; size multiple ${multiple} (found by probe runs).`,
      source: 'user',
    };
    const v = validateCard(card);
    if (!v.ok) throw invalid(file, `produced an invalid card (${v.reasons.join('; ')})`);
    return { card, bytes };
  } finally {
    await session.dispose().catch(() => undefined);
  }
}

/** Copy an inspected model into `<userDir>/<id>/` (model.onnx + card.json), through the writer. */
export async function installModel(res: InspectResult, userDir: string): Promise<string> {
  const dir = path.join(userDir, res.card.id);
  await writeFileAtomic(path.join(dir, 'model.onnx'), res.bytes);
  await writeFileAtomic(path.join(dir, 'card.json'), `${JSON.stringify(res.card, null, 2)}\n`);
  return dir;
}
