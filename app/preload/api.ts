// window.api as the preload builds it: the contract's RestoraApi and nothing more. Pure over the
// two electron parts it uses (ipcRenderer, webUtils), so it is tested with stand-ins; only types
// come from the contract (the sandboxed preload bundle must not carry zod or Node modules).
//
// - call(name, args) -> Promise of the result; a failure rejects with a plain
//   { name: 'RestoraError', code, message, file? } object (contextBridge drops an Error's own
//   properties, plain objects cross intact); `RestoraError.from(e)` in the UI rebuilds the class.
// - on(event, listener) -> unsubscribe. The listener gets the payload only, never the IPC event.
// - pathForFile(file) -> the dropped File's real path ('' if it has none); main records it as chosen,
//   which is what lets files.add accept it.
import type { CallArgs, CallName, CallResult, ErrorInfo, EventName, EventPayload, RestoraApi } from '../contract/index.ts';
import { IPC } from './channels.ts';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  send(channel: string, ...args: unknown[]): void;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

export interface WebUtilsLike {
  getPathForFile(file: File): string;
}

type Reply = { ok: true; value: unknown } | { ok: false; error: ErrorInfo };

export function buildApi(ipc: IpcRendererLike, webUtils: WebUtilsLike): Required<RestoraApi> {
  return {
    async call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
      const reply = (await ipc.invoke(IPC.call, name, args)) as Reply | undefined;
      if (reply && reply.ok === true) return reply.value as CallResult<N>;
      const err = reply && reply.ok === false ? reply.error : { code: 'E_INTERNAL' as const, message: 'no reply from Restora main' };
      throw { name: 'RestoraError', code: err.code, message: err.message, ...(err.file ? { file: err.file } : {}) };
    },
    on<N extends EventName>(name: N, listener: (payload: EventPayload<N>) => void): () => void {
      const fn = (_event: unknown, ...args: unknown[]) => {
        if (args[0] === name) listener(args[1] as EventPayload<N>);
      };
      ipc.on(IPC.event, fn);
      return () => {
        ipc.removeListener(IPC.event, fn);
      };
    },
    pathForFile(file: File): string {
      const p = webUtils.getPathForFile(file);
      if (p) ipc.send(IPC.chosen, p);
      return p;
    },
  };
}
