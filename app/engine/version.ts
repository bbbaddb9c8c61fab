// Restora's version, read once from its package.json (two folders above this file, as in the repository
// and in the packaged app). One reader for the CLI, web mode and what the engine writes into outputs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The version in package.json, or '0.0.0' when it cannot be read. */
export function restoraVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
      cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
