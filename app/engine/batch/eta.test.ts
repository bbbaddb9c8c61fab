import { describe, expect, it } from 'vitest';
import { EtaEstimator, median } from './eta.ts';

describe('EtaEstimator', () => {
  it('uses medians, so one slow outlier does not swing the estimate', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const e = new EtaEstimator();
    expect(e.estimate(10)).toBeNull();
    e.add(2, 1); // 2 s per file, 2 s per MP
    e.add(2, 1);
    e.add(60, 1); // a cold start
    expect(e.estimate(10)).toBe(20);
    // the running file: 4 MP at 2 s/MP, half done -> 4 s left
    expect(e.estimate(10, { megapixels: 4, progress: 0.5 })).toBe(24);
  });

  it('before any file finishes, extrapolates the first once it is 5 % in', () => {
    const e = new EtaEstimator();
    expect(e.estimate(3, { progress: 0.01, elapsed: 1 })).toBeNull();
    // 25 % in after 5 s: 20 s per file, 15 s left of this one, 3 more files
    expect(e.estimate(3, { progress: 0.25, elapsed: 5 })).toBe(75);
  });
});
