// Small HTTP helpers for the web-mode server: JSON errors carrying contract codes, bounded bodies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RestoraError, type ErrorCode, type ErrorInfo } from '../contract/index.ts';

export function statusFor(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE':
      return 400;
    case 'E_FORBIDDEN':
      return 403;
    case 'E_NOT_FOUND':
      return 404;
    case 'E_INTERNAL':
      return 500;
    default:
      // the request was fine, the photo or the disk was not: the client reads the code
      return 422;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, status?: number, headers: Record<string, string> = {}): void {
  const e = RestoraError.from(err);
  const info: ErrorInfo = e.toJSON();
  sendJson(res, status ?? statusFor(e.code), { error: info }, headers);
}

export function forbidden(message: string): RestoraError {
  return new RestoraError('E_FORBIDDEN', message);
}

/** Read a request body of at most `limit` bytes; larger bodies fail early with 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(Object.assign(new RestoraError('E_USAGE', `request body too large (limit ${Math.round(limit / 1048576)} MB)`), { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(Object.assign(new RestoraError('E_USAGE', `request body too large (limit ${Math.round(limit / 1048576)} MB)`), { status: 413 }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

export const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.jfif': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
