import { describe, expect, it } from 'vitest';
import type { EventPayload } from '../contract/index.ts';
import { BatchProgress, nothingFound } from './progress.ts';

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, out: { write: (s: string) => void chunks.push(s), isTTY, columns: 80 } };
}

const batch = (done: number, failed: number, progress: number, eta: number | null): EventPayload<'batch.progress'> => ({ batchId: 'b', total: 3, done, failed, progress, etaSeconds: eta });
const file = (index: number, input: string, status: EventPayload<'file.progress'>['status'], extra: Partial<EventPayload<'file.progress'>> = {}): EventPayload<'file.progress'> => ({
  batchId: 'b', index, input, status, progress: status === 'running' ? 0.5 : 1, ...extra,
});

function feed(p: BatchProgress) {
  p.onEvent('batch.progress', batch(0, 0, 0, null));
  p.onEvent('file.progress', file(0, '/w/a.jpg', 'running'));
  p.onEvent('file.progress', file(0, '/w/a.jpg', 'done', { output: '/w/restored/a.jpg' }));
  p.onEvent('batch.progress', batch(1, 0, 1 / 3, 20));
  p.onEvent('file.progress', file(1, '/w/b.jpg', 'failed', { error: { code: 'E_DECODE', message: 'b.jpg is not a readable image (truncated JPEG)' } }));
  p.onEvent('batch.progress', batch(1, 1, 2 / 3, 10));
  p.onEvent('file.progress', file(2, '/w/c.jpg', 'skipped', { output: '/w/restored/c.jpg' }));
  p.finish();
}

describe('BatchProgress', () => {
  it('--json: one JSON line per finished file on stdout, nothing else there', () => {
    const o = sink();
    const e = sink();
    feed(new BatchProgress({ stdout: o.out, stderr: e.out, json: true, cwd: '/w' }));
    const lines = o.chunks.join('').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { type: 'file', index: 0, input: '/w/a.jpg', status: 'done', output: '/w/restored/a.jpg' },
      { type: 'file', index: 1, input: '/w/b.jpg', status: 'failed', error: { code: 'E_DECODE', message: 'b.jpg is not a readable image (truncated JPEG)' } },
      { type: 'file', index: 2, input: '/w/c.jpg', status: 'skipped', output: '/w/restored/c.jpg' },
    ]);
    expect(e.chunks.join('')).toBe('');
  });

  it('no TTY: plain lines on stderr, one per file', () => {
    const o = sink();
    const e = sink(false);
    feed(new BatchProgress({ stdout: o.out, stderr: e.out, json: false, cwd: '/w' }));
    expect(o.chunks).toEqual([]);
    expect(e.chunks.join('')).toBe(
      '[1/3] done a.jpg -> restored/a.jpg\n[2/3] failed b.jpg: E_DECODE: b.jpg is not a readable image (truncated JPEG)\n[3/3] skipped c.jpg (already done: restored/c.jpg)\n',
    );
  });

  it('a done line says when the output was numbered because its name was taken (--json: renamed)', () => {
    const e = sink(false);
    new BatchProgress({ stdout: sink().out, stderr: e.out, json: false, cwd: '/w' }).onEvent('file.progress', file(0, '/w/a.jpg', 'done', { output: '/w/restored/a-1.jpg', renamed: true }));
    expect(e.chunks.join('')).toBe('done a.jpg -> restored/a-1.jpg; numbered: the name was taken\n');
    const o = sink();
    new BatchProgress({ stdout: o.out, stderr: sink().out, json: true, cwd: '/w' }).onEvent('file.progress', file(0, '/w/a.jpg', 'done', { output: '/w/restored/a-1.jpg', renamed: true }));
    expect(JSON.parse(o.chunks.join(''))).toMatchObject({ status: 'done', output: '/w/restored/a-1.jpg', renamed: true });
  });

  it('a done line shows the noise level a denoise step used, and whether Auto estimated it', () => {
    const e = sink(false);
    const p = new BatchProgress({ stdout: sink().out, stderr: e.out, json: false, cwd: '/w' });
    p.onEvent('file.progress', file(0, '/w/a.jpg', 'done', { output: '/w/restored/a.jpg', steps: [{ task: 'denoise', model: 'm', ep: 'cpu', sigma: 3.42, sigmaBy: 'estimator' }, { task: 'upscale', model: 'u', ep: 'cpu', scale: 2 }] }));
    p.onEvent('file.progress', file(1, '/w/b.jpg', 'done', { output: '/w/restored/b.jpg', steps: [{ task: 'denoise', model: 'm', ep: 'cpu', sigma: 15, sigmaBy: 'given' }], notes: ['transparency flattened onto white (JPEG has none)'] }));
    p.onEvent('file.progress', file(2, '/w/c.jpg', 'done', { output: '/w/restored/c.jpg', steps: [{ task: 'denoise', model: 'm', ep: 'cpu', sigma: 8.1, sigmaBy: 'estimator', passes: 8 }, { task: 'upscale', model: 'u', ep: 'cpu', passes: 8, scale: 4 }] }));
    expect(e.chunks.join('')).toBe(
      'done a.jpg -> restored/a.jpg (denoise σ 3.4, estimated; upscale ×2)\ndone b.jpg -> restored/b.jpg (denoise σ 15.0); transparency flattened onto white (JPEG has none)\ndone c.jpg -> restored/c.jpg (denoise σ 8.1, estimated, 8 passes; upscale ×4, 8 passes)\n',
    );
  });

  it('TTY: a redrawn bar with counts and ETA; failures scroll above it; cleared at the end', () => {
    const o = sink();
    const e = sink(true);
    feed(new BatchProgress({ stdout: o.out, stderr: e.out, json: false, cwd: '/w' }));
    const text = e.chunks.join('');
    expect(text).toContain('\r\x1b[2K[');
    expect(text).toMatch(/\[#{8}-{16}\]\s+33% 1\/3 files {2}ETA 20s/);
    expect(text).toContain('failed b.jpg: E_DECODE');
    expect(text).toMatch(/1 failed/);
    expect(text.endsWith('\r\x1b[2K')).toBe(true);
    for (const c of e.chunks) expect(c.replace('\r\x1b[2K', '').length).toBeLessThan(120);
  });
});

describe('nothingFound', () => {
  it('a folder with no image says what was left out, in the batch summary\'s words', () => {
    expect(nothingFound(['nophotos'], { files: 3, byExtension: { '.cr2': 1, '.gif': 1, '.txt': 1 }, folders: 0 })).toBe(
      'No image files found in nophotos.\nLeft out: 3 files that are not images Restora reads (.cr2 1, .gif 1, .txt 1).\n',
    );
    // sub-folders: the hint to add -r, said once
    expect(nothingFound(['card'], { files: 1, byExtension: { '.cr2': 1 }, folders: 2 })).toBe(
      'No image files found in card. It has sub-folders: add -r to include them.\nLeft out: 1 file that is not an image Restora reads (.cr2 1).\n',
    );
    expect(nothingFound(['empty', 'x'], undefined)).toBe('No image files found in empty, x.\n');
  });
});
