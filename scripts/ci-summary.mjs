#!/usr/bin/env node
// Adds up the closing lines of vitest, pytest, the reliability runner and Playwright into one
// "N passed, M failed, K skipped" line (the last line CI prints). Exit 1 when a log has no
// recognisable summary (a suite that ran nothing is a failure, not a pass) or when anything failed.
import { readFileSync } from 'node:fs';

// eslint-disable-next-line no-control-regex
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
let bad = 0;

for (const file of process.argv.slice(2)) {
  let text;
  try {
    text = strip(readFileSync(file, 'utf8'));
  } catch {
    console.log(`${file}: missing`);
    bad++;
    continue;
  }
  const lines = text.split('\n');
  let p = 0, f = 0, s = 0, found = false;
  // vitest:  "Tests  12 passed | 1 failed | 2 skipped (15)"
  const vit = lines.filter((l) => /^\s*Tests\s+/.test(l)).pop();
  if (vit) {
    found = true;
    p = +(vit.match(/(\d+) passed/)?.[1] ?? 0);
    f = +(vit.match(/(\d+) failed/)?.[1] ?? 0);
    s = +(vit.match(/(\d+) skipped/)?.[1] ?? 0) + +(vit.match(/(\d+) todo/)?.[1] ?? 0);
  } else {
    // pytest "==== 10 passed, 1 skipped in 3.2s ====", playwright "  7 passed (1.2m)" / "2 skipped",
    // our runner "N passed, M failed"
    for (const l of lines) {
      const mp = l.match(/(\d+) passed/);
      const mf = l.match(/(\d+) failed/);
      const ms = l.match(/(\d+) skipped/);
      const mfl = l.match(/(\d+) flaky/);
      if (mp || mf || ms) found = true;
      if (mp) p = Math.max(p, +mp[1]);
      if (mf) f = Math.max(f, +mf[1]);
      if (ms) s = Math.max(s, +ms[1]);
      if (mfl) p += 0; // flaky tests passed on retry; counted in passed by playwright's own line
    }
    const err = lines.some((l) => /^\s*\d+ error/.test(l) || /= \d+ error/.test(l));
    if (err) f = Math.max(f, 1);
  }
  if (!found) {
    console.log(`${file}: no test summary found`);
    bad++;
  } else {
    console.log(`${file}: ${p} passed, ${f} failed, ${s} skipped`);
  }
  passed += p;
  failed += f;
  skipped += s;
}
failed += bad;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
