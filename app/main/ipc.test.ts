import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createGrantSet } from '../host/grants.ts';
import { IPC, choose, createRelay } from './ipc.ts';

function setup() {
  const mainFrame = { url: 'restora://app/index.html', parent: null };
  const send = vi.fn();
  const webContents = { mainFrame, send };
  const win = { webContents };
  const host = { call: vi.fn(async (name: string, args: unknown) => ({ name, args })), hardCancel: vi.fn(async () => ({ ok: true })) };
  const chosen = createGrantSet();
  const relay = createRelay({ window: () => win, host, chosen });
  const ok = { sender: webContents, senderFrame: mainFrame };
  return { relay, host, chosen, ok, send, mainFrame, webContents };
}

describe('IPC relay in main', () => {
  it('forwards a valid call from our window, with the contract defaults applied', async () => {
    const t = setup();
    const r = await t.relay.handleCall(t.ok, 'batch.cancel', { batchId: 'b1' });
    expect(r).toEqual({ ok: true, value: { name: 'batch.cancel', args: { batchId: 'b1', hard: false } } });
  });

  it('rejects calls from a subframe, another frame or a foreign page, before anything runs', async () => {
    const t = setup();
    const sub = { url: 'restora://app/index.html', parent: t.mainFrame };
    for (const e of [
      { sender: t.webContents, senderFrame: sub },
      { sender: t.webContents, senderFrame: null },
      { sender: t.webContents, senderFrame: { url: 'restora://app/index.html', parent: null } },
      { sender: {}, senderFrame: t.mainFrame },
    ]) {
      const r = await t.relay.handleCall(e, 'settings.get', {});
      expect(r).toMatchObject({ ok: false, error: { code: 'E_FORBIDDEN' } });
    }
    expect(t.host.call).not.toHaveBeenCalled();
  });

  it('validates names and arguments with the contract (E_USAGE), not in the host', async () => {
    const t = setup();
    expect(await t.relay.handleCall(t.ok, 'fs.readFile', {})).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
    expect(await t.relay.handleCall(t.ok, 'host.saveWindowState', { width: 1 })).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
    expect(await t.relay.handleCall(t.ok, 'image.info', { path: 42 })).toMatchObject({ ok: false, error: { code: 'E_USAGE', message: expect.stringContaining('path') } });
    expect(await t.relay.handleCall(t.ok, 'batch.start', { files: [], recipe: [] })).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
    expect(t.host.call).not.toHaveBeenCalled();
  });

  it('sends a hard cancel to the supervisor (kill), a soft one to the host', async () => {
    const t = setup();
    expect(await t.relay.handleCall(t.ok, 'batch.cancel', { batchId: 'b1', hard: true })).toEqual({ ok: true, value: { ok: true } });
    expect(t.host.hardCancel).toHaveBeenCalledWith('b1');
    expect(t.host.call).not.toHaveBeenCalled();
    t.host.hardCancel.mockResolvedValueOnce({ ok: false });
    expect(await t.relay.handleCall(t.ok, 'batch.cancel', { batchId: 'b2', hard: true })).toEqual({ ok: true, value: { name: 'batch.cancel', args: { batchId: 'b2', hard: true } } });
  });

  it('files.add accepts only what the user chose (dialog, drop, OS), folders with their contents', async () => {
    const t = setup();
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'restora-ipc-')));
    fs.mkdirSync(path.join(dir, 'shoot'));
    fs.writeFileSync(path.join(dir, 'shoot', 'a.jpg'), 'x');
    fs.writeFileSync(path.join(dir, 'b.jpg'), 'x');
    expect(await t.relay.handleCall(t.ok, 'files.add', { paths: [path.join(dir, 'b.jpg')] })).toMatchObject({ ok: false, error: { code: 'E_FORBIDDEN', file: path.join(dir, 'b.jpg') } });
    t.relay.handleChosen(t.ok, path.join(dir, 'b.jpg'));
    choose(t.chosen, path.join(dir, 'shoot'));
    const r = await t.relay.handleCall(t.ok, 'files.add', { paths: [path.join(dir, 'b.jpg'), path.join(dir, 'shoot', 'a.jpg'), path.join(dir, 'shoot')] });
    expect(r.ok).toBe(true);
    expect(await t.relay.handleCall(t.ok, 'files.add', { paths: [`${dir}/shoot/../../etc`] })).toMatchObject({ ok: false, error: { code: 'E_FORBIDDEN' } });
    // a drop reported by a foreign frame or a relative path is ignored
    t.relay.handleChosen({ sender: {}, senderFrame: t.mainFrame }, '/etc');
    t.relay.handleChosen(t.ok, 'etc');
    expect(t.chosen.isGranted('/etc')).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('host errors keep their code and file in the envelope', async () => {
    const t = setup();
    t.host.call.mockRejectedValueOnce(Object.assign(new Error('photo.jpg is not a readable image'), { code: 'E_DECODE', file: '/p/photo.jpg' }));
    expect(await t.relay.handleCall(t.ok, 'settings.get', {})).toEqual({ ok: false, error: { code: 'E_DECODE', message: 'photo.jpg is not a readable image', file: '/p/photo.jpg' } });
  });

  it('sends events to the window on one channel', () => {
    const t = setup();
    t.relay.sendEvent('host.crashed', { batchId: 'b', message: 'm' });
    expect(t.send).toHaveBeenCalledWith(IPC.event, 'host.crashed', { batchId: 'b', message: 'm' });
  });
});
