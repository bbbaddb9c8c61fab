// Request checks for web mode. A loopback server is reachable by every page the user's browser
// opens, so each request must prove it comes from our own page: right Host (DNS rebinding), own
// Origin (cross-site requests and WebSockets skip CORS), and the per-launch token.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-restora-token';

/** A fresh random token: 32 bytes, base64url (43 characters, URL-safe). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The only Host values we answer: `127.0.0.1:PORT` and `localhost:PORT` (case-insensitive). */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function isAllowedHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  return allowedHosts(port).includes(host.trim().toLowerCase());
}

/**
 * The Origin must be our own: `http://<the request's Host>`. A request without Origin is allowed
 * (curl, the CLI, same-origin GETs); it still needs the token. `null` (sandboxed frames, file://)
 * is foreign.
 */
export function isAllowedOrigin(origin: string | undefined, host: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  if (!host || !isAllowedHost(host, port)) return false;
  return origin.trim().toLowerCase() === `http://${host.trim().toLowerCase()}`;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
export function tokenMatches(given: string | undefined | null, token: string): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieName(port: number): string {
  // Cookies are scoped by host, not port: name them by port so two servers never share one.
  return `restora_token_${port}`;
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export type TokenSource = 'header' | 'query' | 'cookie' | 'protocol';

/** Where the request carries a valid token, if anywhere. */
export function findToken(req: IncomingMessage, url: URL, token: string, port: number): TokenSource | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (tokenMatches(Array.isArray(header) ? header[0] : header, token)) return 'header';
  if (tokenMatches(url.searchParams.get('token'), token)) return 'query';
  if (tokenMatches(readCookie(req, cookieName(port)), token)) return 'cookie';
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',')) {
      const t = p.trim();
      if (t.startsWith('restora.') && tokenMatches(t.slice('restora.'.length), token)) return 'protocol';
    }
  }
  return undefined;
}

/**
 * Content-Security-Policy for the page: no inline script or style, images only from ourselves
 * (the /files endpoint) or blobs the page made (mask overlay), sockets only to ourselves.
 */
export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const securityHeaders: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};
