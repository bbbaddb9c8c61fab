import { describe, expect, it, vi } from 'vitest';
import { RestoraError } from '../contract/index.ts';
import { buildApi, type IpcRendererLike } from './api.ts';
import { IPC } from './channels.ts';

function fakeIpc(reply: unknown) {
  const listeners = new Set<(e: unknown, ...a: unknown[]) => void>();
  const ipc: IpcRendererLike & { emit(name: string, payload: unknown): void; count(): number } = {
    invoke: vi.fn(async () => reply),
    send: vi.fn(),
    on: (_c, l) => listeners.add(l),
    removeListener: (_c, l) => listeners.delete(l),
    emit: (name, payload) => {
      for (const l of listeners) l({ sender: 'ipc-event-object' }, name, payload);
    },
    count: () => listeners.size,
  };
  return ipc;
}

describe('window.api (preload)', () => {
  it('exposes call, on and pathForFile, nothing else', () => {
    const api = buildApi(fakeIpc(null), { getPathForFile: () => '' });
    expect(Object.keys(api).sort()).toEqual(['call', 'on', 'pathForFile']);
  });

  it('call resolves with the value of an ok envelope', async () => {
    const ipc = fakeIpc({ ok: true, value: { version: '1' } });
    const api = buildApi(ipc, { getPathForFile: () => '' });
    await expect(api.call('settings.get', {})).resolves.toEqual({ version: '1' });
    expect(ipc.invoke).toHaveBeenCalledWith(IPC.call, 'settings.get', {});
  });

  it('call rejects with code, message and file that survive contextBridge as a plain object', async () => {
    const api = buildApi(fakeIpc({ ok: false, error: { code: 'E_FORBIDDEN', message: 'x.jpg was not added', file: '/x.jpg' } }), { getPathForFile: () => '' });
    const err = await api.call('image.info', { path: '/x.jpg' }).catch((e: unknown) => e);
    expect(err).toEqual({ name: 'RestoraError', code: 'E_FORBIDDEN', message: 'x.jpg was not added', file: '/x.jpg' });
    expect(Object.getPrototypeOf(err)).toBe(Object.prototype);
    expect(RestoraError.from(err).code).toBe('E_FORBIDDEN');
    const none = await buildApi(fakeIpc(undefined), { getPathForFile: () => '' }).call('settings.get', {}).catch((e: { code: string }) => e.code);
    expect(none).toBe('E_INTERNAL');
  });

  it('on delivers only its event, only the payload, and unsubscribes', () => {
    const ipc = fakeIpc(null);
    const api = buildApi(ipc, { getPathForFile: () => '' });
    const got: unknown[][] = [];
    const off = api.on('batch.progress', (...args: unknown[]) => got.push(args));
    ipc.emit('file.progress', { batchId: 'a' });
    ipc.emit('batch.progress', { batchId: 'b' });
    expect(got).toEqual([[{ batchId: 'b' }]]);
    off();
    expect(ipc.count()).toBe(0);
    ipc.emit('batch.progress', { batchId: 'c' });
    expect(got).toHaveLength(1);
  });

  it('pathForFile reports a dropped file to main as chosen', () => {
    const ipc = fakeIpc(null);
    const file = {} as File;
    const api = buildApi(ipc, { getPathForFile: (f) => (f === file ? '/photos/a.jpg' : '') });
    expect(api.pathForFile(file)).toBe('/photos/a.jpg');
    expect(ipc.send).toHaveBeenCalledWith(IPC.chosen, '/photos/a.jpg');
    expect(api.pathForFile({} as File)).toBe('');
    expect(ipc.send).toHaveBeenCalledTimes(1);
  });
});

describe('preload.ts', () => {
  it('exposes exactly one world key, api, built from the contract surface', async () => {
    const exposeInMainWorld = vi.fn();
    vi.doMock('electron', () => ({
      contextBridge: { exposeInMainWorld },
      ipcRenderer: fakeIpc(null),
      webUtils: { getPathForFile: () => '' },
    }));
    await import('./preload.ts');
    expect(exposeInMainWorld).toHaveBeenCalledTimes(1);
    const [key, api] = exposeInMainWorld.mock.calls[0];
    expect(key).toBe('api');
    expect(Object.keys(api).sort()).toEqual(['call', 'on', 'pathForFile']);
    expect(Object.values(api).every((v) => typeof v === 'function')).toBe(true);
    vi.doUnmock('electron');
  });
});
