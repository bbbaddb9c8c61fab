// Window state, menu, dialogs and batch feedback: the parts of main that are plain data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { events } from '../contract/index.ts';
import { dialogOptions } from './dialogs.ts';
import { batchSummary, createBatchFeedback } from './feedback.ts';
import { menuTemplate, type MenuCommand } from './menu.ts';
import { DEFAULT_STATE, boundsOf, readStateFile, restoreState, trackWindowState } from './window-state.ts';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('window state', () => {
  it('restores a saved size and position that is on screen', () => {
    expect(restoreState({ width: 1000, height: 700, x: 100, y: 80, maximized: true }, screen)).toEqual({ width: 1000, height: 700, x: 100, y: 80, maximized: true });
  });
  it('drops a position left on an unplugged monitor and shrinks to fit', () => {
    const s = restoreState({ width: 3000, height: 700, x: 2500, y: 100 }, screen);
    expect(s).toEqual({ width: 1920, height: 700, maximized: false });
    expect(boundsOf(s)).toEqual({ width: 1920, height: 700 });
  });
  it('keeps a position on a second monitor', () => {
    const two = [...screen, { x: 1920, y: 0, width: 1280, height: 1024 }];
    expect(restoreState({ width: 800, height: 600, x: 2000, y: 50 }, two)).toMatchObject({ x: 2000, y: 50 });
  });
  it('falls back to defaults for junk or a missing file', () => {
    expect(restoreState({ width: 'big' }, screen)).toEqual(DEFAULT_STATE);
    expect(readStateFile('/nonexistent/restora/window-state.json', screen)).toEqual(DEFAULT_STATE);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restora-ws-'));
    fs.writeFileSync(path.join(dir, 'w.json'), '{not json');
    expect(readStateFile(path.join(dir, 'w.json'), screen)).toEqual(DEFAULT_STATE);
    fs.writeFileSync(path.join(dir, 'w.json'), JSON.stringify({ width: 900, height: 600, x: 10, y: 10 }));
    expect(readStateFile(path.join(dir, 'w.json'), screen)).toMatchObject({ width: 900, height: 600, x: 10, y: 10 });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  it('saves (debounced) when moved or resized, at once on close', () => {
    vi.useFakeTimers();
    const listeners = new Map<string, () => void>();
    let bounds = { x: 10, y: 20, width: 800, height: 600 };
    const win = { getNormalBounds: () => bounds, isMaximized: () => false, on: (ev: string, l: () => void) => listeners.set(ev, l) };
    const save = vi.fn();
    trackWindowState(win, save, 500);
    listeners.get('resize')!();
    bounds = { ...bounds, width: 900 };
    listeners.get('move')!();
    expect(save).not.toHaveBeenCalled();
    vi.advanceTimersByTime(600);
    expect(save).toHaveBeenCalledTimes(1);
    expect(save).toHaveBeenLastCalledWith({ x: 10, y: 20, width: 900, height: 600, maximized: false });
    bounds = { ...bounds, x: 50 };
    listeners.get('close')!();
    expect(save).toHaveBeenCalledTimes(2);
    expect(save.mock.calls[1][0].x).toBe(50);
    vi.useRealTimers();
  });
});

describe('menu', () => {
  const flatten = (items: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] =>
    items.flatMap((i) => [i, ...(Array.isArray(i.submenu) ? flatten(i.submenu) : [])]);

  for (const platform of ['linux', 'win32', 'darwin'] as const) {
    it(`has the commands with shortcuts that do not steal typing (${platform})`, () => {
      const sent: MenuCommand[] = [];
      const items = flatten(menuTemplate({ platform, appName: 'Restora', send: (c) => sent.push(c) }));
      const byLabel = (l: string) => items.find((i) => i.label === l)!;
      expect(byLabel('Open Photos…').accelerator).toBe('CmdOrCtrl+O');
      expect(byLabel('Open Folder…').accelerator).toBe('CmdOrCtrl+Shift+O');
      expect(byLabel('Settings…').accelerator).toBe('CmdOrCtrl+,');
      for (const i of items) {
        if (typeof i.accelerator === 'string') expect(i.accelerator, i.label).toMatch(/^CmdOrCtrl\+/);
        if (i.click) (i.click as () => void)();
      }
      // every UI command is reachable from the menu, and every click sends a valid event
      const all = events['menu.command'].shape.command.options;
      expect(new Set(sent)).toEqual(new Set(all));
      for (const c of sent) expect(events['menu.command'].safeParse({ command: c }).success).toBe(true);
      expect(items.some((i) => i.role === 'quit')).toBe(true);
      expect(items.some((i) => i.role === 'toggleDevTools')).toBe(false);
      expect(items.some((i) => i.role === 'copy' || i.role === 'paste')).toBe(true);
    });
  }

  it('shows developer tools only in development', () => {
    const items = flatten(menuTemplate({ platform: 'linux', appName: 'Restora', send: () => undefined, dev: true }));
    expect(items.some((i) => i.role === 'toggleDevTools')).toBe(true);
  });
});

describe('dialogs', () => {
  it('open photos (several, images only), folders, and an output folder', () => {
    expect(dialogOptions('files').properties).toEqual(['openFile', 'multiSelections']);
    expect(dialogOptions('files').filters![0].extensions).toEqual(expect.arrayContaining(['jpg', 'png', 'tif', 'webp']));
    expect(dialogOptions('folder').properties).toContain('openDirectory');
    expect(dialogOptions('output').properties).toEqual(expect.arrayContaining(['openDirectory', 'createDirectory']));
  });
});

describe('taskbar progress and notification', () => {
  const report = { batchId: 'b', total: 3, done: 2, failed: 1, skipped: 0, cancelled: false, seconds: 4, files: [] };
  it('shows progress while a batch runs and notifies when it ends', () => {
    const setProgress = vi.fn();
    const notify = vi.fn();
    const feed = createBatchFeedback({ setProgress, notify });
    feed('batch.progress', { batchId: 'b', total: 3, done: 1, failed: 0, progress: 0.4, etaSeconds: 3 });
    expect(setProgress).toHaveBeenLastCalledWith(0.4, 'normal');
    feed('batch.progress', { batchId: 'b', total: 3, done: 1, failed: 1, progress: 1.2, etaSeconds: null });
    expect(setProgress).toHaveBeenLastCalledWith(1, 'error');
    feed('file.progress', { batchId: 'b', index: 0, input: '/a.jpg', status: 'running', progress: 0.5 });
    expect(notify).not.toHaveBeenCalled();
    feed('batch.done', report);
    expect(setProgress).toHaveBeenLastCalledWith(-1);
    expect(notify).toHaveBeenCalledWith('Restora: batch finished with errors', '2 photos restored, 1 failed');
  });
  it('words the summary', () => {
    expect(batchSummary({ ...report, done: 1, failed: 0 }).body).toBe('1 photo restored');
    expect(batchSummary({ ...report, cancelled: true }).title).toBe('Restora: batch cancelled');
    expect(batchSummary({ ...report, failed: 0, skipped: 4 })).toEqual({ title: 'Restora: batch finished', body: '2 photos restored, 4 already done' });
  });
});
