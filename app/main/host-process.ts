// Main's side of the host: starts it, relays calls, watches it die. Pure over a `spawn` function,
// so vitest drives it with an in-memory host (node:worker_threads MessageChannel) and main.ts with
// utilityProcess.fork + MessageChannelMain.
//
// - Calls wait until the host says ready; each resolves with the host's result or rejects with
//   a RestoraError (code kept).
// - Batches are tracked from batch.start results and progress events, so when the host dies main
//   knows which batch failed and which of its photos were already finished.
// - Hard cancel kills the process (a tile in onnxruntime-node cannot be interrupted): the batch
//   ends with a 'batch.done' marked cancelled, the host restarts.
// - An unexpected exit: calls in flight fail, each running batch gets 'host.crashed' (naming it)
//   and a 'batch.done' whose unfinished photos are failed; the host restarts (at most
//   `maxRestarts` times in `windowMs`, then it stays down and says so).
import path from 'node:path';
import { RestoraError, events, type BatchReport, type EventName, type EventPayload, type FileReport, type FileStatus } from '../contract/index.ts';
import { HOST_SAVE_WINDOW_STATE, type HostInit } from '../host/init.ts';
import { connectHost, type Endpoint, type HostClient, type MainRequestOp, type ToHost, type ToMain } from '../host/wire.ts';

export interface SpawnedHost {
  endpoint: Endpoint<ToMain, ToHost>;
  kill(): void;
  onExit(cb: (code: number | null) => void): void;
}

export interface SupervisorOptions {
  spawn(init: HostInit): SpawnedHost;
  /** Built fresh at every (re)start: carries main's current grants to the new host. */
  init(): HostInit;
  onEvent<N extends EventName>(name: N, payload: EventPayload<N>): void;
  onGrant(path: string): void;
  onRequest(op: MainRequestOp, arg: string): Promise<unknown>;
  log?(message: string): void;
  maxRestarts?: number;
  windowMs?: number;
}

export interface HostSupervisor {
  start(): void;
  call(name: string, args: unknown): Promise<unknown>;
  /** Kill the host to stop `batchId` now; false if no such batch runs. */
  hardCancel(batchId: string): Promise<{ ok: boolean }>;
  runningBatches(): string[];
  /** Resolves when the current host is ready (for tests and startup). */
  ready(): Promise<void>;
  /**
   * End the host. Calls that write what the user would lose (the window's work, a mask, settings,
   * presets, the window state) and are on their way are let finish first, for at most `graceMs`.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Calls whose writes stop() lets finish: the window's last save on its way out, say. */
const SAVES = new Set(['work.save', 'mask.save', 'settings.set', 'presets.save', 'presets.delete', HOST_SAVE_WINDOW_STATE]);

interface TrackedBatch {
  files: string[];
  started: number;
  status: Map<string, { status: FileStatus; output?: string }>;
  current?: string;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export function createHostSupervisor(o: SupervisorOptions): HostSupervisor {
  const maxRestarts = o.maxRestarts ?? 3;
  const windowMs = o.windowMs ?? 60_000;
  const log = o.log ?? (() => undefined);
  const batches = new Map<string, TrackedBatch>();
  const finished = new Set<string>(); // batch.done seen (possibly before batch.start's result arrived)
  const restarts: number[] = [];
  let host: SpawnedHost | undefined;
  let client: HostClient | undefined;
  let readyState = deferred<void>();
  let stopping = false;
  let givenUp: RestoraError | undefined;
  let hardCancelled: string | undefined;
  let generation = 0;

  const emit = <N extends EventName>(name: N, payload: EventPayload<N>) => o.onEvent(name, payload);

  function track<N extends EventName>(name: N, payload: EventPayload<N>) {
    if (name === 'file.progress') {
      const p = payload as EventPayload<'file.progress'>;
      const b = batches.get(p.batchId);
      if (b) {
        b.status.set(p.input, { status: p.status, output: p.output });
        b.current = p.status === 'running' ? p.input : b.current;
      }
    } else if (name === 'batch.done') {
      const id = (payload as EventPayload<'batch.done'>).batchId;
      batches.delete(id);
      finished.add(id);
    }
  }

  function endReport(batchId: string, b: TrackedBatch, cancelled: boolean, message: string): BatchReport {
    const files: FileReport[] = b.files.map((input) => {
      const s = b.status.get(input);
      if (s && (s.status === 'done' || s.status === 'skipped' || s.status === 'failed')) return { input, status: s.status, ...(s.output ? { output: s.output } : {}) };
      return cancelled
        ? { input, status: 'cancelled', error: { code: 'E_CANCELLED', message: `${path.basename(input)} was not finished: the batch was stopped`, file: input } }
        : { input, status: 'failed', error: { code: 'E_INTERNAL', message: `${path.basename(input)}: ${message}`, file: input } };
    });
    const count = (st: FileStatus) => files.filter((f) => f.status === st).length;
    return { batchId, total: files.length, done: count('done'), failed: count('failed'), skipped: count('skipped'), cancelled, seconds: (Date.now() - b.started) / 1000, files };
  }

  function launch() {
    const gen = ++generation;
    const h = o.spawn(o.init());
    host = h;
    client = connectHost(h.endpoint, {
      onEvent(name, payload) {
        const r = events[name]?.safeParse(payload);
        if (!r || !r.success) {
          log(`dropped a malformed ${String(name)} event from the host`);
          return;
        }
        track(name, r.data as EventPayload<typeof name>);
        emit(name, r.data as EventPayload<typeof name>);
      },
      onGrant: o.onGrant,
      onRequest: o.onRequest,
      onReady: () => readyState.resolve(),
    });
    h.onExit((code) => {
      if (gen !== generation) return;
      onExit(code);
    });
  }

  function onExit(code: number | null) {
    const c = client;
    client = undefined;
    host = undefined;
    c?.close();
    if (stopping) {
      c?.failAll(new RestoraError('E_CANCELLED', 'Restora is closing'));
      return;
    }
    const cancelledId = hardCancelled;
    hardCancelled = undefined;
    const reason = cancelledId ? 'the engine was stopped to cancel a batch' : `the engine stopped unexpectedly (exit code ${code ?? 'none'})`;
    c?.failAll(new RestoraError(cancelledId ? 'E_CANCELLED' : 'E_INTERNAL', `${reason}; it has been restarted`));
    const ended = [...batches.entries()];
    batches.clear();
    if (!cancelledId && ended.length === 0) emit('host.crashed', { message: `The engine stopped unexpectedly (exit code ${code ?? 'none'}) and was restarted.` });
    for (const [batchId, b] of ended) {
      if (batchId === cancelledId) {
        emit('batch.done', endReport(batchId, b, true, reason));
        continue;
      }
      const where = b.current ? ` while restoring ${path.basename(b.current)}` : '';
      const message = cancelledId
        ? `This batch stopped because another batch was cancelled at once; run it again to finish the rest.`
        : `The engine stopped unexpectedly${where}; this batch failed. Restora restarted the engine: run the batch again to finish the rest (finished photos are kept).`;
      emit('host.crashed', { batchId, message });
      emit('batch.done', endReport(batchId, b, false, cancelledId ? 'stopped when another batch was cancelled' : 'the engine stopped unexpectedly'));
    }
    const now = Date.now();
    if (!cancelledId) {
      restarts.push(now);
      while (restarts.length && now - restarts[0] > windowMs) restarts.shift();
    }
    if (restarts.length > maxRestarts) {
      givenUp = new RestoraError('E_INTERNAL', `The engine stopped ${restarts.length} times in a row; Restora will not restart it. Restart the app, and check the log if it keeps happening.`);
      readyState.reject(givenUp);
      emit('host.crashed', { message: givenUp.message });
      log(givenUp.message);
      return;
    }
    readyState = deferred<void>();
    log(`restarting the host (${reason})`);
    launch();
  }

  const saving = new Set<Promise<unknown>>();

  /** A call, and for a save, kept in `saving` from the moment it is asked for until it ends. */
  function call(name: string, args: unknown): Promise<unknown> {
    const pending = send(name, args);
    if (SAVES.has(name)) {
      const tracked = pending.catch(() => undefined);
      saving.add(tracked);
      void tracked.finally(() => saving.delete(tracked));
    }
    return pending;
  }

  async function send(name: string, args: unknown): Promise<unknown> {
    if (givenUp) throw givenUp;
    await readyState.promise;
    if (!client) throw new RestoraError('E_INTERNAL', 'the engine is restarting; try again');
    const value = await client.call(name, args);
    if (name === 'batch.start' && value && typeof (value as { batchId?: unknown }).batchId === 'string' && !finished.has((value as { batchId: string }).batchId)) {
      const files = (args as { files?: unknown }).files;
      batches.set((value as { batchId: string }).batchId, {
        files: Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string').map((f) => path.resolve(f)) : [],
        started: Date.now(),
        status: new Map(),
      });
    }
    return value;
  }

  return {
    start() {
      if (!host) launch();
    },
    call,
    async hardCancel(batchId) {
      if (!batches.has(batchId) || !host) return { ok: false };
      hardCancelled = batchId;
      host.kill();
      return { ok: true };
    },
    runningBatches: () => [...batches.keys()],
    ready: () => readyState.promise,
    async stop(graceMs = 1500) {
      if (saving.size) await Promise.race([Promise.all([...saving]), new Promise((r) => setTimeout(r, graceMs))]);
      stopping = true;
      const h = host;
      if (!h) return;
      await new Promise<void>((resolve) => {
        h.onExit(() => resolve());
        h.kill();
      });
    },
  };
}
