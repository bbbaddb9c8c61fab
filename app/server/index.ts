// Web mode: the built renderer and the contract over HTTP + WebSocket on 127.0.0.1 only.
//
//   const s = await startServer({ port: 0 });   // s.url = http://127.0.0.1:PORT/?token=...
//
// Every request must pass three checks before anything else runs: Host is 127.0.0.1:PORT or
// localhost:PORT (DNS rebinding), Origin (when sent) is our own, and the per-launch token is
// present (header X-Restora-Token for calls; ?token= or the HttpOnly cookie set by the first page
// load for files and assets; ?token= or the `restora.<token>` subprotocol for the WebSocket).
// Calls go to the one handler table (app/host/handlers.ts), exactly as in the Electron host.
//
// Routes
//   GET  /                      index.html (sets the token cookie)      GET /assets/*  the bundle
//   POST /api/call/<name>       JSON body -> dispatch -> { result } | { error: ErrorInfo }
//                               mask.save: PNG bytes (application/octet-stream), ?forPath=...[&draft=1]
//   POST /upload?name=&dir=     web file picker / drop: the server names and stores a copy under
//                               <dataDir>/uploads/<dir>/ and returns { dir, path } (never an original)
//   GET  /files?path=&token=    a granted file (inputs, display copies, previews, outputs, masks)
//   GET  /ws?token=             events: { event, payload } per message
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, promises as fsp, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, WebSocket } from 'ws';
import { RestoraError, isCallName, type EventName, type EventPayload } from '../contract/index.ts';
import type { Engine } from '../engine/api.ts';
import { createGrantSet } from '../host/grants.ts';
import { createHandlers, dispatch, type HandlerContext } from '../host/handlers.ts';
import { writeFileAtomic } from '../engine/image/writer.ts';
import { restoraVersion } from '../engine/version.ts';
import { resolveServable, safeRelPath } from './files.ts';
import { forbidden, mimeTypes, readBody, sendError, sendJson } from './http-util.ts';
import {
  contentSecurityPolicy,
  cookieName,
  findToken,
  isAllowedHost,
  isAllowedOrigin,
  newToken,
  securityHeaders,
} from './security.ts';

export interface ServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback only; any other value is refused. */
  host?: '127.0.0.1';
  /** An engine to use; by default the server makes one (and closes it on close()). */
  engine?: Engine;
  /** Settings, presets, masks, uploads. Default: $RESTORA_DATA_DIR or ~/.config/restora. */
  dataDir?: string;
  /** Fixed token (tests); by default a fresh random one per launch. */
  token?: string;
  /** Bundled models for the engine the server makes. Default: $RESTORA_MODELS_DIR, else the engine's. */
  modelsDir?: string;
  /** The built renderer. Default: <repo>/renderer/dist. */
  rendererDir?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

/**
 * A fresh clone has no built UI (renderer/dist is not committed): build it once, so that web mode
 * just works. A packaged app ships it; where vite is missing, the page says what to run.
 */
function ensureUiBuilt(rendererDir: string): void {
  const vite = path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
  if (existsSync(path.join(rendererDir, 'index.html')) || !existsSync(vite)) return;
  process.stderr.write('Building the web UI once (renderer/dist)…\n');
  const r = spawnSync(process.execPath, [vite, 'build', '--config', path.join('renderer', 'vite.config.ts'), '--logLevel', 'error'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) process.stderr.write('restora: the web UI could not be built; run `npm run build:renderer` and start again\n');
}

const JSON_LIMIT = 32 * 1024 * 1024;
const MASK_LIMIT = 256 * 1024 * 1024;
const UPLOAD_LIMIT = 512 * 1024 * 1024;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RestoraError('E_USAGE', 'bad URL encoding');
  }
}

async function makeEngine(dataDir: string, modelsDir: string | undefined): Promise<Engine> {
  // loaded only when no engine is given, so tests with a fake engine never load onnxruntime
  const { createEngine } = await import('../engine/index.ts');
  return createEngine({ dataDir, ...(modelsDir ? { modelsDir: path.resolve(modelsDir) } : {}) });
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  if (opts.host !== undefined && opts.host !== '127.0.0.1') {
    throw new RestoraError('E_USAGE', 'web mode listens on 127.0.0.1 only');
  }
  const token = opts.token ?? newToken();
  if (token.length < 16) throw new RestoraError('E_USAGE', 'the web-mode token must be at least 16 characters');
  const dataDir = path.resolve(opts.dataDir ?? process.env.RESTORA_DATA_DIR ?? path.join(os.homedir(), '.config', 'restora'));
  const rendererDir = path.resolve(opts.rendererDir ?? path.join(repoRoot, 'renderer', 'dist'));
  if (!opts.rendererDir) ensureUiBuilt(rendererDir);
  const uploadsDir = path.join(dataDir, 'uploads');

  const ownEngine = !opts.engine;
  const engine: Engine = opts.engine ?? (await makeEngine(dataDir, opts.modelsDir ?? process.env.RESTORA_MODELS_DIR));

  const grants = createGrantSet();
  const sockets = new Set<WebSocket>();
  const uploadDirs = new Set<string>();
  let port = 0;

  const ctx: HandlerContext = {
    mode: 'web',
    emit<N extends EventName>(name: N, payload: EventPayload<N>) {
      const msg = JSON.stringify({ event: name, payload });
      for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(msg);
    },
    urlFor(absPath: string) {
      let v = '';
      try {
        // a preview or display copy may be rewritten under the same name: bust the browser's cache
        v = `&v=${Math.round(statSync(absPath).mtimeMs)}`;
      } catch {
        // not written yet: no version
      }
      return `/files?path=${encodeURIComponent(absPath)}&token=${encodeURIComponent(token)}${v}`;
    },
    grant(absPath: string) {
      grants.grant(absPath);
    },
    isGranted(absPath: string) {
      return typeof absPath === 'string' && !absPath.includes('\0') && grants.isGranted(absPath);
    },
  };
  const handlers = createHandlers(engine, ctx, { dataDir, version: restoraVersion() });

  // -------------------------------------------------------------------------------------------
  // the three gates

  function gate(req: IncomingMessage, url: URL): RestoraError | undefined {
    const host = req.headers.host;
    if (!isAllowedHost(host, port)) return forbidden(`requests must use http://127.0.0.1:${port}, not Host ${String(host ?? '(none)')}`);
    const origin = req.headers.origin;
    if (!isAllowedOrigin(origin, host, port)) return forbidden(`cross-origin request from ${origin} refused`);
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return forbidden('cross-site request refused');
    const source = findToken(req, url, token, port);
    // calls and uploads change things: they must carry the token in the header, which only our
    // page's script can set (a cookie rides along with any request the browser makes)
    const changing = url.pathname.startsWith('/api/') || url.pathname === '/upload';
    if (!source || (changing && source !== 'header')) {
      return Object.assign(forbidden('this Restora link has no valid token; open the URL that `restora serve` printed'), { status: 401 });
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // routes

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, setCookie: boolean): Promise<void> {
    const rel = pathname === '/' ? 'index.html' : safeDecode(pathname.slice(1));
    if (rel.includes('\0') || rel.split(/[\\/]+/).some((s) => s === '..')) throw forbidden('bad path');
    const file = path.join(rendererDir, rel);
    let real: string;
    try {
      real = await fsp.realpath(file);
      const root = await fsp.realpath(rendererDir);
      const r = path.relative(root, real);
      if (r.startsWith('..') || path.isAbsolute(r)) throw forbidden('bad path');
      if (!(await fsp.stat(real)).isFile()) throw new RestoraError('E_NOT_FOUND', `${rel} not found`);
    } catch (e) {
      if (e instanceof RestoraError) throw e;
      if (rel === 'index.html') {
        throw new RestoraError('E_INTERNAL', 'the Restora UI is not built: run `npm run build:renderer`');
      }
      throw new RestoraError('E_NOT_FOUND', `${rel} not found`);
    }
    const headers: Record<string, string> = {
      'Content-Type': mimeTypes[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
      'Content-Security-Policy': contentSecurityPolicy(port),
      // hashed asset names can be cached; the page itself never (it carries the cookie)
      'Cache-Control': rel.startsWith('assets/') ? 'private, max-age=31536000, immutable' : 'no-store',
    };
    if (setCookie) headers['Set-Cookie'] = `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(real).pipe(res);
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const p = url.searchParams.get('path') ?? '';
    const real = resolveServable(grants, p);
    if (!real) throw forbidden(`${path.basename(p) || 'this file'} was not chosen in Restora`);
    const st = await fsp.stat(real);
    const etag = `"${st.size.toString(16)}-${Math.round(st.mtimeMs).toString(16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': mimeTypes[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'private, no-cache',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      ETag: etag,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(real).pipe(res);
  }

  async function serveCall(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (!isCallName(name)) throw new RestoraError('E_USAGE', `unknown call ${name}`);
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    let args: unknown;
    if (name === 'mask.save') {
      if (type !== 'application/octet-stream') throw Object.assign(new RestoraError('E_USAGE', 'mask.save takes PNG bytes as application/octet-stream'), { status: 415 });
      const body = await readBody(req, MASK_LIMIT);
      const draft = url.searchParams.get('draft') === '1';
      args = { forPath: url.searchParams.get('forPath') ?? '', png: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), ...(draft ? { draft } : {}) };
    } else {
      // a cross-site <form> can only send urlencoded, multipart or text/plain: requiring JSON keeps it out
      if (type !== 'application/json') throw Object.assign(new RestoraError('E_USAGE', 'calls take a JSON body (application/json)'), { status: 415 });
      const body = await readBody(req, JSON_LIMIT);
      try {
        args = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        throw new RestoraError('E_USAGE', `${name}: the body is not valid JSON`);
      }
    }
    const result = await dispatch(handlers, name, args);
    sendJson(res, 200, { result });
  }

  async function serveUpload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const rel = safeRelPath(url.searchParams.get('name') ?? '');
    if (!rel) throw new RestoraError('E_USAGE', 'upload: a file name is required');
    let dir = url.searchParams.get('dir') ?? '';
    if (dir) {
      if (!uploadDirs.has(dir)) throw forbidden('upload: unknown upload folder');
    } else {
      dir = randomUUID();
      uploadDirs.add(dir);
    }
    const root = path.join(uploadsDir, dir);
    const target = path.join(root, rel);
    const body = await readBody(req, UPLOAD_LIMIT);
    // never replace: an upload of the same name gets a fresh one beside it
    let final = target;
    for (let i = 1; ; i++) {
      try {
        await fsp.access(final);
        const ext = path.extname(target);
        final = `${target.slice(0, target.length - ext.length)}-${i}${ext}`;
      } catch {
        break;
      }
    }
    await writeFileAtomic(final, body);
    sendJson(res, 200, { dir, root, path: final });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      throw new RestoraError('E_USAGE', 'bad URL');
    }
    const denied = gate(req, url);
    if (denied) {
      sendError(res, denied, (denied as RestoraError & { status?: number }).status ?? 403);
      req.resume();
      return;
    }
    const method = req.method ?? 'GET';
    const { pathname } = url;
    if (pathname.startsWith('/api/call/')) {
      if (method !== 'POST') throw Object.assign(new RestoraError('E_USAGE', 'calls are POST'), { status: 405 });
      return serveCall(req, res, url, safeDecode(pathname.slice('/api/call/'.length)));
    }
    if (pathname === '/upload') {
      if (method !== 'POST') throw Object.assign(new RestoraError('E_USAGE', 'uploads are POST'), { status: 405 });
      return serveUpload(req, res, url);
    }
    if (method !== 'GET' && method !== 'HEAD') throw Object.assign(new RestoraError('E_USAGE', `${method} not allowed`), { status: 405 });
    if (pathname === '/files') return serveFile(req, res, url);
    if (pathname === '/' || pathname === '/index.html' || pathname.startsWith('/assets/') || pathname === '/favicon.svg') {
      return serveStatic(req, res, pathname === '/index.html' ? '/' : pathname, pathname === '/' || pathname === '/index.html');
    }
    throw new RestoraError('E_NOT_FOUND', `${pathname} not found`);
  }

  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(securityHeaders)) res.setHeader(k, v);
    route(req, res).catch((e: unknown) => {
      const status = (e as { status?: number }).status;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (status === 413) {
        // The rest of a too-large body would be read as the next request, so the connection goes.
        // Not at once: closing a socket with unread input sends a reset, which can wipe the 413
        // from the client's buffer before it is read. Half-close, discard what is still coming,
        // and cut it off after 2 s for a client that keeps sending.
        res.setHeader('Connection', 'close');
        res.on('finish', () => {
          req.socket.end();
          req.resume();
          setTimeout(() => req.socket.destroy(), 2000).unref();
        });
      } else req.resume();
      sendError(res, e, status);
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // uploads and long calls may take a while; the socket timeout still applies

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => {
      for (const p of protocols) if (p.startsWith('restora.')) return p;
      return false;
    },
  });

  function refuseUpgrade(socket: Duplex, status: number, message: string): void {
    const body = JSON.stringify({ error: { code: 'E_FORBIDDEN', message } });
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Forbidden'}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      refuseUpgrade(socket, 400, 'bad URL');
      return;
    }
    if (url.pathname !== '/ws') {
      refuseUpgrade(socket, 404, 'no such socket');
      return;
    }
    const denied = gate(req, url);
    if (denied) {
      refuseUpgrade(socket, (denied as RestoraError & { status?: number }).status ?? 403, denied.message);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
      // the socket only carries events to the page; anything it sends is ignored
      ws.on('message', () => undefined);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new RestoraError('E_USAGE', `port ${opts.port} is already in use; choose another with --port`)
          : RestoraError.from(e),
      );
    });
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`,
    port,
    token,
    async close() {
      if (closed) return;
      closed = true;
      for (const ws of sockets) ws.terminate();
      sockets.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownEngine) await engine.close();
    },
  };
}
