// The bench's building blocks (its numbers are never asserted: they depend on the machine).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RunnableModel } from '../runtime/index.ts';
import { peakRssMb, resetPeakRss, tilePlan } from './index.ts';
import { synthMask, synthPhoto } from './synth.ts';

describe('bench helpers', () => {
  it('makes a deterministic, photo-like image in [0,1]', () => {
    const a = synthPhoto(96, 64, 1);
    expect(a).toEqual(synthPhoto(96, 64, 1));
    expect(a).not.toEqual(synthPhoto(96, 64, 2));
    let min = 1;
    let max = 0;
    let edges = 0;
    for (let i = 0; i < a.length; i++) {
      min = Math.min(min, a[i]);
      max = Math.max(max, a[i]);
      if (i % 96 && Math.abs(a[i] - a[i - 1]) > 0.2) edges++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.5); // not flat
    expect(edges).toBeGreaterThan(5); // hard edges exist
    expect(edges).toBeLessThan(a.length / 20); // but it is not noise
  });

  it('makes a mask covering about a tenth of the image', () => {
    const m = synthMask(200, 150, 2);
    const cover = m.reduce((s, v) => s + v, 0) / m.length;
    expect(cover).toBeGreaterThanOrEqual(0.1);
    expect(cover).toBeLessThan(0.15);
  });

  it('plans the tiles as the runtime does (tile rounded to the multiple, mirrored edge windows)', () => {
    const model: RunnableModel = { id: 'm', path: 'm.onnx', scale: 1, sizeMultiple: 8, tile: 256, overlap: 32, inputs: [{ name: 'image', role: 'image', channels: 3 }], output: 'out' };
    const one = tilePlan(model, 200, 120);
    expect(one).toMatchObject({ count: 1, windowW: 200, windowH: 120 });
    const many = tilePlan(model, 1000, 1000);
    expect(many.tile).toBe(256);
    expect(many.count).toBeGreaterThan(16);
    expect(tilePlan(model, 1000, 1000, 500).count).toBeLessThan(many.count);
  });

  it('reads (and on Linux resets) the peak RSS', () => {
    expect(peakRssMb()).toBeGreaterThan(10);
    if (process.platform === 'linux') {
      const junk = new Float64Array(64 * 1024 * 1024 / 8).fill(1); // 64 MB touched
      const high = peakRssMb();
      expect(junk[123]).toBe(1);
      expect(high).toBeGreaterThan(64);
      expect(resetPeakRss()).toBe(true);
      // right after a reset the peak is the current resident size, not the old high-water mark
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]) / 1024;
      expect(Math.abs(peakRssMb() - rss)).toBeLessThan(16);
    }
  });
});
