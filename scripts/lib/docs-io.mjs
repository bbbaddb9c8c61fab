// Shared by the report scripts (quality-report.mjs, speed-report.mjs): atomic writes of the files
// they regenerate, and the README section between <!-- NAME:start --> and <!-- NAME:end -->.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Write `text` to `file` through a temp file and a rename, so a reader never sees half of it. */
export function atomicWrite(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Replace the README section `name` with `make(old)`, where `old` is the current text between
 * the markers; nothing happens when the file or its markers are missing.
 */
export function replaceSection(readme, name, make) {
  if (!existsSync(readme)) return;
  const text = readFileSync(readme, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const a = text.indexOf(start);
  const z = text.indexOf(`<!-- ${name}:end -->`);
  if (a < 0 || z <= a) return;
  atomicWrite(readme, text.slice(0, a) + start + '\n' + make(text.slice(a + start.length, z)) + text.slice(z));
}
