// Main's IPC relay: window -> (sender check, schema check) -> host, and host events -> window.
// Replies are envelopes ({ ok, value } | { ok: false, error: ErrorInfo }) because Electron's
// ipcMain.handle keeps only an Error's message; the preload turns a failed envelope back into a
// rejection carrying code + message + file.
//
// Paths enter the app only where the user chose them: a native dialog (main records the result),
// a drop (the preload reports webUtils.getPathForFile's answer on IPC.chosen), or the OS opening a
// file with Restora. files.add accepts nothing else from the window.
import fs from 'node:fs';
import path from 'node:path';
import { RestoraError, isCallName, parseArgs, type ErrorInfo, type EventName, type EventPayload } from '../contract/index.ts';
import type { GrantSet } from '../host/grants.ts';
import { IPC } from '../preload/channels.ts';
import { isTrustedSender, type IpcEventLike } from './security.ts';

export { IPC };

export type IpcReply = { ok: true; value: unknown } | { ok: false; error: ErrorInfo };

export interface RelayWindow {
  webContents: { mainFrame: unknown; send(channel: string, ...args: unknown[]): void; isDestroyed?(): boolean };
  isDestroyed?(): boolean;
}

export interface RelayDeps {
  window(): RelayWindow | null | undefined;
  host: { call(name: string, args: unknown): Promise<unknown>; hardCancel(batchId: string): Promise<{ ok: boolean }> };
  /** What the user chose: dialog results, drops, files opened from the OS. */
  chosen: GrantSet;
}

/** Record a path the user chose (a folder: everything under it). */
export function choose(chosen: GrantSet, p: string): void {
  const abs = path.resolve(p);
  let tree = false;
  try {
    tree = fs.statSync(abs).isDirectory();
  } catch {
    // gone already: files.add will report it as not found
  }
  chosen.grant(abs, { tree });
}

export function createRelay(deps: RelayDeps) {
  const fail = (e: unknown): IpcReply => ({ ok: false, error: RestoraError.from(e).toJSON() });

  async function handleCall(e: IpcEventLike, name: unknown, args: unknown): Promise<IpcReply> {
    try {
      if (!isTrustedSender(e, deps.window())) throw new RestoraError('E_FORBIDDEN', 'this request did not come from the Restora window');
      if (!isCallName(name)) throw new RestoraError('E_USAGE', `unknown call ${typeof name === 'string' ? name : typeof name}`);
      const parsed = parseArgs(name, args);
      if (name === 'batch.cancel') {
        const a = parsed as { batchId: string; hard: boolean };
        // kill the host for a batch it runs; one main does not know of gets the soft path
        if (a.hard) {
          const r = await deps.host.hardCancel(a.batchId);
          if (r.ok) return { ok: true, value: r };
        }
      }
      if (name === 'files.add') {
        for (const p of (parsed as { paths: string[] }).paths) {
          if (!deps.chosen.isGranted(path.resolve(p))) throw new RestoraError('E_FORBIDDEN', `${path.basename(p)} was not chosen in a dialog or dropped on the window`, p);
        }
      }
      return { ok: true, value: await deps.host.call(name, parsed) };
    } catch (err) {
      return fail(err);
    }
  }

  function handleChosen(e: IpcEventLike, p: unknown): void {
    if (!isTrustedSender(e, deps.window())) return;
    if (typeof p !== 'string' || !p || p.includes('\0') || !path.isAbsolute(p)) return;
    choose(deps.chosen, p);
  }

  function sendEvent<N extends EventName>(name: N, payload: EventPayload<N>): void {
    const win = deps.window();
    if (!win || win.isDestroyed?.() || win.webContents.isDestroyed?.()) return;
    win.webContents.send(IPC.event, name, payload);
  }

  return { handleCall, handleChosen, sendEvent };
}
