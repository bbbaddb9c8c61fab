import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../contract/index.ts';
import { cardText, version } from './main.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('cardText', () => {
  const model: ModelInfo = { id: 'm', task: 'denoise', name: 'M', scale: 1, source: 'bundled', architecture: 'unet', license: 'MIT', metrics: {} };

  it('pads the measured metrics to the longest key + 2: a long key never runs into its value', () => {
    const text = cardText({ ...model, metrics: { 'Kodak24/sigma25/psnr': 31.5, 'Kodak24/sigma25/passes8/psnr': 32.02, 'McMaster/sigma25/passes8/ssim': 0.8829 } });
    const rows = text.split('\n').filter((l) => /^ {2}\S/.test(l));
    expect(rows).toEqual([
      '  Kodak24/sigma25/psnr           31.5',
      '  Kodak24/sigma25/passes8/psnr   32.02',
      '  McMaster/sigma25/passes8/ssim  0.8829',
    ]);
    expect(cardText({ ...model, metrics: { psnr: 30 } })).toContain('\n  psnr  30\n');
  });
});

describe('version', () => {
  it("is package.json's", () => {
    expect(version()).toBe((JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version);
  });
});
