// Batch ETA from the median seconds per megapixel (and per file) of the files done so far, applied to
// the sizes of the files left (read from their headers):
// medians, because one slow outlier (a cold session, a 100 MP panorama) should not swing it.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export class EtaEstimator {
  // bounded windows: memory stays flat over thousands of files
  private readonly perFile: number[] = [];
  private readonly perMp: number[] = [];
  private readonly window: number;

  constructor(window = 200) {
    this.window = window;
  }

  /** Record a finished file: its wall seconds and megapixels (of its input). */
  add(seconds: number, megapixels: number): void {
    this.perFile.push(seconds);
    if (megapixels > 0) this.perMp.push(seconds / megapixels);
    if (this.perFile.length > this.window) this.perFile.shift();
    if (this.perMp.length > this.window) this.perMp.shift();
  }

  get samples(): number {
    return this.perFile.length;
  }

  /**
   * Seconds left: the files not started, by their size where it is known (`rest.megapixels` of
   * `rest.sized` of them, at the median seconds per megapixel) and at the median seconds per file for
   * the others; plus what is left of the running one at the median seconds per megapixel (its size is
   * known once decoded). A number for `rest` is a count of files of unknown size.
   * @returns null until a file has finished or the first one is 5 % done
   */
  estimate(rest: number | RestOfBatch, current?: { megapixels?: number; progress: number; elapsed?: number }): number | null {
    const r: RestOfBatch = typeof rest === 'number' ? { files: rest, sized: 0, megapixels: 0 } : rest;
    const unsized = Math.max(0, r.files - r.sized);
    if (this.perFile.length === 0) {
      // nothing finished yet: extrapolate the running file once it is a little way in
      if (!current || !current.elapsed || current.progress < 0.05) return null;
      const whole = current.elapsed / current.progress;
      const perMp = current.megapixels ? whole / current.megapixels : NaN;
      const others = Number.isFinite(perMp) ? r.megapixels * perMp + unsized * whole : r.files * whole;
      return Math.max(0, whole * (1 - current.progress) + others);
    }
    const sPerFile = median(this.perFile);
    const sPerMp = this.perMp.length ? median(this.perMp) : NaN;
    let left = Number.isFinite(sPerMp) ? r.megapixels * sPerMp + unsized * sPerFile : r.files * sPerFile;
    if (current) {
      const expected = current.megapixels && Number.isFinite(sPerMp) ? sPerMp * current.megapixels : sPerFile;
      // by progress (tiles), not by elapsed time: a slow file's estimate must not go negative
      left += Math.max(0, expected * (1 - current.progress));
    }
    return Math.max(0, left);
  }
}

/** The files of a batch not started yet: how many, how many of them have a known size, and that size. */
export interface RestOfBatch {
  files: number;
  sized: number;
  megapixels: number;
}
