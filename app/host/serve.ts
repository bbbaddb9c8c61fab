// The host's side of the contract: the one handler table served over an Endpoint. host.ts calls it
// with Electron's MessagePortMain inside the utility process; tests call it with a
// node:worker_threads MessagePort, so the whole round trip (structured clone included) is tested
// without Electron.
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { RestoraError } from '../contract/index.ts';
import type { Engine } from '../engine/api.ts';
import { writeFileAtomic } from '../engine/image/writer.ts';
import { fileUrl } from './file-url.ts';
import { HOST_SAVE_WINDOW_STATE, HostInit, WINDOW_STATE_FILE } from './init.ts';
import { createGrantSet, type GrantSet } from './grants.ts';
import { createHandlers, dispatch, type HandlerContext, type Handlers } from './handlers.ts';
import { serveHost, type Endpoint, type HostSide, type ToHost, type ToMain } from './wire.ts';

export interface RunningHost {
  handlers?: Handlers; // absent when the engine failed to start
  side: HostSide;
  grants: GrantSet;
  close(): Promise<void>;
}

/**
 * Serve the contract on `ep`. `engine` may be a failed promise (no models, broken runtime): the host
 * still answers, and every call fails with that error, so the UI can say what is wrong.
 */
export async function startHost(ep: Endpoint<ToHost, ToMain>, enginePromise: Promise<Engine>, initArg: HostInit): Promise<RunningHost> {
  const init = HostInit.parse(initArg);
  const grants = createGrantSet();
  const ref: { side?: HostSide } = {}; // the ctx below is built before the port is served
  const ctx: HandlerContext = {
    mode: 'electron',
    emit: (name, payload) => ref.side?.emit(name, payload),
    urlFor(p) {
      const st = statSync(p, { throwIfNoEntry: false });
      return fileUrl(p, st ? Math.round(st.mtimeMs) : undefined);
    },
    grant(p) {
      grants.grant(p);
      ref.side?.grant(p);
    },
    isGranted: (p) => grants.isGranted(p),
    openFolder: async (p) => Boolean(await ref.side?.request('openFolder', p)),
    choosePaths: async (purpose) => {
      const r = await ref.side?.request('choosePaths', purpose);
      return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
    },
  };
  for (const p of init.grants) grants.grant(p);

  let engine: Engine | undefined;
  let engineError: RestoraError | undefined;
  try {
    engine = await enginePromise;
  } catch (e) {
    engineError = RestoraError.from(e);
  }
  const handlers = engine ? createHandlers(engine, ctx, { dataDir: init.dataDir, version: init.version, dirs: init.dirs }) : undefined;

  const side = serveHost(ep, async (name, args) => {
    if (name === HOST_SAVE_WINDOW_STATE) {
      await fs.mkdir(init.dataDir, { recursive: true });
      await writeFileAtomic(path.join(init.dataDir, WINDOW_STATE_FILE), JSON.stringify(args) + '\n');
      return { ok: true };
    }
    if (!handlers) throw engineError ?? new RestoraError('E_INTERNAL', 'the engine did not start');
    return dispatch(handlers, name, args);
  });
  ref.side = side;
  side.ready();
  return {
    handlers,
    side,
    grants,
    async close() {
      side.close();
      await engine?.close();
    },
  };
}
