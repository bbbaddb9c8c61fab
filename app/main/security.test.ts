import { describe, expect, it, vi } from 'vitest';
import {
  CSP,
  START_URL,
  installNavigationGuards,
  installPermissionHandlers,
  isAllowedExternal,
  isAllowedNavigation,
  isTrustedSender,
  webPreferences,
  windowOptions,
  type WebContentsLike,
} from './security.ts';

describe('the window main builds', () => {
  it('has isolated, sandboxed, node-free web preferences with web security on', () => {
    const opts = windowOptions({ width: 1000, height: 700 }, '/app/dist/preload/preload.cjs');
    const wp = opts.webPreferences!;
    expect(wp).toMatchObject({
      preload: '/app/dist/preload/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
    });
    expect(wp).not.toHaveProperty('enableBlinkFeatures');
    expect(opts.show).toBe(false);
    expect(opts.width).toBe(1000);
    expect(webPreferences('x')).toEqual(wp.preload === 'x' ? wp : { ...wp, preload: 'x' });
  });

  it('loads the UI from the app origin, never file://', () => {
    expect(START_URL).toBe('restora://app/index.html');
  });
});

describe('CSP', () => {
  const directives = new Map(CSP.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  it('allows scripts only from the app: no inline, no eval, no remote', () => {
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(CSP).not.toMatch(/unsafe-eval|https?:|\*/);
    expect(directives.get('script-src')).not.toContain("'unsafe-inline'");
    expect(directives.get('style-src')).toEqual(["'self'"]);
  });
  it('locks objects, frames, forms and the base URL', () => {
    for (const d of ['object-src', 'frame-src', 'base-uri', 'form-action', 'frame-ancestors']) expect(directives.get(d), d).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('img-src')).toEqual(["'self'", 'blob:', 'data:']);
  });
});

describe('navigation and window.open guards', () => {
  function fakeContents() {
    const listeners = new Map<string, (e: { preventDefault(): void }, url?: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const contents: WebContentsLike = {
      on: ((event: string, l: (e: { preventDefault(): void }, url?: string) => void) => listeners.set(event, l)) as WebContentsLike['on'],
      setWindowOpenHandler: (h) => {
        openHandler = h;
      },
    };
    const fire = (event: string, url?: string) => {
      const e = { prevented: false, preventDefault() {
        this.prevented = true;
      } };
      listeners.get(event)!(e, url);
      return e.prevented;
    };
    return { contents, fire, open: (url: string) => openHandler!({ url }) };
  }

  it('blocks navigation and redirects away from restora://app, with a real URL parser', () => {
    const shell = { openExternal: vi.fn(async () => undefined) };
    const c = fakeContents();
    installNavigationGuards(c.contents, shell);
    expect(c.fire('will-navigate', 'restora://app/index.html')).toBe(false);
    for (const url of ['https://example.com', 'file:///etc/passwd', 'restora://app.evil.com/x', 'restora://app@evil.com/', 'restora://evil/app', 'http://restora.app/', 'javascript:alert(1)', 'restora://app:80/']) {
      expect(c.fire('will-navigate', url), url).toBe(true);
      expect(c.fire('will-redirect', url), url).toBe(true);
      expect(c.fire('will-frame-navigate', url), url).toBe(true);
    }
    expect(c.fire('will-attach-webview')).toBe(true);
  });

  it('denies every new window; allowed https links go to the browser instead', () => {
    const shell = { openExternal: vi.fn(async () => undefined) };
    const c = fakeContents();
    installNavigationGuards(c.contents, shell);
    expect(c.open('https://github.com/restora/restora')).toEqual({ action: 'deny' });
    expect(shell.openExternal).toHaveBeenCalledWith('https://github.com/restora/restora');
    for (const url of ['https://github.com.evil.com/', 'http://github.com/', 'https://evil.com/?github.com', 'file:///etc/passwd', 'restora://app/index.html', 'https://user@github.com/']) {
      expect(c.open(url)).toEqual({ action: 'deny' });
    }
    expect(shell.openExternal).toHaveBeenCalledTimes(1);
    expect(isAllowedExternal('https://github.com:8443/')).toBe(false);
    expect(isAllowedNavigation('restora://app/settings')).toBe(true);
  });
});

describe('permission handler', () => {
  it('denies every request and check', () => {
    const s = {
      setPermissionRequestHandler: vi.fn(),
      setPermissionCheckHandler: vi.fn(),
      setDevicePermissionHandler: vi.fn(),
      setDisplayMediaRequestHandler: vi.fn(),
    };
    installPermissionHandlers(s);
    const req = s.setPermissionRequestHandler.mock.calls[0][0];
    for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'hid', 'usb', 'serial']) {
      const cb = vi.fn();
      req({}, perm, cb);
      expect(cb, perm).toHaveBeenCalledWith(false);
      expect(s.setPermissionCheckHandler.mock.calls[0][0]({}, perm)).toBe(false);
    }
    expect(s.setDevicePermissionHandler.mock.calls[0][0]({})).toBe(false);
    const dm = vi.fn();
    s.setDisplayMediaRequestHandler.mock.calls[0][0]({}, dm);
    expect(dm).toHaveBeenCalledWith(null);
  });
});

describe('sender-frame check', () => {
  const mainFrame = { url: 'restora://app/index.html', parent: null };
  const webContents = { mainFrame };
  const win = { webContents };
  it('accepts only our window main frame on the app origin', () => {
    expect(isTrustedSender({ sender: webContents, senderFrame: mainFrame }, win)).toBe(true);
  });
  it('rejects subframes, other windows, foreign origins, gone frames and no window', () => {
    const sub = { url: 'restora://app/index.html', parent: mainFrame };
    expect(isTrustedSender({ sender: webContents, senderFrame: sub }, win)).toBe(false);
    const other = { url: 'restora://app/index.html', parent: null };
    expect(isTrustedSender({ sender: { mainFrame: other }, senderFrame: other }, win)).toBe(false);
    expect(isTrustedSender({ sender: webContents, senderFrame: null }, win)).toBe(false);
    expect(isTrustedSender({ sender: webContents, senderFrame: mainFrame }, null)).toBe(false);
    const navigated = { mainFrame: { url: 'https://evil.com/', parent: null } };
    expect(isTrustedSender({ sender: navigated, senderFrame: navigated.mainFrame }, { webContents: navigated })).toBe(false);
    const fileFrame = { mainFrame: { url: 'file:///index.html', parent: null } };
    expect(isTrustedSender({ sender: fileFrame, senderFrame: fileFrame.mainFrame }, { webContents: fileFrame })).toBe(false);
  });
});
