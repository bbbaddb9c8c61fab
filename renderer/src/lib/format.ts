// Numbers as a photographer reads them.

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return 'estimating…';
  if (seconds < 1) return 'less than a second left';
  if (seconds < 60) return `about ${Math.round(seconds)} s left`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    return s >= 5 && m < 10 ? `about ${m} min ${s} s left` : `about ${Math.round(seconds / 60)} min left`;
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return `about ${h} h ${m} min left`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1048576).toFixed(1)} MB`;
  return `${(n / 1073741824).toFixed(2)} GB`;
}

export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

export function formatSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

export function formatPercent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)} %`;
}

/** Card metric keys are like `kodak24_sigma25_psnr`; show them as `kodak24 sigma25 PSNR`. */
export function metricLabel(key: string): string {
  return key
    .split(/[_\s]+/)
    .map((w) => (/^(psnr|ssim|lpips)$/i.test(w) ? w.toUpperCase() : w))
    .join(' ');
}

export function metricValue(key: string, v: number): string {
  if (/psnr/i.test(key)) return `${v.toFixed(2)} dB`;
  if (/ssim/i.test(key)) return v.toFixed(4);
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

export function megapixels(w: number, h: number): string {
  return `${((w * h) / 1e6).toFixed(1)} MP`;
}

export function basename(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

export function dirname(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i > 0 ? p.slice(0, i) : p;
}
