// Electron main, bundled to dist/main/main.js. Thin on purpose: every decision lives in a tested
// module (security, protocol, ipc, host-process, window-state, menu, dialogs, feedback); this file
// only hands them the electron objects. Main never loads the engine: it runs in the utility
// process (dist/host/host.js).
import {
  BrowserWindow,
  Menu,
  MessageChannelMain,
  Notification,
  app,
  dialog,
  ipcMain,
  protocol,
  screen,
  session,
  shell,
  utilityProcess,
} from 'electron';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventName, EventPayload } from '../contract/index.ts';
import { SCHEME } from '../host/file-url.ts';
import { createGrantSet } from '../host/grants.ts';
import { HOST_SAVE_WINDOW_STATE, WINDOW_STATE_FILE, type HostInit } from '../host/init.ts';
import { electronPortEndpoint, type ToHost, type ToMain } from '../host/wire.ts';
import { dialogOptions, isDialogPurpose } from './dialogs.ts';
import { createBatchFeedback } from './feedback.ts';
import { createHostSupervisor } from './host-process.ts';
import { IPC, choose, createRelay } from './ipc.ts';
import { menuTemplate } from './menu.ts';
import { SCHEME_PRIVILEGES, createProtocolHandler } from './protocol.ts';
import { START_URL, installNavigationGuards, installPermissionHandlers, windowOptions } from './security.ts';
import { boundsOf, readStateFile, trackWindowState } from './window-state.ts';

const here = path.dirname(fileURLToPath(import.meta.url)); // <app>/dist/main
const appRoot = path.resolve(here, '..', '..');

// a test or a portable setup may move the data folder; must happen before 'ready'
if (process.env.RESTORA_DATA_DIR) app.setPath('userData', path.resolve(process.env.RESTORA_DATA_DIR));
app.enableSandbox();
protocol.registerSchemesAsPrivileged([SCHEME_PRIVILEGES]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  start();
}

/** Photos named on the command line (file association on Windows/Linux, `restora photo.jpg`). */
function photoArgs(argv: string[], cwd: string): string[] {
  return argv
    .slice(app.isPackaged ? 1 : 2)
    .filter((a) => !a.startsWith('-'))
    .map((a) => path.resolve(cwd, a))
    .filter((p) => fs.existsSync(p));
}

function start() {
  const dataDir = app.getPath('userData');
  const modelsDir = process.env.RESTORA_MODELS_DIR
    ? path.resolve(process.env.RESTORA_MODELS_DIR)
    : app.isPackaged
      ? path.join(process.resourcesPath, 'models')
      : path.join(appRoot, 'models');
  const served = createGrantSet(); // what restora://app/files may serve (granted by the host)
  const chosen = createGrantSet(); // what the user picked or dropped (the only input files.add accepts)
  let win: BrowserWindow | null = null;
  let pendingOpen: string[] = photoArgs(process.argv, process.cwd());
  let lastSave: Promise<unknown> = Promise.resolve();

  const feedback = createBatchFeedback({
    setProgress: (v, mode) => win?.setProgressBar(v, { mode: v < 0 ? 'none' : (mode ?? 'normal') }),
    notify: (title, body) => {
      if (Notification.isSupported()) new Notification({ title, body, silent: false }).show();
    },
  });

  const relay = createRelay({ window: () => win, host: { call: (n, a) => host.call(n, a), hardCancel: (id) => host.hardCancel(id) }, chosen });

  const host = createHostSupervisor({
    spawn(init: HostInit) {
      const child = utilityProcess.fork(path.join(here, '..', 'host', 'host.js'), [], { serviceName: 'Restora engine', stdio: 'inherit' });
      const { port1, port2 } = new MessageChannelMain();
      child.once('spawn', () => child.postMessage(init, [port2]));
      return {
        endpoint: electronPortEndpoint<ToMain, ToHost>(port1),
        kill: () => void child.kill(),
        onExit: (cb) => void child.once('exit', (code) => cb(code)),
      };
    },
    init: () => ({
      dataDir,
      modelsDir,
      version: app.getVersion(),
      grants: served.list().files,
      dirs: chosen.list().trees,
    }),
    onEvent<N extends EventName>(name: N, payload: EventPayload<N>) {
      relay.sendEvent(name, payload);
      feedback(name, payload);
    },
    onGrant: (p) => served.grant(p),
    async onRequest(op, arg) {
      if (op === 'openFolder') {
        const st = fs.statSync(arg, { throwIfNoEntry: false });
        if (!st) return false;
        if (st.isDirectory()) return (await shell.openPath(arg)) === '';
        shell.showItemInFolder(arg);
        return true;
      }
      if (op === 'choosePaths' && isDialogPurpose(arg)) {
        const opts = dialogOptions(arg);
        const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
        if (r.canceled) return [];
        for (const p of r.filePaths) choose(chosen, p);
        return r.filePaths;
      }
      return false;
    },
    log: (m) => console.warn(`restora: ${m}`),
  });

  const openPhotos = (paths: string[]) => {
    if (!paths.length) return;
    for (const p of paths) choose(chosen, p);
    if (win && !win.webContents.isLoading()) relay.sendEvent('files.opened', { paths });
    else pendingOpen.push(...paths);
  };

  app.on('open-file', (e, p) => {
    e.preventDefault();
    openPhotos([p]);
  });
  app.on('second-instance', (_e, argv, cwd) => {
    openPhotos(photoArgs(argv, cwd));
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_e, contents) => installNavigationGuards(contents, shell));

  function createWindow() {
    const state = readStateFile(path.join(dataDir, WINDOW_STATE_FILE), screen.getAllDisplays().map((d) => d.workArea));
    const icon = path.join(appRoot, 'build', 'icon.png');
    win = new BrowserWindow(windowOptions(boundsOf(state), path.join(here, '..', 'preload', 'preload.cjs'), fs.existsSync(icon) ? { icon } : {}));
    if (state.maximized) win.maximize();
    win.once('ready-to-show', () => win?.show());
    trackWindowState(win, (s) => {
      lastSave = host.call(HOST_SAVE_WINDOW_STATE, s).catch(() => undefined);
    });
    win.webContents.on('did-finish-load', () => {
      const paths = pendingOpen;
      pendingOpen = [];
      for (const p of paths) choose(chosen, p);
      if (paths.length) relay.sendEvent('files.opened', { paths });
    });
    win.on('closed', () => {
      win = null;
    });
    void win.loadURL(START_URL);
  }

  void app.whenReady().then(() => {
    installPermissionHandlers(session.defaultSession);
    protocol.handle(SCHEME, createProtocolHandler({ appRoot: path.join(appRoot, 'renderer', 'dist'), grants: served }));
    ipcMain.handle(IPC.call, (e, name, args) => relay.handleCall(e, name, args));
    ipcMain.on(IPC.chosen, (e, p) => relay.handleChosen(e, p));
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(menuTemplate({ platform: process.platform, appName: app.name, send: (command) => relay.sendEvent('menu.command', { command }), dev: !app.isPackaged })),
    );
    host.start();
    createWindow();
    app.on('activate', () => {
      if (!win) createWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let quitting = false;
  app.on('before-quit', (e) => {
    if (quitting) return;
    quitting = true;
    e.preventDefault();
    // close the window first (Cmd+Q, the menu's Quit): its page saves its work on the way out
    // (pagehide); then the host's saves on their way (that one, the window state) are let finish
    // before it is ended (stop's grace), all within 3 s
    const w = win;
    const closed = w && !w.isDestroyed() ? new Promise<void>((r) => {
      w.once('closed', () => r());
      w.close();
    }) : Promise.resolve();
    const done = Promise.race([closed.then(() => lastSave).then(() => host.stop()), new Promise((r) => setTimeout(r, 3000))]);
    void done.finally(() => app.quit());
  });
}
