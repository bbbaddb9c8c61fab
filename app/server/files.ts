// Which file a GET /files request may read. The grant table (app/host/grants.ts, shared with the
// Electron host) decides containment on real paths; here we add what only a URL can bring: the raw
// path must be absolute, without NUL and without `..` segments (even ones that would resolve back
// inside), and it must name an existing regular file.
import fs from 'node:fs';
import path from 'node:path';
import type { GrantSet } from '../host/grants.ts';

/** Refused before any file-system call: relative, NUL, `..` segments, absurd length. */
export function isSuspiciousPath(p: string): boolean {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) return true;
  if (p.includes('\0')) return true;
  if (!path.isAbsolute(p)) return true;
  return p.split(/[\\/]+/).some((seg) => seg === '..');
}

/** The real path to open for `p`, or undefined when it is not a granted, existing regular file. */
export function resolveServable(grants: GrantSet, p: string): string | undefined {
  if (isSuspiciousPath(p)) return undefined;
  let real: string;
  try {
    real = fs.realpathSync.native(p);
    if (!fs.statSync(real).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return grants.isGranted(real) ? real : undefined;
}

/** Names a client sends for uploads become safe path segments; the server decides the folder. */
export function safeRelPath(rel: string): string | undefined {
  if (typeof rel !== 'string' || rel.length === 0 || rel.length > 1024 || rel.includes('\0')) return undefined;
  const segs = rel
    .split(/[\\/]+/)
    .filter((s) => s.length > 0)
    // eslint-disable-next-line no-control-regex
    .map((s) => s.replace(/[\u0000-\u001f<>:"|?*]/g, '_').slice(0, 200));
  if (segs.length === 0 || segs.length > 32) return undefined;
  if (segs.some((s) => s === '.' || s === '..' || /^\.+$/.test(s))) return undefined;
  return segs.join(path.sep);
}
