// "Copy diagnostics" (Settings): what a bug report needs, as plain text the user reads before
// pasting it anywhere. Nothing is sent by Restora. Folder paths are left out (they can hold a
// user name); photos are named by file name only.
import type { ErrorInfo, ModelInfo, RuntimeInfo, Settings } from '../../../app/contract/index.ts';
import { basename } from './format.ts';

export interface DiagnosticsInput {
  info: { version: string; mode: 'electron' | 'web'; runtime: RuntimeInfo } | null;
  models: readonly ModelInfo[];
  settings: Settings;
  /** photos of the queue that failed, with their error */
  failures: readonly { path: string; error: ErrorInfo }[];
  /** errors this window showed, oldest first */
  errors: readonly { at: Date; text: string }[];
  userAgent: string;
  now: Date;
}

/**
 * Folder paths in a message, cut to their last part: `/home/ana/Photos/x.jpg` -> `…/x.jpg`,
 * `C:\\Users\\ana\\x.jpg` -> `…\\x.jpg` (a user name often sits in a path).
 */
export function redactPaths(text: string): string {
  return text.replace(/(?:[A-Za-z]:)?([\\/])(?:[^\s\\/:*?"<>|]+[\\/])+(?=[^\s\\/]+)/g, '…$1');
}

/** At most this many failed photos and shown errors are listed (the newest). */
export const DIAGNOSTICS_LIST_MAX = 20;

export function diagnosticsText(d: DiagnosticsInput): string {
  const lines: string[] = [];
  const time = (t: Date) => t.toISOString().replace(/\.\d+Z$/, 'Z');
  lines.push(`Restora ${d.info?.version ?? '(version unknown: the engine did not answer)'}${d.info ? ` (${d.info.mode === 'web' ? 'web mode' : 'desktop app'})` : ''}, ${time(d.now)}`);
  lines.push(`Browser: ${d.userAgent}`);
  if (d.info) {
    const r = d.info.runtime;
    lines.push(`Runtime: ${r.active}${r.threads ? `, ${r.threads} threads` : ''} (asked for ${r.requested}; available: ${r.available.join(', ')})${r.fallbackReason ? `; ${r.fallbackReason}` : ''}`);
  }
  const s = d.settings;
  lines.push(`Settings: provider ${s.ep}, threads ${s.threads || 'automatic'}, tile ${s.tile || "the model's advice"}, format ${s.format}, quality ${s.quality}, output ${s.outputDir ? 'a chosen folder' : 'a "restored" folder beside the photos'}`);
  lines.push(`Models (${d.models.length}):`);
  for (const m of d.models) lines.push(`  ${m.id} · ${m.task}${m.task === 'upscale' ? ` x${m.scale}` : ''} · ${m.source} · ${m.architecture}`);
  const fails = d.failures.slice(-DIAGNOSTICS_LIST_MAX);
  lines.push(`Failed photos in the queue (${d.failures.length}${d.failures.length > fails.length ? `, the last ${fails.length} listed` : ''}):${fails.length ? '' : ' none'}`);
  for (const f of fails) lines.push(`  ${basename(f.path)}: ${f.error.code} ${redactPaths(f.error.message)}`);
  const errs = d.errors.slice(-DIAGNOSTICS_LIST_MAX);
  lines.push(`Errors shown (${d.errors.length}${d.errors.length > errs.length ? `, the last ${errs.length} listed` : ''}):${errs.length ? '' : ' none'}`);
  for (const e of errs) lines.push(`  ${time(e.at)} ${redactPaths(e.text)}`);
  return lines.join('\n') + '\n';
}
