#!/usr/bin/env node
// Runs an ONNX model once in onnxruntime-node (CPU) on tensors given as raw float32 files, so that
// scripts/training/export_onnx.py can compare ONNX Runtime with PyTorch (there is no Python
// onnxruntime on these machines). Usage:
//
//   node scripts/ort_parity.mjs SPEC.json
//
// SPEC.json: { "model": "path/model.onnx", "threads": 1, "outDir": "dir",
//              "inputs": [{ "name": "image", "shape": [1, 3, 64, 64], "file": "image.f32" }, ...] }
// Input files are little-endian float32 in row-major (NCHW) order. For every model output it writes
// outDir/<name>.f32 and prints one JSON line: { "outputs": [{ "name", "shape", "file" }], "ort": version }.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import ort from 'onnxruntime-node';

function fail(msg) {
  process.stderr.write(`ort_parity: ${msg}\n`);
  process.exit(2);
}

const specPath = process.argv[2];
if (!specPath) fail('usage: node scripts/ort_parity.mjs SPEC.json');
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const base = dirname(resolve(specPath));
const at = (p) => resolve(base, p);

const feeds = {};
for (const inp of spec.inputs ?? []) {
  const buf = readFileSync(at(inp.file));
  const n = inp.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== n * 4) fail(`${inp.file}: ${buf.byteLength} bytes, expected ${n * 4} for shape [${inp.shape}]`);
  // copy into an aligned buffer: a Buffer from readFileSync may sit at any offset of a shared pool
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(buf);
  feeds[inp.name] = new ort.Tensor('float32', data, inp.shape);
}

const session = await ort.InferenceSession.create(at(spec.model), {
  executionProviders: ['cpu'],
  intraOpNumThreads: spec.threads ?? 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const missing = session.inputNames.filter((n) => !(n in feeds));
if (missing.length) fail(`model inputs not given: ${missing.join(', ')} (model has ${session.inputNames.join(', ')})`);

const results = await session.run(feeds);
const outDir = at(spec.outDir ?? '.');
mkdirSync(outDir, { recursive: true });
const outputs = [];
for (const name of session.outputNames) {
  const t = results[name];
  if (t.type !== 'float32') fail(`output ${name} is ${t.type}, expected float32`);
  const file = join(outDir, `${name}.f32`);
  writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  outputs.push({ name, shape: t.dims, file });
}
await session.release();
process.stdout.write(JSON.stringify({ outputs, ort: ort.env.versions?.common ?? 'unknown' }) + '\n');
