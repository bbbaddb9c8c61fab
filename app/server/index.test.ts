// Web-mode server: the three gates (Host, Origin, token) on every route and on the WebSocket,
// file containment (traversal, encodings, symlinks, siblings), uploads that cannot escape, and the
// renderer's own web client talking to the real server through the one handler table.
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RestoraError, type BatchReport, type FileEntry } from '../contract/index.ts';
import type { BatchOptions, Engine } from '../engine/api.ts';
import { createWebApi } from '../../renderer/src/lib/api-web.ts';
import { startServer, type RunningServer } from './index.ts';

// ---------------------------------------------------------------------------------------------
// a fake engine: real files on disk, no pixels processed

function fakeEngine(): Engine {
  const IMG = /\.(jpe?g|png|tiff?|webp)$/i;
  async function walk(dir: string, root: string, out: FileEntry[]) {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, root, out);
      else if (e.isFile() && IMG.test(e.name)) out.push({ path: p, size: (await fs.stat(p)).size, rel: path.relative(root, p) });
    }
  }
  return {
    models: () => [],
    skippedModels: () => [],
    maxPixels: 200e6,
    addModel: async () => {
      throw new Error('no');
    },
    runtimeInfo: async () => ({ requested: 'auto', active: 'cpu', available: ['cpu'], threads: 2 }),
    readImage: async () => {
      throw new Error('no');
    },
    writeImage: async (_i, p) => p,
    run: async (img) => img,
    estimateSigma: async () => 0,
    async expand(paths) {
      const files: FileEntry[] = [];
      const errors: { code: string; message: string; file?: string }[] = [];
      for (const p of paths) {
        const st = await fs.stat(p).catch(() => null);
        if (!st) errors.push({ code: 'E_NOT_FOUND', message: `${path.basename(p)} does not exist`, file: p });
        else if (st.isDirectory()) await walk(p, p, files);
        else files.push({ path: p, size: st.size, rel: path.basename(p) });
      }
      return { files, errors };
    },
    async runBatch(o: BatchOptions): Promise<BatchReport> {
      o.onEvent?.('file.progress', { batchId: o.batchId ?? 'b', index: 0, input: o.files[0], status: 'running', progress: 0.5 });
      return { batchId: o.batchId ?? 'b', total: o.files.length, done: 0, failed: 0, skipped: 0, cancelled: false, seconds: 0, files: [] };
    },
    previewRegion: async () => {
      throw new Error('no');
    },
    imageRegion: async () => {
      throw new Error('no');
    },
    imageInfo: async (p) => ({ path: p, width: 4, height: 4, format: 'png', bitDepth: 8, hasAlpha: false, displayScale: 1, displayPath: p }),
    close: async () => undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// raw HTTP: fetch cannot set Host or Origin freely, http.request can

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, p: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', headers: { Host: `127.0.0.1:${port}`, ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

function code(r: Reply): string | undefined {
  try {
    return (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** Open a WebSocket; resolves with 'open' or the HTTP status it was refused with. */
function tryWs(url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('error', () => resolve(0));
  });
}

// ---------------------------------------------------------------------------------------------

let tmp: string;
let photos: string;
let server: RunningServer;
let port: number;
let token: string;
const T = () => ({ 'X-Restora-Token': token });
const JSON_HEADERS = () => ({ ...T(), 'Content-Type': 'application/json' });

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'restora-server-')));
  photos = path.join(tmp, 'photos');
  await fs.mkdir(path.join(photos, 'sub'), { recursive: true });
  await fs.writeFile(path.join(photos, 'a.png'), 'PNGDATA-A');
  await fs.writeFile(path.join(photos, 'sub', 'b.jpg'), 'JPEGDATA-B');
  // things that must never be served
  await fs.mkdir(path.join(tmp, 'photos-evil'));
  await fs.writeFile(path.join(tmp, 'photos-evil', 'c.png'), 'SIBLING-CANARY');
  await fs.writeFile(path.join(tmp, 'secret.png'), 'SECRET-CANARY');
  await fs.symlink(path.join(tmp, 'secret.png'), path.join(photos, 'link.png'));
  await fs.symlink(tmp, path.join(photos, 'up'));
  const ui = path.join(tmp, 'ui');
  await fs.mkdir(path.join(ui, 'assets'), { recursive: true });
  await fs.writeFile(path.join(ui, 'index.html'), '<!doctype html><title>t</title><script type="module" src="./assets/app.js"></script>');
  await fs.writeFile(path.join(ui, 'assets', 'app.js'), 'console.log(1)');
  server = await startServer({ port: 0, engine: fakeEngine(), dataDir: path.join(tmp, 'data'), rendererDir: ui });
  port = server.port;
  token = server.token;
});

afterAll(async () => {
  await server?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Add the photos folder the way the UI does; only what it expands becomes readable. */
async function addPhotos() {
  const r = await request(port, '/api/call/files.add', { method: 'POST', headers: JSON_HEADERS(), body: JSON.stringify({ paths: [photos], recursive: true }) });
  expect(r.status).toBe(200);
  return JSON.parse(r.body).result as { files: FileEntry[] };
}

describe('binding and URL', () => {
  it('listens on 127.0.0.1 only, with a long random token in the printed URL', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`);
    expect(token.length).toBeGreaterThanOrEqual(40);
    const other = await startServer({ port: 0, engine: fakeEngine(), dataDir: path.join(tmp, 'data2'), rendererDir: path.join(tmp, 'ui') });
    try {
      expect(other.token).not.toBe(token);
    } finally {
      await other.close();
    }
    await expect(startServer({ host: '0.0.0.0' as '127.0.0.1', engine: fakeEngine() })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('Host header (DNS rebinding)', () => {
  it.each([
    [`evil.test:PORT`, 403],
    [`127.0.0.1:1`, 403],
    [`127.0.0.1`, 403],
    [`localhost.evil.test:PORT`, 403],
    [`[::1]:PORT`, 403],
  ])('refuses Host %s', async (host, status) => {
    const r = await request(port, `/?token=${token}`, { headers: { Host: host.replace('PORT', String(port)) } });
    expect(r.status).toBe(status);
    expect(code(r)).toBe('E_FORBIDDEN');
    const api = await request(port, '/api/call/app.info', { method: 'POST', headers: { ...JSON_HEADERS(), Host: host.replace('PORT', String(port)) }, body: '{}' });
    expect(api.status).toBe(403);
  });

  it('accepts 127.0.0.1:PORT and localhost:PORT', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const r = await request(port, '/api/call/app.info', { method: 'POST', headers: { ...JSON_HEADERS(), Host: host }, body: '{}' });
      expect(r.status, host).toBe(200);
      expect(JSON.parse(r.body).result.mode).toBe('web');
    }
  });
});

describe('Origin (cross-site requests)', () => {
  it.each(['http://evil.test', 'null', `http://127.0.0.1:${1}`, 'http://localhost.evil.test', 'https://127.0.0.1:PORT'])('refuses a call from Origin %s even with the token', async (origin) => {
    const r = await request(port, '/api/call/settings.get', { method: 'POST', headers: { ...JSON_HEADERS(), Origin: origin.replace('PORT', String(port)) }, body: '{}' });
    expect(r.status).toBe(403);
    expect(code(r)).toBe('E_FORBIDDEN');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('accepts its own origin and refuses Sec-Fetch-Site cross-site', async () => {
    const ok = await request(port, '/api/call/settings.get', { method: 'POST', headers: { ...JSON_HEADERS(), Origin: `http://127.0.0.1:${port}` }, body: '{}' });
    expect(ok.status).toBe(200);
    const xs = await request(port, '/api/call/settings.get', { method: 'POST', headers: { ...JSON_HEADERS(), 'Sec-Fetch-Site': 'cross-site' }, body: '{}' });
    expect(xs.status).toBe(403);
  });

  it('refuses what an HTML form can send (no JSON content type), and CORS preflights', async () => {
    const form = await request(port, '/api/call/settings.set', {
      method: 'POST',
      headers: { ...T(), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'suffix=-pwned',
    });
    expect(form.status).toBe(415);
    const multipart = await request(port, '/api/call/settings.set', { method: 'POST', headers: { ...T(), 'Content-Type': 'multipart/form-data; boundary=x' }, body: '--x--' });
    expect(multipart.status).toBe(415);
    const pre = await request(port, '/api/call/settings.set', { method: 'OPTIONS', headers: { ...T(), Origin: 'http://evil.test', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const s = await request(port, '/api/call/settings.get', { method: 'POST', headers: JSON_HEADERS(), body: '{}' });
    expect(JSON.parse(s.body).result.suffix).not.toBe('-pwned');
  });
});

describe('token', () => {
  it('refuses every route without the token', async () => {
    for (const [p, method] of [
      ['/', 'GET'],
      ['/assets/app.js', 'GET'],
      [`/files?path=${encodeURIComponent(path.join(photos, 'a.png'))}`, 'GET'],
      ['/api/call/app.info', 'POST'],
      ['/upload?name=x.png', 'POST'],
      ['/nowhere', 'GET'],
    ] as const) {
      const r = await request(port, p, { method, headers: method === 'POST' ? { 'Content-Type': 'application/json' } : {}, body: method === 'POST' ? '{}' : undefined });
      expect(r.status, p).toBe(401);
      expect(code(r), p).toBe('E_FORBIDDEN');
    }
  });

  it('refuses a wrong token, and a call that carries the token only as a cookie or in the query', async () => {
    const wrong = await request(port, '/api/call/app.info', { method: 'POST', headers: { 'X-Restora-Token': token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), 'Content-Type': 'application/json' }, body: '{}' });
    expect(wrong.status).toBe(401);
    const cookie = await request(port, '/api/call/app.info', { method: 'POST', headers: { Cookie: `restora_token_${port}=${token}`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(cookie.status).toBe(401);
    const query = await request(port, `/api/call/app.info?token=${token}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(query.status).toBe(401);
  });

  it('serves the page with a strict CSP and an HttpOnly cookie that lets the page load its assets', async () => {
    const page = await request(port, `/?token=${token}`);
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const asset = await request(port, '/assets/app.js', { headers: { Cookie: `restora_token_${port}=${token}` } });
    expect(asset.status).toBe(200);
    expect(asset.body).toBe('console.log(1)');
    const traversal = await request(port, '/assets/..%2f..%2fsecret.png', { headers: { Cookie: `restora_token_${port}=${token}` } });
    expect(traversal.status).toBe(403);
    expect(traversal.body).not.toContain('CANARY');
  });

  it('refuses oversized bodies early', async () => {
    const r = await request(port, '/api/call/files.add', { method: 'POST', headers: { ...JSON_HEADERS(), 'Content-Length': String(64 * 1024 * 1024) }, body: '' });
    expect(r.status).toBe(413);
  });
});

describe('WebSocket', () => {
  it('refuses a foreign Origin, a wrong Host, and no token', async () => {
    const url = `ws://127.0.0.1:${port}/ws`;
    expect(await tryWs(`${url}?token=${token}`, { Origin: 'http://evil.test' })).toBe(403);
    expect(await tryWs(`${url}?token=${token}`, { Origin: 'null' })).toBe(403);
    expect(await tryWs(`${url}?token=${token}`, { Host: `evil.test:${port}` })).toBe(403);
    expect(await tryWs(url, { Origin: `http://127.0.0.1:${port}` })).toBe(401);
    expect(await tryWs(`${url}?token=nope`, { Origin: `http://127.0.0.1:${port}` })).toBe(401);
    expect(await tryWs(`ws://127.0.0.1:${port}/other?token=${token}`)).toBe(404);
  });

  it('opens with the token (query or subprotocol) from our own origin', async () => {
    const url = `ws://127.0.0.1:${port}/ws`;
    expect(await tryWs(`${url}?token=${token}`, { Origin: `http://127.0.0.1:${port}` })).toBe('open');
    expect(await tryWs(url, { Host: `localhost:${port}`, Origin: `http://localhost:${port}` }, [`restora.${token}`])).toBe('open');
  });
});

describe('files: only what the user chose', () => {
  it('serves added files and refuses traversal, encodings, siblings, NUL and symlinks out', async () => {
    const { files } = await addPhotos();
    // the (fake) expansion skips symlinks; what it lists is all the page may read
    expect(files.map((f) => f.rel).sort()).toEqual(['a.png', path.join('sub', 'b.jpg')]);
    const get = (p: string, raw = false) => request(port, `/files?path=${raw ? p : encodeURIComponent(p)}&token=${token}`);

    const ok = await get(path.join(photos, 'a.png'));
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('PNGDATA-A');
    expect(ok.headers['content-type']).toBe('image/png');

    const refused = [
      path.join(photos, '..', 'secret.png'), // ../
      `${photos}/sub/../../secret.png`,
      `${photos}/%2e%2e/secret.png`, // encoded once more than the query decodes
      `${photos}/%252e%252e/secret.png`,
      `${photos}/..\\secret.png`, // ..%5c
      path.join(tmp, 'secret.png'), // absolute, never added
      path.join(tmp, 'photos-evil', 'c.png'), // sibling folder with a shared prefix
      `${photos}/a.png\0.png`, // NUL
      path.join(photos, 'link.png'), // symlink inside, pointing out
      path.join(photos, 'up', 'secret.png'), // through a symlinked folder
      'secret.png', // relative
      '/etc/passwd',
    ];
    for (const p of refused) {
      const r = await get(p);
      expect(r.status, p).toBe(403);
      expect(code(r), p).toBe('E_FORBIDDEN');
      expect(r.body, p).not.toContain('CANARY');
    }
    // hand-encoded traversal in the raw query string
    for (const raw of [`${encodeURIComponent(photos)}%2F..%2Fsecret.png`, `${encodeURIComponent(photos)}%2F%2e%2e%2Fsecret.png`, `${encodeURIComponent(photos)}%2F..%5Csecret.png`]) {
      const r = await get(raw, true);
      expect(r.status, raw).toBe(403);
      expect(r.body).not.toContain('CANARY');
    }
  });

  it('refuses calls on paths that were never added (the handler table decides, the server passes it on)', async () => {
    const r = await request(port, '/api/call/image.info', { method: 'POST', headers: JSON_HEADERS(), body: JSON.stringify({ path: path.join(tmp, 'secret.png') }) });
    expect(r.status).toBe(403);
    expect(code(r)).toBe('E_FORBIDDEN');
    const bad = await request(port, '/api/call/no.such', { method: 'POST', headers: JSON_HEADERS(), body: '{}' });
    expect(bad.status).toBe(400);
    expect(code(bad)).toBe('E_USAGE');
  });
});

describe('uploads', () => {
  it('stores copies under the server-named upload folder, whatever name the client sends', async () => {
    const before = new Set([...(await fs.readdir(tmp)), 'data']);
    const names = ['../../escape.png', '..\\..\\escape2.png', '/etc/escape3.png', 'ok/sub/pic.png', '....//x.png'];
    let dir: string | undefined;
    for (const name of names) {
      const r = await request(port, `/upload?name=${encodeURIComponent(name)}${dir ? `&dir=${dir}` : ''}`, { method: 'POST', headers: { ...T(), 'Content-Type': 'application/octet-stream' }, body: 'BYTES' });
      if (r.status !== 200) {
        expect(r.status, name).toBe(400);
        continue;
      }
      const j = JSON.parse(r.body) as { dir: string; root: string; path: string };
      dir = j.dir;
      const rel = path.relative(path.join(tmp, 'data', 'uploads'), j.path);
      expect(rel.startsWith('..') || path.isAbsolute(rel), `${name} -> ${j.path}`).toBe(false);
      expect(await fs.readFile(j.path, 'utf8')).toBe('BYTES');
    }
    expect(new Set(await fs.readdir(tmp))).toEqual(before);
    await expect(fs.stat(path.join(tmp, 'escape.png'))).rejects.toThrow();
    // an upload folder the server did not hand out is refused
    const foreign = await request(port, `/upload?name=x.png&dir=${encodeURIComponent('../../')}`, { method: 'POST', headers: { ...T(), 'Content-Type': 'application/octet-stream' }, body: 'B' });
    expect(foreign.status).toBe(403);
  });
});

describe('the renderer web client against the real server', () => {
  it('calls, receives events over the socket, and sends mask PNG bytes', async () => {
    const api = createWebApi({ token, base: `http://127.0.0.1:${port}`, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    try {
      await api.ready();
      const info = await api.call('app.info', {});
      expect(info.mode).toBe('web');
      expect(info.runtime.active).toBe('cpu');

      await addPhotos();
      const a = path.join(photos, 'a.png');
      const got = new Promise<unknown[]>((resolve) => {
        const seen: unknown[] = [];
        const off1 = api.on('file.progress', (p) => seen.push(p));
        const off2 = api.on('batch.done', (p) => {
          seen.push(p);
          off1();
          off2();
          resolve(seen);
        });
      });
      const { batchId } = await api.call('batch.start', { files: [a], recipe: [{ task: 'denoise', sigma: 'auto' }] });
      const seen = (await got) as { batchId: string; input?: string }[];
      expect(seen[0]).toMatchObject({ batchId, input: a, status: 'running' });
      expect(seen[seen.length - 1]).toMatchObject({ batchId, cancelled: false });

      // a real 1x1 PNG
      const png = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGP4DwABAQEAG7buVgAAAABJRU5ErkJggg==', 'base64'));
      const saved = await api.call('mask.save', { forPath: a, png });
      expect(await fs.readFile(saved.path)).toEqual(Buffer.from(png));
      // a draft (the painter's strokes as painted) reaches its own file through the web API too
      const other = Uint8Array.from(png);
      other[other.length - 20] ^= 1; // other bytes, still a whole PNG's frame
      const draft = await api.call('mask.save', { forPath: a, png: other, draft: true });
      expect(draft.path).toBe(saved.path.replace(/\.png$/, '.draft.png'));
      expect(await fs.readFile(draft.path)).toEqual(Buffer.from(other));
      expect(await fs.readFile(saved.path)).toEqual(Buffer.from(png));
      const served = await request(port, `/files?path=${encodeURIComponent(saved.path)}&token=${token}`);
      expect(served.status).toBe(200);

      await expect(api.call('mask.save', { forPath: path.join(tmp, 'secret.png'), png })).rejects.toMatchObject({ code: 'E_FORBIDDEN' });
      await expect(api.call('image.info', { path: '' })).rejects.toBeInstanceOf(RestoraError);
    } finally {
      api.close();
    }
    const bad = createWebApi({ token: 'x'.repeat(43), base: `http://127.0.0.1:${port}`, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    try {
      await expect(bad.call('app.info', {})).rejects.toMatchObject({ code: 'E_FORBIDDEN' });
    } finally {
      bad.close();
    }
  });
});
