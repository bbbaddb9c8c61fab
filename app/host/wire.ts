// The messages between Electron main and the host (utility process) over one MessagePort, and both
// ends of it. Everything is structured-clone data: calls and results, events, errors as ErrorInfo
// (code + sentence + file), grants (so main's restora:// protocol serves what the host made), and
// requests from the host for what only main can do (dialogs, revealing a folder, saving window state
// through the host's one writer goes the other way as the 'persist' call).
//
// Pure: no electron import. An Endpoint adapts a node:worker_threads MessagePort (tests) or
// Electron's MessagePortMain (app) so the same code runs on both.
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';
import { RestoraError, type ErrorInfo, type EventName, type EventPayload } from '../contract/index.ts';

export type MainRequestOp = 'openFolder' | 'choosePaths';

export type ToHost =
  | { t: 'call'; id: number; name: string; args: unknown }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: ErrorInfo };

export type ToMain =
  | { t: 'ready' }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: ErrorInfo }
  | { t: 'event'; name: EventName; payload: unknown }
  | { t: 'grant'; path: string }
  | { t: 'request'; id: number; op: MainRequestOp; arg: string };

export interface Endpoint<In, Out> {
  post(msg: Out): void;
  listen(cb: (msg: In) => void): () => void;
  close(): void;
}

/** node:worker_threads MessagePort (its 'message' listener gets the data itself). */
export function nodePortEndpoint<In, Out>(port: NodeMessagePort): Endpoint<In, Out> {
  return {
    post: (msg) => port.postMessage(msg),
    listen(cb) {
      const fn = (data: In) => cb(data);
      port.on('message', fn);
      return () => port.off('message', fn);
    },
    close: () => port.close(),
  };
}

/** Electron's MessagePortMain (its 'message' listener gets { data, ports }). Structural, so no electron import. */
export interface MessagePortMainLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  off(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  start(): void;
  close(): void;
}

export function electronPortEndpoint<In, Out>(port: MessagePortMainLike): Endpoint<In, Out> {
  port.start();
  return {
    post: (msg) => port.postMessage(msg),
    listen(cb) {
      const fn = (e: { data: unknown }) => cb(e.data as In);
      port.on('message', fn);
      return () => port.off('message', fn);
    },
    close: () => port.close(),
  };
}

const toErrorInfo = (e: unknown): ErrorInfo => RestoraError.from(e).toJSON();

/** Pending request table keyed by message id: the one place ids are made and answered. */
function pendingTable() {
  let next = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  return {
    open(): { id: number; promise: Promise<unknown> } {
      const id = next++;
      const promise = new Promise<unknown>((resolve, reject) => pending.set(id, { resolve, reject }));
      return { id, promise };
    },
    settle(id: number, ok: boolean, value: unknown, error?: ErrorInfo) {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(RestoraError.from(error));
    },
    failAll(err: RestoraError) {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    },
    size: () => pending.size,
  };
}

// ---------------------------------------------------------------------------------------------
// host side

export interface HostSide {
  /** Send an event to main (and on to the window). */
  emit<N extends EventName>(name: N, payload: EventPayload<N>): void;
  /** Tell main it may serve this file over restora://. */
  grant(path: string): void;
  /** Ask main to do what only main can do. */
  request(op: MainRequestOp, arg: string): Promise<unknown>;
  ready(): void;
  close(): void;
}

/**
 * Serve calls arriving on `ep` with `run` (normally `(n, a) => dispatch(handlers, n, a)`), answering
 * each with a result or an ErrorInfo. Messages go out in order, so a grant posted while a call runs
 * reaches main before that call's result.
 */
export function serveHost(ep: Endpoint<ToHost, ToMain>, run: (name: string, args: unknown) => Promise<unknown>): HostSide {
  const table = pendingTable();
  const stop = ep.listen((msg) => {
    if (msg.t === 'call') {
      run(msg.name, msg.args).then(
        (value) => ep.post({ t: 'result', id: msg.id, ok: true, value }),
        (e) => ep.post({ t: 'result', id: msg.id, ok: false, error: toErrorInfo(e) }),
      );
    } else if (msg.t === 'reply') {
      table.settle(msg.id, msg.ok, msg.ok ? msg.value : undefined, msg.ok ? undefined : msg.error);
    }
  });
  return {
    emit: (name, payload) => ep.post({ t: 'event', name, payload }),
    grant: (path) => ep.post({ t: 'grant', path }),
    request(op, arg) {
      const { id, promise } = table.open();
      ep.post({ t: 'request', id, op, arg });
      return promise;
    },
    ready: () => ep.post({ t: 'ready' }),
    close() {
      stop();
      table.failAll(new RestoraError('E_INTERNAL', 'the connection to Restora main closed'));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// main side

export interface MainSideHooks {
  onEvent(name: EventName, payload: unknown): void;
  onGrant(path: string): void;
  onRequest(op: MainRequestOp, arg: string): Promise<unknown>;
  onReady?(): void;
}

export interface HostClient {
  call(name: string, args: unknown): Promise<unknown>;
  /** Reject every call in flight (the host died): each gets `err`. */
  failAll(err: RestoraError): void;
  pending(): number;
  close(): void;
}

export function connectHost(ep: Endpoint<ToMain, ToHost>, hooks: MainSideHooks): HostClient {
  const table = pendingTable();
  const stop = ep.listen((msg) => {
    switch (msg.t) {
      case 'result':
        table.settle(msg.id, msg.ok, msg.ok ? msg.value : undefined, msg.ok ? undefined : msg.error);
        break;
      case 'event':
        hooks.onEvent(msg.name, msg.payload);
        break;
      case 'grant':
        hooks.onGrant(msg.path);
        break;
      case 'request':
        hooks.onRequest(msg.op, msg.arg).then(
          (value) => ep.post({ t: 'reply', id: msg.id, ok: true, value }),
          (e) => ep.post({ t: 'reply', id: msg.id, ok: false, error: toErrorInfo(e) }),
        );
        break;
      case 'ready':
        hooks.onReady?.();
        break;
    }
  });
  return {
    call(name, args) {
      const { id, promise } = table.open();
      ep.post({ t: 'call', id, name, args });
      return promise;
    },
    failAll: (err) => table.failAll(err),
    pending: () => table.size(),
    close() {
      stop();
      ep.close();
    },
  };
}
