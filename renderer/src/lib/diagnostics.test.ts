import { describe, expect, it } from 'vitest';
import { Settings, type ModelInfo } from '../../../app/contract/index.ts';
import { DIAGNOSTICS_LIST_MAX, diagnosticsText, redactPaths } from './diagnostics.ts';

const models = [
  { id: 'restora-denoise', task: 'denoise', scale: 1, source: 'bundled', architecture: 'unet' },
  { id: 'my-x4', task: 'upscale', scale: 4, source: 'user', architecture: 'onnx (added)' },
] as ModelInfo[];
const base = {
  info: { version: '0.1.0', mode: 'web' as const, runtime: { requested: 'auto' as const, active: 'cpu' as const, available: ['cpu' as const], threads: 2, fallbackReason: 'no CUDA here' } },
  models,
  settings: Settings.parse({ outputDir: '/home/ana/Restored', quality: 95 }),
  failures: [{ path: '/home/ana/Photos/broken.jpg', error: { code: 'E_DECODE' as const, message: '/home/ana/Photos/broken.jpg is not a JPEG Restora can read' } }],
  errors: [{ at: new Date('2026-12-05T01:02:03.456Z'), text: 'E_USAGE: C:\\Users\\ana\\out is not a folder you added' }],
  userAgent: 'Mozilla/5.0 Chromium',
  now: new Date('2026-12-05T02:00:00Z'),
};

describe('diagnostics', () => {
  it('says what runs where, with which models and settings, and what failed, without folder paths', () => {
    const t = diagnosticsText(base);
    expect(t).toContain('Restora 0.1.0 (web mode), 2026-12-05T02:00:00Z');
    expect(t).toContain('Runtime: cpu, 2 threads (asked for auto; available: cpu); no CUDA here');
    expect(t).toContain('provider auto, threads automatic, tile the model\'s advice, format keep, quality 95, output a chosen folder');
    expect(t).toContain('  restora-denoise · denoise · bundled · unet');
    expect(t).toContain('  my-x4 · upscale x4 · user');
    expect(t).toContain('  broken.jpg: E_DECODE …/broken.jpg is not a JPEG Restora can read');
    expect(t).toContain('  2026-12-05T01:02:03Z E_USAGE: …\\out is not a folder you added');
    expect(t).not.toMatch(/ana/); // the user name in the folder paths never leaves
  });

  it('says "none" when nothing failed, and lists only the newest when many did', () => {
    const quiet = diagnosticsText({ ...base, failures: [], errors: [] });
    expect(quiet).toContain('Failed photos in the queue (0): none');
    expect(quiet).toContain('Errors shown (0): none');
    const many = Array.from({ length: 30 }, (_, i) => ({ at: new Date(0), text: `E_IO: error ${i}` }));
    const t = diagnosticsText({ ...base, errors: many });
    expect(t).toContain(`Errors shown (30, the last ${DIAGNOSTICS_LIST_MAX} listed)`);
    expect(t).toContain('error 29');
    expect(t).not.toContain('error 9\n');
  });

  it('without an answer from the engine it still says what it knows', () => {
    const t = diagnosticsText({ ...base, info: null, models: [] });
    expect(t).toMatch(/^Restora \(version unknown: the engine did not answer\), /);
    expect(t).toContain('Models (0):');
  });

  it('redactPaths keeps the file name and drops the folders, on POSIX and Windows', () => {
    expect(redactPaths('cannot read /Users/bo/Desktop/a b/x.tif now')).toBe('cannot read …/a b/x.tif now'); // a space in a folder name keeps what follows it
    expect(redactPaths('/srv/photos/x.jpg: E_IO')).toBe('…/x.jpg: E_IO');
    expect(redactPaths('D:\\shoots\\2026\\img.cr2 left out')).toBe('…\\img.cr2 left out');
    expect(redactPaths('no path here, σ 25')).toBe('no path here, σ 25');
  });
});
