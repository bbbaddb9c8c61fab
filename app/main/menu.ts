// The native menu, built as a plain template so it is tested without Electron. Commands the UI acts
// on go out as 'menu.command' events; the UI owns what they do (e.g. 'open-files' -> dialog.open).
// Accelerators avoid bare letters and Escape, which would steal keys from text fields and dialogs.
import type { MenuItemConstructorOptions } from 'electron';
import type { EventPayload } from '../contract/index.ts';

export type MenuCommand = EventPayload<'menu.command'>['command'];

export interface MenuOptions {
  platform: NodeJS.Platform;
  appName: string;
  send(command: MenuCommand): void;
  dev?: boolean;
}

export function menuTemplate(o: MenuOptions): MenuItemConstructorOptions[] {
  const mac = o.platform === 'darwin';
  const cmd = (label: string, command: MenuCommand, accelerator?: string): MenuItemConstructorOptions => ({
    label,
    ...(accelerator ? { accelerator } : {}),
    click: () => o.send(command),
  });
  const settings = cmd(mac ? 'Settings…' : 'Settings…', 'settings', 'CmdOrCtrl+,');
  const template: MenuItemConstructorOptions[] = [];
  if (mac) {
    template.push({
      label: o.appName,
      submenu: [{ role: 'about' }, { type: 'separator' }, settings, { type: 'separator' }, { role: 'services' }, { type: 'separator' }, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, { role: 'quit' }],
    });
  }
  template.push({
    label: '&File',
    submenu: [
      cmd('Open Photos…', 'open-files', 'CmdOrCtrl+O'),
      cmd('Open Folder…', 'open-folder', 'CmdOrCtrl+Shift+O'),
      cmd('Choose Output Folder…', 'choose-output', 'CmdOrCtrl+Shift+E'),
      { type: 'separator' },
      cmd('Start', 'start', 'CmdOrCtrl+Enter'),
      cmd('Cancel', 'cancel', 'CmdOrCtrl+.'),
      ...(mac ? [] : [{ type: 'separator' } as MenuItemConstructorOptions, settings, { type: 'separator' } as MenuItemConstructorOptions, { role: 'quit' } as MenuItemConstructorOptions]),
    ],
  });
  template.push({
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, { type: 'separator' }, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }],
  });
  template.push({
    label: '&View',
    submenu: [
      cmd('Before / After', 'toggle-compare', 'CmdOrCtrl+B'),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
      ...(o.dev ? [{ type: 'separator' } as MenuItemConstructorOptions, { role: 'reload' } as MenuItemConstructorOptions, { role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
    ],
  });
  template.push({ role: 'windowMenu' });
  return template;
}
