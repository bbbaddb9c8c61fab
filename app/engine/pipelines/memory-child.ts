// Child process for the memory test: decode a JPEG, denoise it with the engine (tiled), write the
// result, and print peak RSS as JSON.
// Run: node --import tsx memory-child.ts <in.jpg> <out.jpg> <modelsDir> [tile] [ort|fake]
// `fake` swaps onnxruntime for a backend that allocates a fresh output per tile like ORT does but
// computes nothing, so the engine's own memory (decode, planar buffers, tiler, writer) is measured
// in seconds rather than minutes on a busy 2-core machine.
import os from 'node:os';
import path from 'node:path';
import type { BackendSession, InferenceBackend, TensorData } from '../runtime/backend.ts';
import { createEngine } from '../index.ts';

const [input, output, modelsDir, tile = '512', mode = 'ort'] = process.argv.slice(2);

const fake: InferenceBackend = {
  name: 'fake',
  providers: () => [],
  async load(): Promise<BackendSession> {
    return {
      ep: 'cpu',
      inputs: [],
      outputs: [],
      async run(feeds: Record<string, TensorData>) {
        const img = feeds.image;
        return { output: { data: new Float32Array(img.data), dims: img.dims } };
      },
      async dispose() {},
    };
  },
};

const t0 = performance.now();
const engine = await createEngine({
  modelsDir,
  userModelsDir: path.join(os.tmpdir(), 'restora-mem-user'),
  dataDir: path.join(os.tmpdir(), 'restora-mem-data'),
  runtime: { ep: 'cpu', tile: Number(tile) },
  ...(mode === 'fake' ? { backend: fake } : {}),
});
const img = await engine.readImage(input);
const tRead = performance.now();
const out = await engine.run(img, [{ task: 'denoise', sigma: 15 }]);
const tRun = performance.now();
await engine.writeImage(out, output, { format: 'jpeg', quality: 90 });
const tWrite = performance.now();
await engine.close();
process.stdout.write(
  `${JSON.stringify({
    width: img.width,
    height: img.height,
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    readS: (tRead - t0) / 1000,
    runS: (tRun - tRead) / 1000,
    writeS: (tWrite - tRun) / 1000,
  })}\n`,
);
