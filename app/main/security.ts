// Everything main does to keep the window locked down, as plain functions over the parts of the
// electron module they touch (passed in), so vitest checks them with stand-ins and main.ts only
// wires them. Settings follow the Electron security checklist (see shared/reference/reliability.md).
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { APP_ORIGIN, isAppUrl } from '../host/file-url.ts';

/**
 * The UI's Content-Security-Policy, sent as a header with every page main serves. Scripts only from
 * the app itself (no inline, no eval); images from the app origin (where restora://app/files lives),
 * blob: and data: (canvas masks). style-src-attr allows inline style *attributes* (Svelte templates
 * set them), never inline <style> or script.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "style-src-attr 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "media-src 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const START_URL = `${APP_ORIGIN}/index.html`;

export function webPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false, // a dropped photo must reach the queue, not replace the UI
    spellcheck: false,
    safeDialogs: true,
    devTools: true,
  };
}

export interface WindowBounds {
  width: number;
  height: number;
  x?: number;
  y?: number;
}

export function windowOptions(bounds: WindowBounds, preloadPath: string, opts: { icon?: string } = {}): BrowserWindowConstructorOptions {
  return {
    ...bounds,
    minWidth: 720,
    minHeight: 480,
    show: false, // shown on ready-to-show: no white flash
    title: 'Restora',
    backgroundColor: '#1b1d21',
    autoHideMenuBar: false,
    ...(opts.icon ? { icon: opts.icon } : {}),
    webPreferences: webPreferences(preloadPath),
  };
}

/** Only the app's own pages may be shown in the window. A real URL parser: no prefix tricks. */
export const isAllowedNavigation = (url: string): boolean => isAppUrl(url);

/** Links the UI may open in the user's browser (help, licences). Exact https hosts only. */
export const EXTERNAL_HOSTS = new Set(['github.com']);

export function isAllowedExternal(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && EXTERNAL_HOSTS.has(u.hostname) && u.port === '' && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

interface PreventableEvent {
  preventDefault(): void;
}

export interface WebContentsLike {
  on(event: 'will-navigate' | 'will-redirect' | 'will-frame-navigate', listener: (e: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (e: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void;
}

export interface ShellLike {
  openExternal(url: string): Promise<void>;
}

/**
 * Guards for every web contents the app creates: no navigation away from the app, no redirects,
 * no new windows (allowed https links go to the browser instead), no <webview>.
 */
export function installNavigationGuards(contents: WebContentsLike, shell: ShellLike): void {
  const guard = (e: PreventableEvent, url: string) => {
    if (!isAllowedNavigation(url)) e.preventDefault();
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-frame-navigate', guard);
  contents.on('will-attach-webview', (e: PreventableEvent) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternal(url)) void shell.openExternal(url).catch(() => undefined);
    return { action: 'deny' };
  });
}

export interface SessionLike {
  setPermissionRequestHandler(handler: ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | null): void;
  setPermissionCheckHandler(handler: ((wc: unknown, permission: string) => boolean) | null): void;
  setDevicePermissionHandler?(handler: ((details: unknown) => boolean) | null): void;
  setDisplayMediaRequestHandler?(handler: ((request: unknown, callback: (streams: null) => void) => void) | null): void;
}

/**
 * The UI needs no permission at all (camera, microphone, geolocation, notifications from the page,
 * MIDI, HID, serial, USB, clipboard read ...): every request and check is denied. OS notifications
 * for finished batches come from main, not the page. Copying text uses the sanitized clipboard
 * write, which needs no permission.
 */
export function installPermissionHandlers(session: SessionLike): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler?.(() => false);
  session.setDisplayMediaRequestHandler?.((_req, callback) => callback(null));
}

export interface IpcEventLike {
  sender: unknown;
  senderFrame: { url: string; parent: unknown; top?: unknown } | null;
}

/**
 * The sender check of every IPC handler: the message must come from our window's main frame (not a
 * subframe, not another window, not a frame already gone) showing a page of the app origin.
 */
export function isTrustedSender(e: IpcEventLike, expected: { webContents: { mainFrame: unknown } } | null | undefined): boolean {
  if (!expected) return false;
  const frame = e.senderFrame;
  if (!frame || frame.parent !== null) return false;
  if (frame !== expected.webContents.mainFrame) return false;
  if (e.sender !== expected.webContents) return false;
  return isAppUrl(frame.url);
}
