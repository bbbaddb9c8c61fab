// RestoraApi for web mode (`restora serve`): calls are POST /api/call/<name> with the token in a
// header, events arrive over one WebSocket. Same interface as window.api in Electron, so the rest
// of the UI never knows which one it talks to.
import {
  RestoraError,
  type CallArgs,
  type CallName,
  type CallResult,
  type EventName,
  type EventPayload,
  type RestoraApi,
} from '../../../app/contract/index.ts';

export const TOKEN_HEADER = 'X-Restora-Token';
const TOKEN_KEY = 'restora.token';

export interface UploadResult {
  /** upload folder id: pass it again to keep several files (a dropped folder) together */
  dir: string;
  /** absolute folder on the server holding this upload */
  root: string;
  /** absolute path of the stored copy */
  path: string;
}

export interface WebApi extends RestoraApi {
  /** Store a copy of a picked or dropped file on the server; `name` may hold sub-folders (a/b.jpg). */
  upload(file: Blob, name: string, dir?: string): Promise<UploadResult>;
  /** Resolves once the event socket is open (events sent before that would be missed). */
  ready(): Promise<void>;
  /**
   * Connection state changes: 'connected' (events flowing), 'lost' (reconnecting), 'expired' (the
   * server answers but refuses this page's token: it was restarted, so this page is done with it).
   */
  onConnection(listener: (state: Connection) => void): () => void;
  close(): void;
}

export type Connection = 'connected' | 'lost' | 'expired';

export interface WebApiOptions {
  token: string;
  /** Origin of the server; default: the page's own (location.origin). */
  base?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

/**
 * The token from the URL the server printed (`?token=...`), kept in sessionStorage so a reload
 * still works, and taken out of the address bar so it is not copied around or bookmarked.
 */
export function takeToken(loc: Location, storage: Storage | undefined, history: History | undefined): string {
  const url = new URL(loc.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      storage?.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // storage disabled: the token lives only in this page
    }
    url.searchParams.delete('token');
    history?.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return storage?.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

async function readError(res: Response): Promise<RestoraError> {
  try {
    const body = (await res.json()) as { error?: unknown };
    if (body && body.error) return RestoraError.from(body.error);
  } catch {
    // not JSON
  }
  return new RestoraError(res.status === 401 || res.status === 403 ? 'E_FORBIDDEN' : 'E_INTERNAL', `the Restora server answered ${res.status} ${res.statusText}`);
}

export function createWebApi(opts: WebApiOptions): WebApi {
  const base = (opts.base ?? globalThis.location?.origin ?? '').replace(/\/$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const connectionListeners = new Set<(c: Connection) => void>();
  let socket: WebSocket | null = null;
  let closed = false;
  let retry = 0;
  let openResolve: (() => void) | null = null;
  let opened = new Promise<void>((r) => (openResolve = r));

  function setConnected(c: Connection) {
    for (const l of connectionListeners) l(c);
  }

  /** While the socket is down: true when the server is up but refuses our token (a new server). */
  async function tokenRefused(): Promise<boolean> {
    try {
      await call('app.info', {});
      return false;
    } catch (e) {
      return RestoraError.from(e).code === 'E_FORBIDDEN'; // else not reachable: still down, keep trying
    }
  }

  function connect() {
    if (closed) return;
    const wsUrl = `${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(opts.token)}`;
    const ws = new WS(wsUrl);
    socket = ws;
    ws.onopen = () => {
      retry = 0;
      openResolve?.();
      openResolve = null;
      setConnected('connected');
    };
    ws.onmessage = (ev: MessageEvent) => {
      let msg: { event?: string; payload?: unknown };
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
      } catch {
        return;
      }
      if (!msg.event) return;
      for (const l of listeners.get(msg.event) ?? []) {
        try {
          l(msg.payload);
        } catch (e) {
          console.error(e);
        }
      }
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      if (closed) return;
      if (!openResolve) opened = new Promise<void>((r) => (openResolve = r));
      setConnected('lost');
      retry = Math.min(retry + 1, 6);
      setTimeout(() => {
        void tokenRefused().then((refused) => {
          if (closed) return;
          if (refused) {
            closed = true;
            setConnected('expired');
          } else connect();
        });
      }, 250 * 2 ** retry);
    };
    ws.onerror = () => {
      // onclose follows and reconnects
    };
  }
  connect();

  async function call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    let res: Response;
    try {
      if (name === 'mask.save') {
        const a = args as CallArgs<'mask.save'>;
        // the PNG goes as bytes, never as a JSON array of numbers
        res = await doFetch(`${base}/api/call/mask.save?forPath=${encodeURIComponent(a.forPath)}${a.draft ? '&draft=1' : ''}`, {
          method: 'POST',
          headers: { [TOKEN_HEADER]: opts.token, 'Content-Type': 'application/octet-stream' },
          body: a.png as unknown as BodyInit,
        });
      } else {
        res = await doFetch(`${base}/api/call/${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: { [TOKEN_HEADER]: opts.token, 'Content-Type': 'application/json' },
          body: JSON.stringify(args ?? {}),
        });
      }
    } catch (e) {
      throw new RestoraError('E_INTERNAL', `cannot reach the Restora server (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!res.ok) throw await readError(res);
    const body = (await res.json()) as { result: CallResult<N> };
    return body.result;
  }

  return {
    call,
    on<N extends EventName>(name: N, listener: (payload: EventPayload<N>) => void): () => void {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      const l = listener as (p: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
    async upload(file: Blob, name: string, dir?: string): Promise<UploadResult> {
      const q = new URLSearchParams({ name });
      if (dir) q.set('dir', dir);
      const res = await doFetch(`${base}/upload?${q}`, {
        method: 'POST',
        headers: { [TOKEN_HEADER]: opts.token, 'Content-Type': 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) throw await readError(res);
      return (await res.json()) as UploadResult;
    },
    ready: () => opened,
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    close() {
      closed = true;
      socket?.close();
      socket = null;
    },
  };
}
