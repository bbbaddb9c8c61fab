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

  it('weighs the files left by their size where it is known: a 24 MP photo left is not one 1 MP file', () => {
    const e = new EtaEstimator();
    e.add(2, 1); // small photos, 2 s per MP
    e.add(2, 1);
    // two files left, a 24 MP one (size known) and one of unknown size: 48 s + 2 s
    expect(e.estimate({ files: 2, sized: 1, megapixels: 24 })).toBe(50);
    // before any file finished: the running one's own rate, 10 s per MP
    const f = new EtaEstimator();
    expect(f.estimate({ files: 1, sized: 1, megapixels: 6 }, { megapixels: 1, progress: 0.5, elapsed: 5 })).toBe(5 + 60);
  });

  it('before any file finishes, extrapolates the first once it is 5 % in', () => {
    const e = new EtaEstimator();
    expect(e.estimate(3, { progress: 0.01, elapsed: 1 })).toBeNull();
    // 25 % in after 5 s: 20 s per file, 15 s left of this one, 3 more files
    expect(e.estimate(3, { progress: 0.25, elapsed: 5 })).toBe(75);
  });
});
