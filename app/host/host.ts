// Entry of the Electron utility process (bundled to dist/host/host.js). Main forks it, then posts
// { init } with one MessagePortMain; from then on the contract runs over that port (serve.ts).
// Inference blocks this process's event loop while a tile runs (onnxruntime-node is synchronous
// in its thread), which is why it lives here and never in main. A crash or a hard cancel ends this
// process; main restarts it.
import { RestoraError } from '../contract/index.ts';
import { createEngine } from '../engine/index.ts';
import { HostInit } from './init.ts';
import { startHost } from './serve.ts';
import { electronPortEndpoint, type MessagePortMainLike, type ToHost, type ToMain } from './wire.ts';

interface ParentPortLike {
  once(event: 'message', listener: (e: { data: unknown; ports: MessagePortMainLike[] }) => void): unknown;
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (!parentPort) {
  console.error('restora host: run me with Electron utilityProcess.fork');
  process.exit(2);
}

parentPort.once('message', (e) => {
  const port = e.ports[0];
  const parsed = HostInit.safeParse(e.data);
  if (!port || !parsed.success) {
    console.error('restora host: bad init message');
    process.exit(2);
  }
  const init = parsed.data;
  const engine = createEngine({ dataDir: init.dataDir, modelsDir: init.modelsDir, userModelsDir: init.userModelsDir });
  startHost(electronPortEndpoint<ToHost, ToMain>(port), engine, init).catch((err) => {
    console.error('restora host:', RestoraError.from(err).message);
    process.exit(1);
  });
});
