// The read-only restora:// protocol (protocol.handle). One origin, restora://app:
//   restora://app/<asset>            the built UI (renderer/dist), contained in that folder
//   restora://app/files?path=<abs>   a file of the current jobs: inputs the user chose, outputs,
//                                    previews, display copies, masks (the grant set), nothing else
// Containment is by real path (symlinks resolved, `..` normalised, the query decoded exactly once),
// so `..`, %2e%2e, %252e%252e, symlinks and ungranted siblings all end in 403/404. Only GET/HEAD.
// Uses the fetch API's Request/Response (global in Node and in Electron main), no electron import.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { APP_HOST, FILES_PATH, SCHEME } from '../host/file-url.ts';
import { isInside, realPath } from '../host/grants.ts';
import { CSP } from './security.ts';

export interface GrantCheck {
  isGranted(p: string): boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

const baseHeaders = (): Record<string, string> => ({
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
});

function status(code: number, text: string): Response {
  return new Response(text, { status: code, headers: { ...baseHeaders(), 'Content-Type': 'text/plain; charset=utf-8' } });
}

function fileResponse(real: string, method: string, extra: Record<string, string>): Response {
  const st = fs.statSync(real);
  const ext = path.extname(real).toLowerCase();
  // SVG can carry script: never served as SVG from the user's files, only from the app bundle
  const type = TYPES[ext] ?? 'application/octet-stream';
  const headers = { ...baseHeaders(), 'Content-Type': type, 'Content-Length': String(st.size), ...extra };
  if (method === 'HEAD') return new Response(null, { status: 200, headers });
  const body = Readable.toWeb(fs.createReadStream(real)) as unknown as ReadableStream<Uint8Array>;
  return new Response(body, { status: 200, headers });
}

function regularFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface ProtocolOptions {
  /** Folder of the built UI (renderer/dist). */
  appRoot: string;
  grants: GrantCheck;
}

/** The handler for protocol.handle('restora', ...). */
export function createProtocolHandler(opts: ProtocolOptions): (req: Request) => Promise<Response> {
  const appRootReal = realPath(opts.appRoot);
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return status(405, 'read-only');
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return status(400, 'bad url');
    }
    if (url.protocol !== `${SCHEME}:` || url.host !== APP_HOST) return status(404, 'not found');

    if (url.pathname === FILES_PATH) {
      const p = url.searchParams.get('path');
      if (!p || p.includes('\0') || !path.isAbsolute(p)) return status(400, 'bad path');
      const real = realPath(p);
      if (!opts.grants.isGranted(real)) return status(403, 'not a file of the current jobs');
      if (!regularFile(real)) return status(404, 'not found');
      const ext = path.extname(real).toLowerCase();
      const extra: Record<string, string> = { 'Cache-Control': 'no-store' };
      if (ext === '.svg') extra['Content-Type'] = 'application/octet-stream';
      return fileResponse(real, req.method, extra);
    }

    // the UI: the URL parser has already normalised `..` segments; decode once, then contain by real path
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return status(400, 'bad path');
    }
    if (rel.includes('\0')) return status(400, 'bad path');
    if (rel === '/' || rel === '') rel = '/index.html';
    const real = realPath(path.join(appRootReal, rel));
    if (!isInside(appRootReal, real) || real === appRootReal) return status(403, 'outside the app');
    if (!regularFile(real)) return status(404, 'not found');
    const extra: Record<string, string> = {};
    if (path.extname(real).toLowerCase() === '.html') {
      extra['Content-Security-Policy'] = CSP;
      extra['Cache-Control'] = 'no-cache';
    }
    return fileResponse(real, req.method, extra);
  };
}

/** For protocol.registerSchemesAsPrivileged, before app ready. */
export const SCHEME_PRIVILEGES = {
  scheme: SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, stream: true, codeCache: true },
} as const;
